#!/usr/bin/env bash
# The tutorial's exercise "Working with Aliases and Traffic Splitting"
# (lambda-advanced.md, section 3) with the real aws CLI against a running
# lamina: two versions, a PROD alias on version 1, a 10% then 50% canary on
# version 2 (counting which version answers over 20 invocations each), 100%
# version 2, roll back to version 1, clean up.
#
#   LAMINA_ENDPOINT=http://127.0.0.1:9001 bash examples/aliases/run.sh
#   CANARY_INVOKES=100 bash examples/aliases/run.sh   # a larger sample per step
#
# Differences from the tutorial:
#  - the function is AliasTestFunction-<run id>;
#  - `sleep 5` after update-function-code is a bounded poll for Successful;
#  - the tutorial counts versions with  grep -o '"version": [0-9]'  but
#    response.json holds the body as a JSON *string*, so its quotes are
#    escaped ({"statusCode": 200, "body": "{\"message\": ..., \"version\": 1}"})
#    and that pattern never matches, on AWS or here: the count below matches
#    \"version\": N instead;
#  - Step 5 ("Switch to 100% Version 2") passes --routing-config
#    AdditionalVersionWeights={}: without it the alias keeps its 50% weight on
#    version 2 and AWS refuses version 2 as its own additional version
#    ("already included in routing configuration"); lamina does the same.
#  - a failed invoke stops the script (the tutorial sends errors to
#    /dev/null and would count the previous response.json again);
#  - the counting loops keep 4 invokes in flight instead of 1 (see below).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/../common.sh"
fn="AliasTestFunction-$RUN_ID"
n="${CANARY_INVOKES:-20}"
start_work
on_failure 'aws lambda delete-function --function-name "$fn"'

# Invoke PROD $1 times and print how many answers came from each version,
# as the tutorial's loop does (`uniq -c`: "count version"). The tutorial
# invokes one at a time; this keeps 4 invokes in flight (same count, same
# alias, each its own response file) so that the example stays fast.
count_versions() {
  local i p pids=() failed=0
  rm -f response-*.json
  for i in $(seq "$1"); do
    aws lambda invoke \
      --function-name "$fn:PROD" \
      --payload '{}' \
      "response-$i.json" > /dev/null &
    pids+=("$!")
    if [ "${#pids[@]}" -ge 4 ]; then wait "${pids[0]}" || failed=1; pids=("${pids[@]:1}"); fi
  done
  for p in "${pids[@]}"; do wait "$p" || failed=1; done
  [ "$failed" = 0 ] || { echo "an invoke of $fn:PROD failed" >&2; return 1; }
  for i in $(seq "$1"); do
    grep -o '\\"version\\": [0-9]' "response-$i.json" | grep -o '[0-9]$'
  done | sort | uniq -c
}

echo "=== Step 1: Create Function with Two Versions ==="
cp "$here/alias_function_v1.py" "$here/alias_function_v2.py" .
zip -q function-v1.zip alias_function_v1.py
ACCOUNT_ID=$(aws sts get-caller-identity --query Account --output text)
aws lambda create-function \
  --function-name "$fn" \
  --runtime python3.9 \
  --role "arn:aws:iam::${ACCOUNT_ID}:role/MyFirstLambdaRole" \
  --handler alias_function_v1.lambda_handler \
  --zip-file fileb://function-v1.zip \
  --query '{FunctionName: FunctionName, State: State}' --output text
wait_active "$fn"
echo "published version: $(aws lambda publish-version \
  --function-name "$fn" \
  --description "Version 1 - Stable" --query Version --output text)"

zip -q function-v2.zip alias_function_v2.py
aws lambda update-function-code \
  --function-name "$fn" \
  --zip-file fileb://function-v2.zip --query LastUpdateStatus --output text
wait_updated "$fn"
# The v2 file has another name: the handler must follow it (the tutorial
# keeps alias_function_v1.lambda_handler, which is not in the v2 zip).
aws lambda update-function-configuration \
  --function-name "$fn" \
  --handler alias_function_v2.lambda_handler --query Handler --output text
wait_updated "$fn"
echo "published version: $(aws lambda publish-version \
  --function-name "$fn" \
  --description "Version 2 - New Feature" --query Version --output text)"

echo "=== Step 2: Create PROD Alias (100% Version 1) ==="
aws lambda create-alias \
  --function-name "$fn" \
  --name PROD \
  --function-version 1 \
  --description "Production environment" \
  --query '{Name: Name, FunctionVersion: FunctionVersion}' --output text
aws lambda invoke \
  --function-name "$fn:PROD" \
  --payload '{}' \
  response.json && cat response.json && echo ""

echo "=== Step 3: Canary Deployment (10% on Version 2) ==="
aws lambda update-alias \
  --function-name "$fn" \
  --name PROD \
  --function-version 1 \
  --routing-config AdditionalVersionWeights={"2"=0.1} \
  --query RoutingConfig --output json
echo "Starting canary deployment: 90% v1, 10% v2"
echo "Invoking $n times to see traffic distribution..."
count_versions "$n"

echo "=== Step 4: Increase to 50/50 Split ==="
aws lambda update-alias \
  --function-name "$fn" \
  --name PROD \
  --function-version 1 \
  --routing-config AdditionalVersionWeights={"2"=0.5} \
  --query RoutingConfig --output json
echo "Increased canary: 50% v1, 50% v2"
echo "Invoking $n times..."
count_versions "$n"

echo "=== Step 5: Complete Migration (100% Version 2) ==="
aws lambda update-alias \
  --function-name "$fn" \
  --name PROD \
  --function-version 2 \
  --routing-config 'AdditionalVersionWeights={}' \
  --query '{FunctionVersion: FunctionVersion, RoutingConfig: RoutingConfig}' --output json
echo "Completed migration: 100% v2"
echo "Invoking 10 times..."
count_versions 10

echo "=== Step 6: Rollback Test ==="
echo "Simulating rollback to Version 1..."
aws lambda update-alias \
  --function-name "$fn" \
  --name PROD \
  --function-version 1 --query FunctionVersion --output text
aws lambda invoke \
  --function-name "$fn:PROD" \
  --payload '{}' \
  response.json && cat response.json && echo ""

echo "=== Cleanup ==="
aws lambda delete-alias \
  --function-name "$fn" \
  --name PROD
aws lambda delete-function --function-name "$fn:2" >/dev/null
aws lambda delete-function --function-name "$fn:1" >/dev/null
aws lambda delete-function --function-name "$fn" >/dev/null
finished
gone="$(aws lambda get-function --function-name "$fn" 2>&1 || true)"
case "$gone" in *ResourceNotFoundException*) echo "deleted: $fn" ;; *) echo "still there: $fn" >&2; exit 1 ;; esac
echo "done"
