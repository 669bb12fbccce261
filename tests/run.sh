#!/usr/bin/env bash
# Build ringexec in BUILD_DIR (default: build) and run every test, unit and
# integration; ends with one line "N passed, N failed" and exits non-zero on
# any failure. Extra arguments go to `meson setup` (e.g. -Db_sanitize=...).
set -u
cd "$(dirname "$0")/.."
builddir=${BUILD_DIR:-build}
if [ ! -d "$builddir" ]; then
	meson setup "$builddir" "$@" >/dev/null || { echo "0 passed, 1 failed"; exit 1; }
fi
ninja -C "$builddir" >/dev/null || { ninja -C "$builddir"; echo "0 passed, 1 failed"; exit 1; }
rm -f "$builddir/meson-logs/testlog.json"
meson test -C "$builddir" --print-errorlogs --num-processes 2
python3 tests/summary.py "$builddir/meson-logs/testlog.json"
