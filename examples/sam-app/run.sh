#!/usr/bin/env bash
# The SAM application against a running lamina: deploy it with `lamina
# deploy`, call the functions with the aws CLI, change the code and watch the
# canary move the `live` alias from version 1 to version 2, then delete the
# stack. The canary's five minutes are shortened with --deployment-minute.
#
#   LAMINA_ENDPOINT=http://127.0.0.1:9001 bash examples/sam-app/run.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
lamina="${LAMINA:-$(command -v lamina || echo "$here/../../build/lamina")}"
endpoint="${LAMINA_ENDPOINT:-http://127.0.0.1:9001}"
minute="${MINUTE_SECONDS:-2}"   # one "minute" of Canary10Percent5Minutes, in seconds
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}" AWS_PAGER="" AWS_MAX_ATTEMPTS=1
lam() { aws --endpoint-url "$endpoint" "$@"; }
stack="sam-app-$$"
work="$(mktemp -d)"
cleanup() { "$lamina" delete --stack-name "$stack" --endpoint "$endpoint" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
cp -r "$here/template.yaml" "$here/layer" "$here/src" "$work/"

# aws CLI v2 needs to be told that --payload is raw JSON; v1 takes it as is
payload_flag=()
aws --version 2>&1 | grep -q '^aws-cli/2' && payload_flag=(--cli-binary-format raw-in-base64-out)
invoke() {  # invoke FUNCTION[:QUALIFIER] PAYLOAD -> prints the response body
  lam lambda invoke --function-name "$1" --payload "$2" "${payload_flag[@]}" "$work/out.json" >/dev/null
  cat "$work/out.json"
}
field() { python3 -c "import json,sys; d=json.load(open('$work/out.json')); print($1)"; }

echo "== deploy (version 1)"
"$lamina" deploy "$work/template.yaml" --endpoint "$endpoint" --stack-name "$stack" \
  --parameter-overrides Greeting=Hello
invoke "$stack-greet:live" '{"name": "Ada"}' >/dev/null
echo "greet: $(field "d['body']['message']") code=$(field "d['body']['code']") stage=$(field "d['stage']") layer=$(field "d['layer']")"
invoke "$stack-report" '{"items": [1, 2, 3]}' >/dev/null
echo "report: items=$(field "d['body']['items']") layer=$(field "d['layer']")"
echo "provisioned on live: $(lam lambda get-provisioned-concurrency-config --function-name "$stack-greet" --qualifier live --query '[Status, AllocatedProvisionedConcurrentExecutions]' --output text)"
echo "reserved on report: $(lam lambda get-function-concurrency --function-name "$stack-report" --query ReservedConcurrentExecutions --output text)"

echo "== new code, canary deployment"
sed -i 's/VERSION = "v1"/VERSION = "v2"/' "$work/src/greet/app.py"
"$lamina" deploy "$work/template.yaml" --endpoint "$endpoint" --stack-name "$stack" \
  --parameter-overrides Greeting=Hello DeploymentType=Canary10Percent5Minutes --deployment-minute "$minute" --no-wait
echo "alias live: $(lam lambda get-alias --function-name "$stack-greet" --name live --query '[FunctionVersion, RoutingConfig.AdditionalVersionWeights]' --output json | tr -d ' \n')"
v1=0; v2=0
for _ in $(seq 1 40); do
  invoke "$stack-greet:live" '{}' >/dev/null
  if [ "$(field "d['body']['code']")" = v2 ]; then v2=$((v2 + 1)); else v1=$((v1 + 1)); fi
done
echo "during the canary: v1=$v1 v2=$v2 of 40"
# `lamina deploy` without --no-wait would stay until the shift ends; here the
# script waits for it (bounded: 5 "minutes" and a margin)
deadline=$(( $(date +%s) + 5 * ${minute%.*} + 30 ))
until [ "$(lam lambda get-alias --function-name "$stack-greet" --name live --query FunctionVersion --output text)" = 2 ]; do
  [ "$(date +%s)" -lt "$deadline" ] || { echo "the canary did not finish" >&2; exit 1; }
  sleep 0.5
done
echo "alias live: $(lam lambda get-alias --function-name "$stack-greet" --name live --query '[FunctionVersion, RoutingConfig.AdditionalVersionWeights]' --output json | tr -d ' \n')"
invoke "$stack-greet:live" '{"name": "Grace"}' >/dev/null
echo "greet: $(field "d['body']['message']") code=$(field "d['body']['code']") version=$(field "d['body']['function_version']")"

echo "== delete the stack"
"$lamina" delete --stack-name "$stack" --endpoint "$endpoint"
if lam lambda get-function --function-name "$stack-greet" >/dev/null 2>&1; then echo "still there" >&2; exit 1; fi
echo "functions left: $(lam lambda list-functions --query "length(Functions[?starts_with(FunctionName, '$stack')])" --output text)"
echo "done"
