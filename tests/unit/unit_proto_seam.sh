#!/usr/bin/env bash
# unit_proto_seam: proto/ reaches the engine only through the engine table
# (engine/engine_ops.h), checked on what was built and on the sources (TAP).
# No object of libproto.a calls a proc_, loop_, engine_, sandbox_, spawn_,
# seccomp_ or fileio_ function (what proto/ may use of engine/ is pure:
# outlog reading, buf, log), and no proto/ source includes an engine header
# but those pure ones, engine_ops.h, timer.h and util.h (and sbpolicy.h the
# policy types of sandbox.h).
# Usage: unit_proto_seam.sh LIBPROTO_A SOURCE_ROOT
set -u
lib=$1
src=$2
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=1; echo "not ok $n - $1"; shift; printf '# %s\n' "$@"; }

echo "1..3"
undef=$(nm -A -u "$lib" 2>/dev/null)
if printf '%s\n' "$undef" | grep -qE '(^|[:/])proto_(conn|session|methods)\.c\.o:'; then
	ok "nm lists the objects of $(basename "$lib"), conn.c, session.c and methods.c among them"
else
	not_ok "nm lists the objects of conn.c, session.c, methods.c in $lib"
fi
calls=$(printf '%s\n' "$undef" | awk '{print $1 " " $NF}' |
	grep -E ' (proc|loop|engine|sandbox|spawn|seccomp|fileio)_' | sed 's/^[^:]*://' | sort -u)
if [ -z "$calls" ]; then
	ok "proto/ calls nothing of the engine outside the table"
else
	not_ok "proto/ calls the engine directly:" $calls
fi

allowed=" engine_ops.h timer.h util.h outlog.h buf.h log.h "
bad=
for f in $(cd "$src" && find proto -name '*.[ch]' | sort); do
	for h in $(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$src/$f"); do
		# The include a file's own directory answers is not the engine's.
		[ -e "$src/$(dirname "$f")/$h" ] && continue
		[ -e "$src/engine/$h" ] || continue
		[[ "$allowed" == *" $h "* ]] && continue
		[ "$f:$h" = proto/sbpolicy.h:sandbox.h ] && continue
		bad="$bad $f:$h"
	done
done
if [ -z "$bad" ]; then
	ok "proto/ includes no engine header but engine_ops.h, timer.h and pure ones"
else
	not_ok "engine headers included directly:" $bad
fi
exit $failed
