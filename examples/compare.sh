#!/bin/sh
# compare.sh: run latency, throughput and concurrency against ringexecd and,
# when $CODEX_BIN names a codex binary, against `codex exec-server` in the
# same run (interleaved), then print one markdown table of medians. latency
# and throughput also run against ringexecd with binary output frames
# (BENCH_BINARY=1, PROTOCOL §5a); those figures are the bin_ rows. The
# sandboxed_ rows run /bin/true under codex's workspace-write policy (the
# reference enforces it with its own helper and bubblewrap).
#
# Usage: examples/compare.sh [BUILD_DIR]   (default: ./build)
# Env: RINGEXECD (default BUILD_DIR/ringexecd), CODEX_BIN (optional),
#      RUNS (3), LAT_N (200), KEYS (2000), PIPE_MIB (256), PTY_MIB (32),
#      N_TRUE (1000), N_SLEEP (256).
set -eu

build=${1:-build}
ringexecd=${RINGEXECD:-$build/ringexecd}
runs=${RUNS:-3}
lat_n=${LAT_N:-200}
keys=${KEYS:-2000}
pipe_mib=${PIPE_MIB:-256}
pty_mib=${PTY_MIB:-32}
n_true=${N_TRUE:-1000}
n_sleep=${N_SLEEP:-256}
tmp=$(mktemp -d)
pids=""

cleanup() {
	for p in $pids; do
		kill "$p" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# start NAME CMD...: run a server, wait for its ws:// URL line, remember pid and URL.
start() {
	name=$1
	shift
	"$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	pid=$!
	pids="$pids $pid"
	i=0
	while ! grep -q 'ws://' "$tmp/$name.out" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 200 ] || ! kill -0 "$pid" 2>/dev/null; then
			echo "compare: $name did not print its URL" >&2
			cat "$tmp/$name.err" >&2
			exit 1
		fi
		sleep 0.05
	done
	grep -o 'ws://[^ ]*' "$tmp/$name.out" | head -n 1 >"$tmp/$name.url"
	echo "$pid" >"$tmp/$name.pid"
	sleep 0.3
	# idle RSS: after start-up, before any client
	awk '/^VmRSS:/ { print "rss_kb_idle\t" $2 }' "/proc/$pid/status" >>"$tmp/$name.idle"
}

servers="ring"
start ring "$ringexecd" --listen ws://127.0.0.1:0 --session-ttl 0
if [ -n "${CODEX_BIN:-}" ]; then
	start ref "$CODEX_BIN" exec-server --listen ws://127.0.0.1:0
	servers="ring ref"
fi

# bench NAME RUN MODE PROGRAM ARGS...: one example against one server, figures to its kv
# file; MODE is json or bin (binary output frames).
bench() {
	name=$1
	run=$2
	mode=$3
	prog=$4
	shift 4
	url=$(cat "$tmp/$name.url")
	echo "== $prog vs $name (run $run, $mode)" >&2
	out="$tmp/$name.$run.$mode.$prog.txt"
	if ! BENCH_BINARY=$([ "$mode" = bin ] && echo 1 || echo 0) BENCH_KV="$tmp/$name.$run.kv" \
		BENCH_SERVER_PID=$(cat "$tmp/$name.pid") "$build/examples/$prog" "$url" "$@" >"$out"; then
		echo "compare: $prog failed against $name" >&2
		cat "$out" >&2
		exit 1
	fi
	cat "$out" >&2
}

run=1
while [ $run -le "$runs" ]; do
	for s in $servers; do bench "$s" $run json latency "$lat_n" "$keys"; done
	bench ring $run bin latency "$lat_n" "$keys"
	for s in $servers; do bench "$s" $run json throughput "$pipe_mib" "$pty_mib"; done
	bench ring $run bin throughput "$pipe_mib" "$pty_mib"
	for s in $servers; do bench "$s" $run json concurrency "$n_true" "$n_sleep"; done
	run=$((run + 1))
done

# median NAME KEY: the median over runs of one figure ("-" when absent).
median() {
	cat "$tmp/$1".*.kv "$tmp/$1.idle" 2>/dev/null | awk -F '\t' -v k="$2" '$1 == k { print $2 }' |
		sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo
echo "Medians of $runs runs; ratio = ringexecd / reference."
echo
echo "| figure | ringexecd | reference | ratio |"
echo "| --- | ---: | ---: | ---: |"
for key in floor_vfork_p50_us floor_ping_p50_us start_response_events_p50_us \
	start_closed_events_p50_us start_closed_events_p99_us start_closed_events_x_vfork \
	start_closed_read_p50_us sandboxed_start_response_p50_us sandboxed_start_closed_p50_us \
	sandboxed_start_closed_p99_us sandboxed_start_closed_x_vfork \
	pty_first_output_p50_us pty_closed_p50_us \
	keystroke_p50_us keystroke_p99_us keystroke_x_ping \
	bin_pty_first_output_p50_us bin_keystroke_p50_us bin_keystroke_p99_us \
	floor_pipe_MBps pipe_MBps pipe_pct_of_floor pipe_client_cpu_pct \
	bin_floor_pipe_MBps bin_pipe_MBps bin_pipe_pct_of_floor bin_pipe_client_cpu_pct \
	floor_pty_MBps pty_MBps pty_pct_of_floor pty_client_cpu_pct \
	bin_floor_pty_MBps bin_pty_MBps bin_pty_pct_of_floor bin_pty_client_cpu_pct true_starts_per_s cpu_ms_per_1000_starts sleep_all_started_ms \
	sleep_all_closed_ms rss_kb_idle rss_kb_connected_idle rss_kb_live; do
	a=$(median ring $key)
	b=-
	case " $servers " in *" ref "*) b=$(median ref $key) ;; esac
	awk -v k="$key" -v a="$a" -v b="$b" 'BEGIN {
		r = "-"
		if (a != "-" && b != "-" && b + 0 != 0) r = sprintf("%.3g", a / b)
		printf "| %s | %s | %s | %s |\n", k, a, b, r
	}'
done
