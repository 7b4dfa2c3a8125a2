#!/usr/bin/env bash
# The tutorial's exercise "Create and Use a Lambda Layer" (lambda-advanced.md,
# section 1) with the real aws CLI against a running lamina: build a layer
# holding `requests`, publish it, create a function that imports requests from
# it and makes an HTTP call, invoke it; then publish layer version 2, move the
# function to it, invoke again; clean up.
#
#   LAMINA_ENDPOINT=http://127.0.0.1:9001 bash examples/layers/run.sh
#
# Adaptations (the tutorial needs PyPI and the internet; this must not):
#  - `pip install requests -t python/lib/python3.9/site-packages/` is tried
#    first, bounded (LAYER_PIP=0 skips it). Where PyPI cannot be reached, the
#    same packages are copied from Debian's python3-requests (requests,
#    urllib3, certifi, charset_normalizer, idna: the tutorial's list) into the
#    same python/lib/python3.9/site-packages/ tree. Step 6's
#    `pip install requests==2.31.0` likewise: Debian has one version
#    (2.28.1 on Debian 12), so layer version 2 then holds the same requests;
#    it is still a new, separately published layer version.
#  - function.py calls requests.get(HTTPBIN_URL, timeout=5): this script
#    starts httpbin_stub.py on 127.0.0.1 (it exits by itself after 120 s) and
#    sets HTTPBIN_URL to it, instead of https://httpbin.org/get.
#  - "Verify imports work" (the tutorial's best practice 5) is a step here:
#    a second small function (import_check.py) with the same layer reports
#    where `import requests` came from, which must be /opt/python/...
#  - the layer is requests-layer-<run id>, the function LayerTestFunction-<run
#    id>; the layer ARNs come from publish-layer-version's output; `sleep 5`
#    is a bounded poll for LastUpdateStatus Successful.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/../common.sh"
layer="requests-layer-$RUN_ID"
fn="LayerTestFunction-$RUN_ID"
check_fn="LayerImportCheck-$RUN_ID"
stub_pid=""
start_work
# failed half way: leave nothing behind
on_failure 'aws lambda delete-function --function-name "$fn"'
on_failure 'aws lambda delete-function --function-name "$check_fn"'
on_failure 'for v in 1 2; do aws lambda delete-layer-version --layer-name "$layer" --version-number "$v" || true; done'
at_exit 'if [ -n "$stub_pid" ]; then kill "$stub_pid"; wait "$stub_pid"; fi'

SITE=python/lib/python3.9/site-packages
# install_requests DIR [PIP_SPEC]: pip if it works, else Debian's copy.
install_requests() {
  local dest="$1" spec="${2:-requests}" src
  if [ "${LAYER_PIP:-1}" != 0 ] && command -v pip >/dev/null 2>&1 &&
     timeout 120 pip install --quiet --disable-pip-version-check --retries 0 --timeout 10 \
       "$spec" -t "$dest/" >/dev/null 2>&1; then
    echo "pip install $spec: installed from PyPI"
    return 0
  fi
  echo "pip install $spec: PyPI not reachable; copying Debian's python3-requests and its dependencies instead"
  for mod in requests urllib3 certifi charset_normalizer idna; do
    src="$(/usr/bin/python3 -c "import os, $mod; print(os.path.dirname($mod.__file__))" 2>/dev/null)" || {
      echo "Debian's $mod is missing: apt-get install python3-requests (or bash scripts/install-deps.sh test)" >&2
      return 1; }
    rm -rf "${dest:?}/$mod"
    cp -r "$src" "$dest/$mod"
  done
  find "$dest" -name __pycache__ -type d -prune -exec rm -rf {} +
}

echo "=== Step 1: Create Layer with Dependencies ==="
mkdir -p "my-requests-layer/$SITE"
cd my-requests-layer
install_requests "$SITE"
echo "ls $SITE/: $(ls "$SITE/" | grep -v -e '-info$' | tr '\n' ' ')"
echo "unzipped size: $(du -sh python/ | cut -f1)"
zip -qr ../my-requests-layer.zip python/
cd ..

echo "=== Step 2: Publish Layer ==="
LAYER_ARN=$(aws lambda publish-layer-version \
  --layer-name "$layer" \
  --description "Requests library for HTTP calls" \
  --zip-file fileb://my-requests-layer.zip \
  --compatible-runtimes python3.9 python3.10 python3.11 \
  --query LayerVersionArn --output text)
echo "LayerVersionArn: $LAYER_ARN"

echo "=== Step 3: loopback stand-in for httpbin.org ==="
/usr/bin/python3 "$here/httpbin_stub.py" "$work/stub.port" 120 > "$work/stub.log" 2>&1 &
stub_pid=$!
for _ in $(seq 100); do [ -s "$work/stub.port" ] && break; sleep 0.1; done
[ -s "$work/stub.port" ] || { echo "httpbin_stub.py did not start" >&2; exit 1; }
HTTPBIN_URL="http://127.0.0.1:$(cat "$work/stub.port")/get"
echo "HTTPBIN_URL=$HTTPBIN_URL"

echo "=== Step 4: Deploy Function with Layer ==="
cp "$here/function.py" .
zip -q function.zip function.py
ACCOUNT_ID=$(aws sts get-caller-identity --query Account --output text)
aws lambda create-function \
  --function-name "$fn" \
  --runtime python3.9 \
  --role "arn:aws:iam::${ACCOUNT_ID}:role/MyFirstLambdaRole" \
  --handler function.lambda_handler \
  --zip-file fileb://function.zip \
  --layers "$LAYER_ARN" \
  --environment "Variables={HTTPBIN_URL=$HTTPBIN_URL}" \
  --query '{FunctionName: FunctionName, Layers: Layers[0].Arn}' --output text
wait_active "$fn"

echo "=== Step 5: Test Function ==="
aws lambda invoke \
  --function-name "$fn" \
  --cli-binary-format raw-in-base64-out \
  --payload '{}' \
  response.json && cat response.json && echo ""

echo "=== Verify imports work (best practice 5) ==="
cp "$here/import_check.py" .
zip -q import-check.zip import_check.py
aws lambda create-function \
  --function-name "$check_fn" \
  --runtime python3.9 \
  --role "arn:aws:iam::${ACCOUNT_ID}:role/MyFirstLambdaRole" \
  --handler import_check.lambda_handler \
  --zip-file fileb://import-check.zip \
  --layers "$LAYER_ARN" --query State --output text >/dev/null
wait_active "$check_fn"
aws lambda invoke --function-name "$check_fn" --payload '{}' check.json >/dev/null
echo "import requests: $(cat check.json)"

echo "=== Step 6: Update Layer and Test ==="
install_requests "my-requests-layer/$SITE" "requests==2.31.0"
cd my-requests-layer
zip -qr ../my-requests-layer-v2.zip python/
cd ..
LAYER_ARN_V2=$(aws lambda publish-layer-version \
  --layer-name "$layer" \
  --zip-file fileb://my-requests-layer-v2.zip \
  --compatible-runtimes python3.9 \
  --query LayerVersionArn --output text)
echo "LayerVersionArn: $LAYER_ARN_V2"
aws lambda update-function-configuration \
  --function-name "$fn" \
  --layers "$LAYER_ARN_V2" --query 'Layers[].Arn' --output text
wait_updated "$fn"
echo "function layers: $(aws lambda get-function-configuration --function-name "$fn" --query 'Layers[].Arn' --output text)"
aws lambda invoke \
  --function-name "$fn" \
  --payload '{}' \
  response.json && cat response.json && echo ""

echo "=== Cleanup ==="
aws lambda delete-function --function-name "$fn" >/dev/null
aws lambda delete-function --function-name "$check_fn" >/dev/null
aws lambda delete-layer-version --layer-name "$layer" --version-number 1
aws lambda delete-layer-version --layer-name "$layer" --version-number 2
finished
echo "layer versions left: $(aws lambda list-layer-versions --layer-name "$layer" --query 'length(LayerVersions)' --output text)"
kill "$stub_pid" 2>/dev/null || true; wait "$stub_pid" 2>/dev/null || true; stub_pid=""
echo "httpbin stand-in served $(grep -c '^GET /get ' "$work/stub.log" || true) requests:"
sed 's/^/  /' "$work/stub.log"
echo "done"
