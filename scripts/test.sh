#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to every test passing:
# installs dependencies (apt), builds lamina and its unit tests with
# AddressSanitizer + UndefinedBehaviorSanitizer, runs the unit tests (ctest)
# and the integration tests (pytest + boto3 + aws CLI against a live server),
# then builds the libFuzzer targets and runs each briefly (scripts/fuzz.sh;
# fixed seed and input counts from tests/fuzz/ci-runs.txt; LAMINA_FUZZ_SECONDS
# caps each target, default 60, 0 skips the fuzz stage).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${LAMINA_TEST_BUILD_DIR:-$root/build-test}"
jobs="${LAMINA_JOBS:-2}"

bash "$root/scripts/install-deps.sh" all
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DLAMINA_SANITIZE=ON -DLAMINA_BUILD_TESTS=ON >/dev/null
ninja -C "$build" -j"$jobs"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

echo "== unit tests =="
(cd "$build" && ctest --output-on-failure -j"$jobs" --timeout 120)

echo "== integration tests =="
LAMINA_BIN="$build/lamina" bash "$root/tests/integration/run.sh" "$@"

if [ "${LAMINA_FUZZ_SECONDS:-20}" -gt 0 ]; then
  echo "== fuzzing =="
  # its own -O0 build: 3x quicker to build, fast enough for short runs
  # A fixed seed and a fixed number of inputs per target (about 20 s each
  # here), capped at LAMINA_FUZZ_SECONDS: the same inputs in CI as in a
  # local run, so a green local run predicts CI's and a finding reproduces.
  LAMINA_FUZZ_BUILD_DIR="${LAMINA_FUZZ_BUILD_DIR:-$root/build-fuzz-ci}" LAMINA_FUZZ_OPT="${LAMINA_FUZZ_OPT:--O0}" \
    LAMINA_FUZZ_SEED="${LAMINA_FUZZ_SEED:-1}" LAMINA_FUZZ_RUNS="${LAMINA_FUZZ_RUNS-$root/tests/fuzz/ci-runs.txt}" \
    bash "$root/scripts/fuzz.sh" "${LAMINA_FUZZ_SECONDS:-60}"
fi
