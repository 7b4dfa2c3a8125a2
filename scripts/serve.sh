#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a running lamina:
# installs dependencies (apt), builds a release binary, starts `lamina serve`.
# Extra arguments go to `lamina serve` (e.g. --port 0 --ephemeral).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/install-deps.sh" run
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLAMINA_BUILD_TESTS=OFF >/dev/null
ninja -C "$root/build" -j"${LAMINA_JOBS:-2}" lamina
exec "$root/build/lamina" serve "$@"
