#!/usr/bin/env bash
# Builds lamina's libFuzzer targets (tests/fuzz/, clang-16, ASan + UBSan) in
# build-fuzz/ and runs each for a bounded time, seeded from the corpora in
# tests/fuzz/corpus/ (copied: the tree stays clean). fuzz_java_json, the Java
# runtime's JSON reader, is a Java mutation fuzzer taking libFuzzer's flags
# (built with javac when a JDK is there; tests/fuzz/CMakeLists.txt). Installs nothing:
# scripts/install-deps.sh test brings clang-16 and libclang-rt-16-dev.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#   (naming targets builds only those)
#
# SECONDS_PER_TARGET defaults to $LAMINA_FUZZ_SECONDS, else 30;
# LAMINA_FUZZ_BUILD_DIR and LAMINA_FUZZ_OPT choose the build;
# LAMINA_FUZZ_PARALLEL targets run at once (default LAMINA_JOBS, else 2).
# LAMINA_FUZZ_SEED fixes libFuzzer's seed (default: a new one each run), and
# LAMINA_FUZZ_RUNS names a file of "<target> <runs>" lines: each target then
# stops after that many inputs (SECONDS_PER_TARGET still caps the time).
# Both together make a run repeatable: scripts/test.sh uses them, so what
# CI fuzzes is exactly what a local `bash .ci/run` fuzzed, and a finding
# there reproduces here. Exits
# non-zero on any crash, leak, UB report or timeout, printing the input that
# caused it and the command that reproduces it. Crash inputs are kept in
# build-fuzz/findings/<target>/; new interesting inputs found during the run
# in build-fuzz/corpus/<target>/ (merge them by hand if worth keeping).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${LAMINA_FUZZ_BUILD_DIR:-$root/build-fuzz}"
jobs="${LAMINA_JOBS:-2}"
seconds="${1:-${LAMINA_FUZZ_SECONDS:-30}}"
shift || true
cxx="${LAMINA_FUZZ_CXX:-clang++-16}"

if ! command -v "$cxx" >/dev/null 2>&1; then
  echo "fuzz: $cxx not found (scripts/install-deps.sh test installs clang-16 libclang-rt-16-dev)" >&2
  exit 1
fi

# Line tables only: enough for symbolized stacks, and a shorter build.
# LAMINA_FUZZ_OPT=-O0 builds 3x faster and runs ~2x slower: right for the
# short runs of scripts/test.sh, wrong for long ones.
opt="${LAMINA_FUZZ_OPT:--O1}"

start=$(date +%s)
# warnings are g++'s business (-Werror there), not this build's
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$opt -gline-tables-only" -DLAMINA_FUZZ=ON -DLAMINA_BUILD_TESTS=OFF \
  -DLAMINA_WERROR=OFF >/dev/null
if [ "$#" -gt 0 ]; then  # only the targets named
  ninja -C "$build" -j"$jobs" "${@/#/tests/fuzz/}"
else
  ninja -C "$build" -j"$jobs" fuzz_targets
fi
echo "fuzz: build took $(( $(date +%s) - start ))s"

if [ "$#" -gt 0 ]; then targets=("$@"); else mapfile -t targets < <(grep -v '^$' "$build/fuzz_targets.txt"); fi
if [ "$seconds" -le 0 ]; then echo "fuzz: built ${targets[*]}; not running (0 seconds)"; exit 0; fi

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
# Each target is one single-threaded process: LAMINA_FUZZ_PARALLEL of them
# (default: the build's job count) run at once, each on its own core.
parallel="${LAMINA_FUZZ_PARALLEL:-$jobs}"

run_target() {  # run_target TARGET: fuzzes it; its report goes to $build/fuzz-TARGET.report
  local t="$1"
  local seeds="$root/tests/fuzz/corpus/$t" work="$build/corpus/$t" findings="$build/findings/$t"
  local log="$build/fuzz-$t.log" report="$build/fuzz-$t.report"
  rm -rf "$work" && mkdir -p "$work" "$findings"
  [ -d "$seeds" ] && cp -r "$seeds/." "$work/"
  local dict="$root/tests/fuzz/dict/$t.dict"
  [ -f "$dict" ] || dict="$root/tests/fuzz/dict/api.dict"
  local bounds=(-max_total_time="$seconds")
  [ -n "${LAMINA_FUZZ_SEED:-}" ] && bounds+=(-seed="$LAMINA_FUZZ_SEED")
  if [ -n "${LAMINA_FUZZ_RUNS:-}" ]; then
    local runs
    runs=$(awk -v t="$t" '$1 == t { print $2 }' "$LAMINA_FUZZ_RUNS")
    [ -n "$runs" ] && bounds+=(-runs="$runs")
  fi
  local rc=0 t0
  t0=$(date +%s)
  "$build/tests/fuzz/$t" "$work" -dict="$dict" "${bounds[@]}" \
    -rss_limit_mb=2048 -timeout=10 -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$findings/" >"$log" 2>&1 || rc=$?
  {
    echo "== fuzz $t (${seconds}s cap, $(( $(date +%s) - t0 ))s) =="
    echo "   ${bounds[*]}"
    grep -E '^#[0-9]+.*(DONE|pulse)|^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$log" | tail -4
    if [ "$rc" -ne 0 ]; then
      echo "fuzz: $t FAILED (exit $rc); the end of $log:"
      tail -60 "$log"
      for input in "$findings"/*; do
        [ -e "$input" ] || continue
        echo "fuzz: input: $input"
        echo "fuzz: reproduce: $build/tests/fuzz/$t $input"
      done
    fi
  } >"$report"
  return "$rc"
}

failed=()
declare -A running=()  # pid -> target
finish_one() {  # waits for any running target, prints its report
  local pid rc=0
  wait -n -p pid "${!running[@]}" || rc=$?
  local t="${running[$pid]}"
  unset "running[$pid]"
  if [ "$rc" -ne 0 ]; then failed+=("$t"); cat "$build/fuzz-$t.report" >&2; else cat "$build/fuzz-$t.report"; fi
}
for t in "${targets[@]}"; do
  while [ "${#running[@]}" -ge "$parallel" ]; do finish_one; done
  run_target "$t" &
  running[$!]="$t"
done
while [ "${#running[@]}" -gt 0 ]; do finish_one; done

echo "fuzz: total $(( $(date +%s) - start ))s"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: findings in: ${failed[*]}" >&2
  exit 1
fi
