#!/usr/bin/env bash
# Installs everything lamina needs to build, run and test, from Debian's apt.
# Idempotent: packages already present are not touched and apt is not even
# updated when nothing is missing. Works as root or through sudo.
# Used by the README, .ci/run and docker/Dockerfile (one list, one place).
set -euo pipefail

BUILD_PKGS=(
  build-essential cmake ninja-build pkg-config git
  libboost1.81-dev nlohmann-json3-dev libzip-dev libspdlog-dev libfmt-dev
  libsqlite3-dev libssl-dev libcli11-dev libgtest-dev libgmock-dev libyaml-cpp-dev
)
RUN_PKGS=(bubblewrap zip unzip ca-certificates python3 curl python3-debugpy)  # debugpy: serve --debug
# Java functions: the host's JVM runs them and its javac builds runtimes/java's jars
RUN_PKGS+=(openjdk-17-jdk-headless)
# SnapStart for Java: the JVM is checkpointed and restored with criu
RUN_PKGS+=(criu)
TEST_PKGS=(python3-pytest python3-boto3 awscli python3-requests python3-yaml clang-16 libclang-rt-16-dev clang-tidy-16 clang-format-16)  # clang: scripts/fuzz.sh, scripts/tidy.sh, scripts/format.sh
TEST_PKGS+=(chromium)  # the function URL CORS test's browser (headless, driven by playwright-core)
TEST_PKGS+=(skopeo)  # the image registry tests push and pull with it
# npm builds aws-lambda-ric's native client (its own curl and aws-lambda-cpp) on install
TEST_PKGS+=(autoconf automake libtool make xz-utils)
BENCH_PKGS=(wrk)

# Node.js functions need a node: Debian's, unless the machine already has one.
command -v node >/dev/null 2>&1 || RUN_PKGS+=(nodejs)
# Ruby functions run on the host's ruby (Debian's, unless the machine already has one).
command -v ruby >/dev/null 2>&1 || RUN_PKGS+=(ruby)
# The tests' Node clients (tests/integration/js: JS SDK v3, playwright-core) come from npm.
command -v npm >/dev/null 2>&1 || TEST_PKGS+=(npm)

# npm packages of the integration tests, from package-lock.json; skipped when installed
install_js_test_deps() {
  local js
  js="$(cd "$(dirname "$0")/.." && pwd)/tests/integration/js"
  if [ -f "$js/node_modules/.package-lock.json" ] && [ "$js/node_modules/.package-lock.json" -nt "$js/package-lock.json" ]; then
    return 0
  fi
  echo "install-deps: npm ci in $js"
  (cd "$js" && npm ci --no-audit --no-fund --loglevel=error)
}

# AWS's Node.js runtime interface client for test_ric.py, from tests/integration/ric's
# package-lock.json. npm compiles its native client (its own curl and aws-lambda-cpp: about
# 4.5 CPU-minutes), so it is built once per lock into a cache outside the checkout
# ($LAMINA_CACHE_DIR, default ~/.cache/lamina) and linked in: a fresh clone on the same
# machine finds it. `install-deps.sh ric` does only this; with LAMINA_RIC_DEFERRED=1 the
# other modes leave it out (scripts/test.sh builds it in the background).
install_ric_test_deps() {
  local ric key cache tmp
  ric="$(cd "$(dirname "$0")/.." && pwd)/tests/integration/ric"
  key=$(sha256sum "$ric/package-lock.json" | cut -c1-16)
  cache="${LAMINA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/lamina}/aws-lambda-ric-$key"
  if [ ! -f "$cache/node_modules/aws-lambda-ric/rapid-client.node" ]; then
    echo "install-deps: npm ci for aws-lambda-ric (builds its native client) into $cache"
    mkdir -p "$(dirname "$cache")"
    tmp=$(mktemp -d "$cache.tmp-XXXXXX")
    cp "$ric/package.json" "$ric/package-lock.json" "$tmp/"
    (cd "$tmp" && npm ci --no-audit --no-fund --loglevel=error)
    # another install may have finished first: keep its copy
    mv -T "$tmp" "$cache" 2>/dev/null || rm -rf "$tmp"
  fi
  rm -rf "$ric/node_modules"
  ln -sfn "$cache/node_modules" "$ric/node_modules"
}

want=("${BUILD_PKGS[@]}" "${RUN_PKGS[@]}")
case "${1:-all}" in
  ric) install_ric_test_deps; exit 0 ;;
  build|run) ;;
  all|test) want+=("${TEST_PKGS[@]}") ;;
  bench) want+=("${TEST_PKGS[@]}" "${BENCH_PKGS[@]}") ;;
  *) echo "usage: $0 [build|run|test|bench|all|ric]" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
with_js=0
case "${1:-all}" in all|test|bench) with_js=1 ;; esac
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#want[@]} packages present"
  if [ "$with_js" -eq 1 ]; then
  install_js_test_deps
  if [ "${LAMINA_RIC_DEFERRED:-0}" != 1 ]; then install_ric_test_deps; fi
fi
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1
  fi
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
if [ "$with_js" -eq 1 ]; then
  install_js_test_deps
  if [ "${LAMINA_RIC_DEFERRED:-0}" != 1 ]; then install_ric_test_deps; fi
fi
