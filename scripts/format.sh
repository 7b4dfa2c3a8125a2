#!/usr/bin/env bash
# clang-format (clang-format-16, .clang-format: 4 spaces, 100 columns) over
# every tracked C++ file.
#
#   scripts/format.sh          rewrites the files in place
#   scripts/format.sh --check  changes nothing; lists each file that differs
#                              and exits 1 if any does (scripts/test.sh runs this)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
fmt="${LAMINA_CLANG_FORMAT:-clang-format-16}"
if ! command -v "$fmt" >/dev/null 2>&1; then
  echo "format: $fmt not found (scripts/install-deps.sh test installs clang-format-16)" >&2
  exit 1
fi
cd "$root"
mapfile -t files < <(git ls-files '*.cpp' '*.hpp' '*.h')
if [ "${1:-}" = --check ]; then
  bad=()
  for f in "${files[@]}"; do
    "$fmt" --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
  done
  if [ "${#bad[@]}" -gt 0 ]; then
    echo "format: ${#bad[@]} file(s) differ from .clang-format (run scripts/format.sh):" >&2
    printf '  %s\n' "${bad[@]}" >&2
    exit 1
  fi
  echo "format: ${#files[@]} files match .clang-format"
else
  "$fmt" -i "${files[@]}"
fi
