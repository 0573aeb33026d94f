#!/bin/bash
# check-layers.sh: enforce the layering rule of docs/ARCHITECTURE.md: a module includes only
# its own headers and those of the modules it may use. Prints each violation with file:line.
set -uo pipefail
cd "$(dirname "$0")/.."

declare -A allowed=(
	[lib]="lib"
	[consensus]="consensus lib"
	[node]="node consensus lib"
	[compliance]="compliance node consensus lib"
	[ml]="ml node consensus lib"
	[gateway]="gateway compliance ml node consensus lib"
	[cli]="cli gateway compliance ml node consensus lib"
)
bad=0
for mod in "${!allowed[@]}"; do
	[ -d "$mod" ] || continue
	while IFS=: read -r file line inc; do
		dep=$(sed -n 's/.*#include "\([a-z]*\)\/.*/\1/p' <<<"$inc")
		[ -n "$dep" ] || continue
		case " ${allowed[$mod]} " in
		*" $dep "*) ;;
		*) echo "$file:$line: $mod/ may not include $dep/ ($inc)"; bad=1 ;;
		esac
	done < <(grep -Hn '^#include "' "$mod"/*.[ch] 2>/dev/null)
done
[ $bad -eq 0 ] || { echo "check-layers: layering rule broken (see docs/ARCHITECTURE.md)"; exit 1; }
