#!/usr/bin/env python3
"""Count the TAP cases of a meson test run: prints 'N passed, N failed[, N skipped]'.

Reads meson-logs/testlog.json. Every 'ok'/'not ok' line of a test's output is
one case; a test that failed without reporting a failed case (a crash, a
timeout) counts as one more failure. Exits 1 when anything failed.
"""
import json
import re
import sys

def main(path):
    passed = failed = skipped = 0
    with open(path) as f:
        for line in f:
            t = json.loads(line)
            out = t.get('stdout') or ''
            ok = bad = skip = 0
            for l in out.splitlines():
                if re.match(r'^ok \d+', l):
                    if '# SKIP' in l:
                        skip += 1
                    else:
                        ok += 1
                elif re.match(r'^not ok \d+', l):
                    bad += 1
            if t.get('result') not in ('OK', 'EXPECTEDFAIL', 'SKIP') and bad == 0:
                bad = 1
            if ok + bad + skip == 0:
                if t.get('result') == 'SKIP':
                    skip = 1
                elif t.get('result') == 'OK':
                    ok = 1
            passed += ok
            failed += bad
            skipped += skip
    line = f'{passed} passed, {failed} failed'
    if skipped:
        line += f', {skipped} skipped'
    print(line)
    return 1 if failed or passed == 0 else 0

if __name__ == '__main__':
    sys.exit(main(sys.argv[1]))
