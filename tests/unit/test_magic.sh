#!/bin/sh
# Every *_MAGIC value in the sources is unique (lib/magic.h): a clash
# would let a wrong object pass its check.
top=${TERN_SRCDIR:-$(dirname "$0")/../..}
dups=$(grep -rhoE '#define[[:space:]]+[A-Z_]+_MAGIC[[:space:]]+0x[0-9a-fA-F]+u?' \
	"$top/src" "$top/tests/tools" | awk '{print tolower($3)}' | sed 's/u$//' | sort | uniq -d)
n=$(grep -rhoE '#define[[:space:]]+[A-Z_]+_MAGIC[[:space:]]+0x' "$top/src" "$top/tests/tools" | wc -l)
if [ "$n" -gt 0 ]; then echo "ok 1 - $n magic values found"; else echo "not ok 1 - no magic values found"; fi
if [ -z "$dups" ]; then echo "ok 2 - all magic values are unique"; else echo "not ok 2 - duplicate magic values: $dups"; fi
echo "1..2"
