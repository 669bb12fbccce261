#!/bin/sh
# compare.sh: run latency, throughput and concurrency against ringexecd and,
# when $CODEX_BIN names a codex binary, against `codex exec-server` in the
# same run (interleaved), then print one markdown table of medians.
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

# bench NAME RUN PROGRAM ARGS...: one example against one server, figures to its kv file.
bench() {
	name=$1
	run=$2
	prog=$3
	shift 3
	url=$(cat "$tmp/$name.url")
	echo "== $prog vs $name (run $run)" >&2
	if ! BENCH_KV="$tmp/$name.$run.kv" BENCH_SERVER_PID=$(cat "$tmp/$name.pid") \
		"$build/examples/$prog" "$url" "$@" >"$tmp/$name.$run.$prog.txt"; then
		echo "compare: $prog failed against $name" >&2
		cat "$tmp/$name.$run.$prog.txt" >&2
		exit 1
	fi
	cat "$tmp/$name.$run.$prog.txt" >&2
}

run=1
while [ $run -le "$runs" ]; do
	for s in $servers; do bench "$s" $run latency "$lat_n" "$keys"; done
	for s in $servers; do bench "$s" $run throughput "$pipe_mib" "$pty_mib"; done
	for s in $servers; do bench "$s" $run concurrency "$n_true" "$n_sleep"; done
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
	start_closed_read_p50_us pty_first_output_p50_us pty_closed_p50_us \
	keystroke_p50_us keystroke_p99_us keystroke_x_ping \
	floor_pipe_MBps pipe_MBps pipe_client_cpu_pct floor_pty_MBps pty_MBps pty_pct_of_floor \
	pty_client_cpu_pct true_starts_per_s cpu_ms_per_1000_starts sleep_all_started_ms \
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
