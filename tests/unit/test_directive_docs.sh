#!/bin/sh
# The generated directive documentation (docs/pmta-config.5 and the
# directive tables of docs/compat.md) matches src/conf/conf_directives.def.
# On failure: run scripts/gen-directive-docs and commit the result.
top=${TERN_SRCDIR:-$(dirname "$0")/../..}
python=${PYTHON3:-python3}
out=$("$python" "$top/scripts/gen-directive-docs" --check --srcdir "$top" 2>&1)
rc=$?
if [ $rc -eq 0 ]; then
	echo "ok 1 - directive docs match conf_directives.def"
else
	echo "not ok 1 - directive docs out of date or table invalid (exit $rc)"
	printf '%s\n' "$out" | sed 's/^/# /'
fi
echo "1..1"
