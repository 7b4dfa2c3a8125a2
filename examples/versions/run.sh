#!/usr/bin/env bash
# The tutorial's exercise "Working with Versions" (lambda-advanced.md, section 2)
# with the real aws CLI against a running lamina:
# create VersionedFunction, invoke $LATEST, publish version 1, update the code,
# publish version 2, invoke $LATEST, :1 and :2, list the versions, clean up.
#
#   LAMINA_ENDPOINT=http://127.0.0.1:9001 bash examples/versions/run.sh
#
# Differences from the tutorial, all to make it repeatable and bounded:
#  - the function is VersionedFunction-<run id> (several runs never collide);
#  - `sleep 5` after update-function-code is a poll for LastUpdateStatus
#    Successful (at most 30 s);
#  - the files are built in a temporary directory, removed at exit.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/../common.sh"
fn="VersionedFunction-$RUN_ID"
start_work
on_failure 'aws lambda delete-function --function-name "$fn"'  # failed half way: leave nothing behind

echo "=== Step 1: Create Initial Function ==="
cp "$here/versioned_function_v1.py" versioned_function.py
zip -q function-v1.zip versioned_function.py
ACCOUNT_ID=$(aws sts get-caller-identity --query Account --output text)
echo "account: $ACCOUNT_ID"
aws lambda create-function \
  --function-name "$fn" \
  --runtime python3.9 \
  --role "arn:aws:iam::${ACCOUNT_ID}:role/MyFirstLambdaRole" \
  --handler versioned_function.lambda_handler \
  --zip-file fileb://function-v1.zip \
  --query '{FunctionName: FunctionName, Version: Version, State: State}' --output text
wait_active "$fn"

echo "=== Step 2: Test \$LATEST ==="
aws lambda invoke \
  --function-name "$fn" \
  --cli-binary-format raw-in-base64-out \
  --payload '{}' \
  response.json && cat response.json && echo ""

echo "=== Step 3: Publish Version 1 ==="
echo "published version: $(aws lambda publish-version \
  --function-name "$fn" \
  --description "v1.0.0 - Initial release" --query Version --output text)"

echo "=== Step 4: Update Code and Publish Version 2 ==="
cp "$here/versioned_function_v2.py" versioned_function.py
zip -q function-v2.zip versioned_function.py
aws lambda update-function-code \
  --function-name "$fn" \
  --zip-file fileb://function-v2.zip --query LastUpdateStatus --output text
wait_updated "$fn"
echo "published version: $(aws lambda publish-version \
  --function-name "$fn" \
  --description "v2.0.0 - Added new feature" --query Version --output text)"

echo "=== Step 5: Invoke Different Versions ==="
echo "=== \$LATEST ==="
aws lambda invoke \
  --function-name "$fn" \
  --payload '{}' \
  response.json && cat response.json && echo ""
echo "=== Version 1 ==="
aws lambda invoke \
  --function-name "$fn:1" \
  --payload '{}' \
  response.json && cat response.json && echo ""
echo "=== Version 2 ==="
aws lambda invoke \
  --function-name "$fn:2" \
  --payload '{}' \
  response.json && cat response.json && echo ""

echo "=== Step 6: List All Versions ==="
aws lambda list-versions-by-function \
  --function-name "$fn" --query 'Versions[].[Version, Description]' --output text

echo "=== Cleanup ==="
aws lambda delete-function --function-name "$fn:2" >/dev/null
aws lambda delete-function --function-name "$fn:1" >/dev/null
aws lambda delete-function --function-name "$fn" >/dev/null
finished
gone="$(aws lambda get-function --function-name "$fn" 2>&1 || true)"
case "$gone" in *ResourceNotFoundException*) echo "deleted: $fn" ;; *) echo "still there: $fn" >&2; exit 1 ;; esac
echo "done"
