#!/bin/bash
# Every C/C++ source is clang-format clean (style in .clang-format).
set -euo pipefail
cd "$(dirname "$0")/.."
bad=()
while IFS= read -r f; do
    [ -f "$f" ] || continue
    clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done < <(git ls-files '*.c' '*.h' '*.cpp' 2>/dev/null || find bpf loader maps tests tools -name '*.[ch]' -o -name '*.cpp')
if ((${#bad[@]})); then
    echo "not clang-format clean (run: make format):"
    printf '  %s\n' "${bad[@]}"
    exit 1
fi
echo "all sources clang-format clean"
