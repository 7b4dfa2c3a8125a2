#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to every test passing:
# installs dependencies (apt), builds lamina and its unit tests with
# AddressSanitizer + UndefinedBehaviorSanitizer, runs the unit tests (ctest)
# and the integration tests (pytest + boto3 + aws CLI against a live server),
# then builds the libFuzzer targets and runs each briefly (scripts/fuzz.sh;
# LAMINA_FUZZ_SECONDS per target, default 20, 0 skips the fuzz stage).
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
  LAMINA_FUZZ_BUILD_DIR="${LAMINA_FUZZ_BUILD_DIR:-$root/build-fuzz-ci}" LAMINA_FUZZ_OPT="${LAMINA_FUZZ_OPT:--O0}" \
    bash "$root/scripts/fuzz.sh" "${LAMINA_FUZZ_SECONDS:-20}"
fi
