#!/usr/bin/env bash
# The tutorial's versions and aliases exercises (control plane) with the real
# aws CLI against a running lamina. Invoking the versions comes with the data
# plane; everything else here is exactly what AWS answers.
#
#   LAMINA_ENDPOINT=http://127.0.0.1:9001 bash examples/versions-and-aliases/run.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}" AWS_PAGER="" AWS_MAX_ATTEMPTS=1
lam() { aws --endpoint-url "${LAMINA_ENDPOINT:-http://127.0.0.1:9001}" "$@"; }
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
fn="VersionedFunction-$$"

(cd "$here" && cp versioned_function_v1.py "$work/versioned_function.py")
(cd "$work" && zip -q function-v1.zip versioned_function.py)
(cd "$here" && cp versioned_function_v2.py "$work/versioned_function.py")
(cd "$work" && zip -q function-v2.zip versioned_function.py)

ACCOUNT_ID=$(lam sts get-caller-identity --query Account --output text)
echo "account: $ACCOUNT_ID"
lam lambda create-function --function-name "$fn" --runtime python3.9 \
  --role "arn:aws:iam::${ACCOUNT_ID}:role/MyFirstLambdaRole" \
  --handler versioned_function.lambda_handler --zip-file "fileb://$work/function-v1.zip" \
  --query '{State: State, Version: Version}' --output text
lam lambda wait function-active-v2 --function-name "$fn"
echo "published: $(lam lambda publish-version --function-name "$fn" --description 'v1.0.0 - Initial release' --query Version --output text)"
lam lambda update-function-code --function-name "$fn" --zip-file "fileb://$work/function-v2.zip" --query LastUpdateStatus --output text
lam lambda wait function-updated-v2 --function-name "$fn"
echo "published: $(lam lambda publish-version --function-name "$fn" --description 'v2.0.0 - Added new feature' --query Version --output text)"
echo "versions: $(lam lambda list-versions-by-function --function-name "$fn" --query 'Versions[].Version' --output text)"

lam lambda create-alias --function-name "$fn" --name PROD --function-version 1 --description "Production environment" \
  --query '{Alias: Name, Version: FunctionVersion}' --output text
lam lambda update-alias --function-name "$fn" --name PROD --function-version 1 \
  --routing-config AdditionalVersionWeights={"2"=0.1} --query RoutingConfig --output json
lam lambda update-alias --function-name "$fn" --name PROD --function-version 1 \
  --routing-config AdditionalVersionWeights={"2"=0.5} --query RoutingConfig --output json
# Switching to 100% version 2: the additional weight must be cleared too, or
# AWS (and lamina) refuse version 2 as "already included in routing configuration".
lam lambda update-alias --function-name "$fn" --name PROD --function-version 2 \
  --routing-config 'AdditionalVersionWeights={}' --query FunctionVersion --output text
lam lambda update-alias --function-name "$fn" --name PROD --function-version 1 --query FunctionVersion --output text
lam lambda delete-alias --function-name "$fn" --name PROD
lam lambda delete-function --function-name "$fn:2"
lam lambda delete-function --function-name "$fn:1"
lam lambda delete-function --function-name "$fn"
echo "done"
