#!/usr/bin/env bash
# unit_proto_seam: proto/'s request path reaches the engine only through the
# engine table (engine/engine_ops.h), checked on what was built and on the sources
# (TAP). conn.c, session.c and methods.c call no proc_, loop_, engine_,
# sandbox_ or spawn_ function (what they may use of engine/ is pure: outlog
# reading, buf, log) and include no engine header but those pure ones and
# engine_ops.h/timer.h.
# Usage: unit_proto_seam.sh LIBPROTO_A SOURCE_ROOT
set -u
lib=$1
src=$2
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=1; echo "not ok $n - $1"; shift; printf '# %s\n' "$@"; }

echo "1..3"
members=$(nm -A -u "$lib" 2>/dev/null | grep -E '(^|[:/])proto_(conn|session|methods)\.c\.o:' )
if [ -z "$members" ]; then
	not_ok "nm lists the objects of conn.c, session.c, methods.c in $lib"
else
	ok "nm lists the objects of conn.c, session.c, methods.c"
fi
calls=$(printf '%s\n' "$members" | awk '{print $NF}' | grep -E '^(proc|loop|engine|sandbox|spawn|seccomp)_' | sort -u)
if [ -z "$calls" ]; then
	ok "conn, session and methods call nothing of the engine outside the table"
else
	not_ok "conn, session and methods call the engine directly" $calls
fi

allowed=" engine_ops.h util.h timer.h outlog.h buf.h log.h "
bad=
for f in proto/conn.c proto/session.c proto/methods.c proto/proto_int.h proto/conn.h; do
	for h in $(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$src/$f"); do
		if [ -e "$src/engine/$h" ] && [[ "$allowed" != *" $h "* ]]; then
			bad="$bad $f:$h"
		fi
	done
done
if [ -z "$bad" ]; then
	ok "their sources include no engine header but engine_ops.h, timer.h and pure ones"
else
	not_ok "engine headers included directly:" $bad
fi
exit $failed
