#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to every test passing:
# installs dependencies (apt), builds lamina and its unit tests with
# AddressSanitizer + UndefinedBehaviorSanitizer, runs the unit tests (ctest)
# and the integration tests (pytest + boto3 + aws CLI against a live server).
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
