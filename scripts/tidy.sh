#!/usr/bin/env bash
# Runs clang-tidy 16 with the checks in .clang-tidy over lamina's sources
# (every src/**/*.cpp, and through them the headers of include/lamina/ and
# src/); exits non-zero on any finding. tests/ is not checked.
#
#   scripts/tidy.sh [FILE...]
#
# LAMINA_TIDY_JOBS sets how many files run at once (default 2),
# LAMINA_TIDY_BUILD_DIR the clang build dir whose compile_commands.json it
# reads (default build-tidy/; configured here, never built: the only
# generated header, version.hpp, comes from the configure step).
# scripts/install-deps.sh test installs clang-tidy-16.
#
# Cost: clang-tidy parses each file as a compiler would and then runs every
# check over the whole AST, Boost and the standard library included: 2-31 s of
# CPU a file (~13 s on average), ~16 CPU-minutes for the 75 files. The checks
# left out in .clang-tidy include the costliest (bugprone-unchecked-optional-
# access alone took minutes on one file). scripts/test.sh (and so CI) runs this
# in the background at the lowest priority while the unit and integration
# tests run, and waits for it at the end.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${LAMINA_TIDY_BUILD_DIR:-$root/build-tidy}"
jobs="${LAMINA_TIDY_JOBS:-2}"
tidy="${LAMINA_TIDY:-clang-tidy-16}"

if ! command -v "$tidy" >/dev/null 2>&1; then
  echo "tidy: $tidy not found (scripts/install-deps.sh test installs clang-tidy-16)" >&2
  exit 1
fi

# A clang compile database: g++'s has flags clang rejects. libstdc++ 12
# declares std::expected only when __cpp_concepts >= 202002L (see LAMINA_FUZZ
# in CMakeLists.txt).
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++-16 -DLAMINA_WERROR=OFF \
  -DLAMINA_BUILD_TESTS=OFF \
  "-DCMAKE_CXX_FLAGS=-U__cpp_concepts -D__cpp_concepts=202002L -Wno-builtin-macro-redefined" >/dev/null

cd "$root"
if [ "$#" -gt 0 ]; then files=("$@"); else mapfile -t files < <(find src -name '*.cpp' | sort); fi
logs="$build/tidy-logs"
rm -rf "$logs" && mkdir -p "$logs"

start=$(date +%s)
# one line per file: "<seconds> <exit status> <file>"
printf '%s\n' "${files[@]}" | xargs -P "$jobs" -I{} sh -c '
  s=$(date +%s%N)
  log="$2/$(echo "$3" | tr / _).log"
  "$1" -p "$4" --quiet "$3" >"$log" 2>&1; rc=$?
  ms=$(( ($(date +%s%N) - s) / 1000000 ))
  printf "%d.%03d %s %s\n" $((ms / 1000)) $((ms % 1000)) "$rc" "$3"
' _ "$tidy" "$logs" {} "$build" | tee "$logs/times.txt"

failed=$(awk '$2 != 0 { print $3 }' "$logs/times.txt")
echo "tidy: ${#files[@]} files in $(( $(date +%s) - start ))s"
if [ -n "$failed" ]; then
  for f in $failed; do grep -v ' warnings\? generated\.$\|^Suppressed \|^Use -header-filter' \
    "$logs/$(echo "$f" | tr / _).log" || true; done
  echo "tidy: findings in: $(echo $failed)" >&2
  exit 1
fi
echo "tidy: clean"
