#!/usr/bin/env bash
# install_check: `meson install` into a scratch DESTDIR, then check what it put
# there (TAP). Every file meson says it installs is there (the executables
# declared with install : true among them), each executable runs, each man page
# renders without a groff warning, the units name the installed binary and
# pass `systemd-analyze verify` without a word, the seccomp profile parses.
# Usage: install_check.sh BUILD_DIR
set -u
build=$1
dest=$(mktemp -d /tmp/install_check.XXXXXX)
trap 'rm -rf "$dest"' EXIT
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=1; echo "not ok $n - $1"; shift; printf '%s\n' "$@" | sed 's/^/# /'; }
check() { local name=$1; shift; if "$@" >"$dest.out" 2>&1; then ok "$name"; else not_ok "$name" "$(head -c 2000 "$dest.out")"; fi; }

echo "1..7"
check "meson install --destdir" meson install -C "$build" --no-rebuild --quiet --destdir "$dest/root"
prefix=$(meson introspect "$build" --buildoptions | python3 -c \
	'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"))')
root=$dest/root

# What meson installs, by its own account: each file must be there.
installed=$(meson introspect "$build" --installed | python3 -c '
import json, sys
for dst in json.load(sys.stdin).values():
    print(dst)')
missing=
for f in $installed; do
	[ -f "$root$f" ] || missing="$missing $f"
done
if [ -z "$missing" ] && [ -x "$root$prefix/bin/ringexecd" ]; then
	ok "every installed file is there ($(wc -w <<<"$installed") files)"
else
	not_ok "every installed file is there" "missing: $missing"
fi
bins=$(find "$root$prefix/bin" -type f -perm -u+x | sort)
out=
for b in $bins; do
	"$b" --version >/dev/null 2>&1 || out="$out ${b##*/}"
done
if [ -n "$bins" ] && [ -z "$out" ]; then
	ok "each installed executable runs --version:$(for b in $bins; do printf ' %s' "${b##*/}"; done)"
else
	not_ok "each installed executable runs --version" "failed:${out:- none installed}"
fi

# Man pages: each renders as man(1) would (preconv for UTF-8, then groff),
# with a NAME section, and groff has nothing to say.
pages=$(find "$root$prefix/share/man" -type f 2>/dev/null | sort)
bad=
for page in $pages; do
	warn=$(preconv "$page" | groff -man -Tutf8 -ww 2>&1 >/dev/null)
	text=$(preconv "$page" | groff -man -Tutf8 -P-cbou 2>/dev/null)
	if [ -n "$warn" ] || ! grep -q '^NAME' <<<"$text"; then
		bad="$bad $page: ${warn:-no NAME section}"
	fi
done
if [ -n "$pages" ] && [ -z "$bad" ]; then
	ok "man pages render cleanly:$(for p in $pages; do printf ' %s' "${p##*/}"; done)"
else
	not_ok "man pages render cleanly" "pages: ${pages:-none}" "$bad"
fi

units=$root$prefix/lib/systemd/system
if grep -qx "ExecStart=$prefix/bin/ringexecd \$RINGEXECD_OPTS" "$units/ringexecd.service" &&
	grep -qx 'Requires=ringexecd.socket' "$units/ringexecd.service" &&
	grep -qx 'ListenStream=127.0.0.1:8765' "$units/ringexecd.socket"; then
	ok "the units name the installed binary and the README's address"
else
	not_ok "the units name the installed binary and the README's address" \
		"$(grep -h '^ExecStart\|^ListenStream\|^Requires' "$units"/ringexecd.* 2>&1)"
fi

# systemd-analyze verify in a root holding the system's own units (for the
# targets ours refer to) and ours: any line it prints is a problem.
if command -v systemd-analyze >/dev/null && [ -d /usr/lib/systemd/system ]; then
	mkdir -p "$root/usr/lib/systemd"
	cp -a /usr/lib/systemd/system "$root/usr/lib/systemd/"
	out=$(systemd-analyze verify --man=no --root="$root" "$units/ringexecd.service" \
		"$units/ringexecd.socket" 2>&1)
	rc=$?
	if [ $rc -eq 0 ] && [ -z "$out" ]; then
		ok "systemd-analyze verify: nothing to say"
	else
		not_ok "systemd-analyze verify: nothing to say" "rc $rc" "$out"
	fi
else
	ok "systemd-analyze verify # SKIP systemd-analyze is not installed"
fi
check "the seccomp profile is installed and parses" \
	python3 -m json.tool "$root$prefix/share/ringexec/docker/seccomp-io_uring.json"
rm -f "$dest.out"
exit $failed
