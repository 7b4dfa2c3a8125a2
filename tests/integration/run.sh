#!/usr/bin/env bash
# Run lamina's integration tests against build/lamina (or $LAMINA_BIN).
#
#   tests/integration/run.sh                 # whole suite, quiet
#   tests/integration/run.sh -x -k alias     # extra args go to pytest
#   PYTEST_FLAGS="-v" tests/integration/run.sh
#
# Picks an interpreter that has boto3 and pytest:
#   1. python3 on PATH if it imports both;
#   2. else python3 on PATH (its newer boto3) + Debian's pytest from
#      /usr/lib/python3/dist-packages, exposed through a temp dir of symlinks;
#   3. else /usr/bin/python3.
# Exits with pytest's status; "no tests collected" (5) counts as a failure.
set -u

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
export LAMINA_BIN="${LAMINA_BIN:-$REPO/build/lamina}"
export PYTHONDONTWRITEBYTECODE=1
export NO_PROXY="${NO_PROXY:+$NO_PROXY,}127.0.0.1,localhost"
export no_proxy="$NO_PROXY"
PYTEST_FLAGS="${PYTEST_FLAGS:--q}"
DEB_DIST=/usr/lib/python3/dist-packages

if [ -e "$LAMINA_BIN" ]; then  # absolute: the tests run from their own folder
    LAMINA_BIN="$(cd "$(dirname "$LAMINA_BIN")" && pwd)/$(basename "$LAMINA_BIN")"
    export LAMINA_BIN
fi
if [ ! -x "$LAMINA_BIN" ]; then
    echo "run.sh: lamina binary not found or not executable: $LAMINA_BIN (build it, or set LAMINA_BIN)" >&2
    exit 2
fi

TMP_SHIM=""
cleanup() { [ -n "$TMP_SHIM" ] && rm -rf "$TMP_SHIM"; }
trap cleanup EXIT

has_mods() {  # has_mods PYTHON module...
    local py="$1"; shift
    "$py" - "$@" >/dev/null 2>&1 <<'PY'
import importlib, sys
for m in sys.argv[1:]:
    importlib.import_module(m)
PY
}

PY=""
PATH_PY="$(command -v python3 || true)"
if [ -n "$PATH_PY" ] && has_mods "$PATH_PY" boto3 pytest; then
    PY="$PATH_PY"
elif [ -n "$PATH_PY" ] && has_mods "$PATH_PY" boto3 && [ -d "$DEB_DIST/pytest" ]; then
    TMP_SHIM="$(mktemp -d "${TMPDIR:-/tmp}/lamina-pytest-shim.XXXXXX")"
    # pytest itself and its plugin machinery, always from Debian
    for mod in pytest _pytest pluggy iniconfig py py.py; do
        [ -e "$DEB_DIST/$mod" ] && ln -s "$DEB_DIST/$mod" "$TMP_SHIM/$mod"
    done
    # its dependencies only when the interpreter lacks them (keep its own newer copies)
    for mod in attr attrs packaging exceptiongroup tomli; do
        if [ -e "$DEB_DIST/$mod" ] && ! has_mods "$PATH_PY" "$mod"; then
            ln -s "$DEB_DIST/$mod" "$TMP_SHIM/$mod"
        fi
    done
    export PYTHONPATH="$TMP_SHIM${PYTHONPATH:+:$PYTHONPATH}"
    if has_mods "$PATH_PY" boto3 pytest; then
        PY="$PATH_PY"
    else
        echo "run.sh: Debian pytest does not import under $PATH_PY; falling back to /usr/bin/python3" >&2
        unset PYTHONPATH
    fi
fi
if [ -z "$PY" ]; then
    PY=/usr/bin/python3
    if ! has_mods "$PY" boto3 pytest; then
        echo "run.sh: no python3 with boto3 and pytest (install python3-boto3 python3-pytest)" >&2
        exit 2
    fi
fi

echo "run.sh: $("$PY" -c 'import sys,boto3,pytest; print(sys.executable, "boto3", boto3.__version__, "pytest", pytest.__version__)') lamina=$LAMINA_BIN" >&2

# Test paths given relative to where run.sh was called from (e.g.
# tests/integration/test_examples.py from the repo root) stay valid after the cd.
args=()
for a in "$@"; do
    p="${a%%::*}"
    if [ "${a#-}" = "$a" ] && [ "${p#/}" = "$p" ] && [ -e "$p" ]; then
        args+=("$PWD/$a")
    else
        args+=("$a")
    fi
done
cd "$HERE"
# shellcheck disable=SC2086
"$PY" -m pytest -c "$HERE/pytest.ini" --rootdir "$HERE" $PYTEST_FLAGS ${args[@]+"${args[@]}"}
rc=$?
if [ "$rc" -eq 5 ]; then
    echo "run.sh: pytest collected no tests" >&2
    exit 1
fi
exit "$rc"
