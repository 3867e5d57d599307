#!/bin/bash
# librelage.so exports exactly the functions declared in include/relage.h (cmake/relage.map),
# nothing internal, and every one of them.
set -euo pipefail
lib=$1
header=$2
want=$(grep '^[a-z]' "$header" | grep -o 'relage_[a-z_]*(' | tr -d '(' | sort -u)
have=$(nm -D --defined-only "$lib" | awk '$2 == "T" {print $3}' | sed 's/@.*//' | sort)
if [ "$want" != "$have" ]; then
  echo "FAIL: exports differ from the header (< header, > library):" >&2
  diff <(echo "$want") <(echo "$have") >&2 || true
  exit 1
fi
echo "abi_exports: $(echo "$have" | wc -l) functions, as declared"
