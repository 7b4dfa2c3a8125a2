#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to every test passing:
# installs dependencies (apt), builds lamina and its unit tests with
# AddressSanitizer + UndefinedBehaviorSanitizer, runs the unit tests (ctest)
# and the integration tests (pytest + boto3 + aws CLI against a live server),
# then runs each libFuzzer target briefly (scripts/fuzz.sh, built alongside
# the tests; fixed seed and input counts from tests/fuzz/ci-runs.txt; LAMINA_FUZZ_SECONDS
# caps each target, default 60, 0 skips the fuzz stage). With LAMINA_TIDY_CI=1,
# clang-tidy (scripts/tidy.sh, all of src/) also runs alongside the tests and
# must be clean: off by default, because its ~16 CPU-minutes no longer fit in
# CI's 45 minutes beside the fuzz and RIC builds (run it before committing).
# Every C++ file must match .clang-format (scripts/format.sh --check).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${LAMINA_TEST_BUILD_DIR:-$root/build-test}"
jobs="${LAMINA_JOBS:-2}"

# aws-lambda-ric's native build (test_ric.py) is left to the background below
LAMINA_RIC_DEFERRED=1 bash "$root/scripts/install-deps.sh" all
# formatting first: a second, and it needs no build
bash "$root/scripts/format.sh" --check
# Line tables only (-g1: enough for symbolized sanitizer stacks) and
# precompiled headers: each compile takes about a third less than with -g.
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-g1 -DLAMINA_PCH=ON \
  -DLAMINA_SANITIZE=ON -DLAMINA_BUILD_TESTS=ON >/dev/null
ninja -C "$build" -j"$jobs"

# Three builds run in the background while the tests run, at the lowest
# priority (the tests keep the CPU they need), on the cycles the tests leave
# idle (the integration tests mostly wait on sockets and processes): AWS's
# aws-lambda-ric (~4.5 CPU-minutes unless cached; test_ric.py runs last),
# the fuzz targets (~12 CPU-minutes; needed when the tests end), then, with
# LAMINA_TIDY_CI=1, clang-tidy over src/ (~16 CPU-minutes; needed at the end).
# One after the other, in their own session, so an early exit stops them.
fuzz_seconds="${LAMINA_FUZZ_SECONDS:-60}"
fuzz_env=(LAMINA_FUZZ_BUILD_DIR="${LAMINA_FUZZ_BUILD_DIR:-$root/build-fuzz-ci}" LAMINA_FUZZ_OPT="${LAMINA_FUZZ_OPT:--O0}"
  LAMINA_FUZZ_SEED="${LAMINA_FUZZ_SEED:-1}" LAMINA_FUZZ_RUNS="${LAMINA_FUZZ_RUNS-$root/tests/fuzz/ci-runs.txt}")
rm -f "$build/fuzz-build.rc" "$build/ric.rc"
background() {
  bash "$root/scripts/install-deps.sh" ric >"$build/ric.log" 2>&1
  echo $? >"$build/ric.rc"
  if [ "$fuzz_seconds" -gt 0 ]; then
    env "${fuzz_env[@]}" bash "$root/scripts/fuzz.sh" 0 >"$build/fuzz-build.log" 2>&1
    echo $? >"$build/fuzz-build.rc"
  fi
  if [ "${LAMINA_TIDY_CI:-0}" != 0 ]; then bash "$root/scripts/tidy.sh" >"$build/tidy.log" 2>&1; fi
}
setsid nice -n 19 bash -c "$(declare -f background); $(declare -p root build fuzz_seconds fuzz_env); background" &
background_pid=$!
trap 'if [ -n "$background_pid" ]; then kill -- -"$background_pid" 2>/dev/null || true; fi' EXIT

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

# An -O0 build: 3x quicker to build, fast enough for short runs. A fixed
# seed and a fixed number of inputs per target (about 20 s each here),
# capped at LAMINA_FUZZ_SECONDS: the same inputs in CI as in a local run,
# so a green local run predicts CI's and a finding reproduces. Built in the
# background above: wait for that build (what remains is a no-op).
run_fuzz() {
  local waited=$(date +%s)
  while [ ! -f "$build/fuzz-build.rc" ] && kill -0 "$background_pid" 2>/dev/null; do sleep 2; done
  echo "fuzz: waited $(( $(date +%s) - waited ))s for its build after the tests"
  if [ "$(cat "$build/fuzz-build.rc" 2>/dev/null)" != 0 ]; then cat "$build/fuzz-build.log"; return 1; fi
  grep -E '^fuzz: build took' "$build/fuzz-build.log" || true
  env "${fuzz_env[@]}" bash "$root/scripts/fuzz.sh" "$fuzz_seconds"
}
rm -f "$build/fuzz.rc"

echo "== unit tests =="
# The test binary itself, one process per core, each running its share of the
# tests (gtest sharding). ctest's one process per test cost ~1 s of ASan
# start-up each: 381 starts were ~5 of the 6 minutes the stage took, for
# ~1 minute of tests. (ctest still works for a developer.) A failing shard
# prints its whole log; 15 minutes bound a hang.
unit_pids=()
for ((i = 0; i < jobs; i++)); do
  GTEST_TOTAL_SHARDS="$jobs" GTEST_SHARD_INDEX="$i" timeout -k 10 900 \
    "$build/lamina_unit_tests" --gtest_brief=1 >"$build/unit-$i.log" 2>&1 &
  unit_pids+=($!)
done
unit_status=0
for ((i = 0; i < jobs; i++)); do
  if wait "${unit_pids[$i]}"; then
    grep -E '^\[  PASSED  \]|tests? from .* ran' "$build/unit-$i.log" | sed "s/^/shard $i: /"
  else
    unit_status=1
    echo "shard $i FAILED:"
    cat "$build/unit-$i.log"
  fi
done
[ "$unit_status" -eq 0 ]

echo "== integration tests =="
# the slowest tests are listed at the end: where CI's time goes. A whole run
# goes as two pytest processes at once, each with its own lamina: the
# longest files (Terraform's provider, the crash tests' restarts, the
# examples' scripts, templates, the S3 CLI: ~21 minutes under ASan, mostly
# waiting) beside all the others (~20 minutes).
if [ "$#" -eq 0 ]; then
  aside=(test_terraform.py test_crash_safety.py test_examples.py test_sam.py test_s3.py)
  # test_ric.py needs the RIC the background builds: it runs after the others aside
  aside_run() {
    local status=0
    LAMINA_BIN="$build/lamina" PYTEST_FLAGS="${PYTEST_FLAGS:--q --durations=5}" \
      bash "$root/tests/integration/run.sh" "${aside[@]}" || status=$?
    local waited=$(date +%s)
    while [ ! -f "$build/ric.rc" ] && kill -0 "$background_pid" 2>/dev/null; do sleep 2; done
    echo "-- test_ric.py (waited $(( $(date +%s) - waited ))s for aws-lambda-ric's build):"
    if [ "$(cat "$build/ric.rc" 2>/dev/null)" != 0 ]; then cat "$build/ric.log"; return 1; fi
    LAMINA_BIN="$build/lamina" PYTEST_FLAGS="${PYTEST_FLAGS:--q}" \
      bash "$root/tests/integration/run.sh" test_ric.py || status=$?
    # the fuzz stage starts here, beside the main shard's last files, rather
    # than after both shards
    if [ "$fuzz_seconds" -gt 0 ]; then
      local fuzz_status=0
      run_fuzz >"$build/fuzz.log" 2>&1 || fuzz_status=$?
      echo "$fuzz_status" >"$build/fuzz.rc"
    fi
    return "$status"
  }
  aside_run >"$build/integration-aside.log" 2>&1 &
  aside_pid=$!
  main_status=0
  LAMINA_BIN="$build/lamina" PYTEST_FLAGS="${PYTEST_FLAGS:--q --durations=15}" \
    bash "$root/tests/integration/run.sh" "${aside[@]/#/--ignore=}" --ignore=test_ric.py || main_status=$?
  aside_status=0
  wait "$aside_pid" || aside_status=$?
  echo "-- ${aside[*]} test_ric.py (run alongside):"
  cat "$build/integration-aside.log"
  # (not `[ a ] && [ b ]`: under set -e a failing first test of an && list
  # does not stop the script, and a failed main shard went unnoticed)
  if [ "$main_status" -ne 0 ] || [ "$aside_status" -ne 0 ]; then
    echo "integration tests FAILED (main shard: $main_status, alongside: $aside_status)"
    exit 1
  fi
else
  LAMINA_BIN="$build/lamina" PYTEST_FLAGS="${PYTEST_FLAGS:--q --durations=15}" \
    bash "$root/tests/integration/run.sh" "$@"
fi

if [ "$fuzz_seconds" -gt 0 ]; then
  echo "== fuzzing =="
  if [ -f "$build/fuzz.rc" ]; then  # run beside the main integration shard
    cat "$build/fuzz.log"
    [ "$(cat "$build/fuzz.rc")" = 0 ] || exit 1
  else
    run_fuzz
  fi
fi

echo "== clang-tidy =="
waited=$(date +%s)
status=0
wait "$background_pid" || status=$?
background_pid=""
echo "tidy: waited $(( $(date +%s) - waited ))s for it after the tests"
if [ "${LAMINA_TIDY_CI:-0}" != 0 ]; then
  if [ "$status" -ne 0 ]; then cat "$build/tidy.log"; exit "$status"; fi
  tail -n 1 "$build/tidy.log"
fi
