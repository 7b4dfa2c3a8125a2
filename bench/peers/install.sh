#!/usr/bin/env bash
# Installs the peers of bench/compare.py into bench/peers/node_modules (ignored by git):
# serverless 3.40 and serverless-offline 13.9, from npm. moto (python3 -m moto.server) and
# wrk come from the machine (pip / `scripts/install-deps.sh bench`).
set -euo pipefail
cd "$(dirname "$0")"
if [ -x node_modules/.bin/serverless ] && [ -f node_modules/serverless-offline/package.json ]; then
  echo "bench/peers: already installed"
  exit 0
fi
npm install --no-audit --no-fund --no-package-lock --loglevel=error
echo "bench/peers: serverless $(node -p 'require("./node_modules/serverless/package.json").version'), serverless-offline $(node -p 'require("./node_modules/serverless-offline/package.json").version')"
