#!/usr/bin/env bash
# The tutorial's exercise "Understanding Concurrency" (lambda-advanced.md,
# section 4) with the real aws CLI against a running lamina: a function that
# sleeps, reserved concurrency 3, ten parallel 10-second invocations (3 run,
# 7 are throttled with TooManyRequestsException), the CloudWatch
# ConcurrentExecutions and Throttles metrics, then the limit removed.
#
#   LAMINA_ENDPOINT=http://127.0.0.1:9001 bash examples/concurrency/run.sh
#
# Differences from the tutorial:
#  - the function is ConcurrencyTest-<run id>;
#  - Step 3 runs each invoke as `aws ... | grep ... &` in this shell. The
#    tutorial writes `( aws ... | grep ... & )`: the background job belongs to
#    a subshell that exits at once, so its `wait` returns immediately and
#    "Checking responses..." counts files before any invoke has finished;
#  - the CLI makes one attempt per call (AWS_MAX_ATTEMPTS=1, see common.sh):
#    with its default retries a throttled invoke is retried with backoff and
#    may succeed once the first three finish, hiding the throttle;
#  - a summary line follows each of Step 4's CloudWatch calls;
#  - after Step 5, ten short invocations show that without the limit none is
#    throttled (the tutorial only says so).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/../common.sh"
fn="ConcurrencyTest-$RUN_ID"
duration="${CONCURRENCY_DURATION:-10}"
start_work
on_failure 'aws lambda delete-function --function-name "$fn"'

echo "=== Step 1: Create Long-Running Function ==="
cp "$here/concurrency_test.py" .
zip -q concurrency-test.zip concurrency_test.py
ACCOUNT_ID=$(aws sts get-caller-identity --query Account --output text)
aws lambda create-function \
  --function-name "$fn" \
  --runtime python3.9 \
  --role "arn:aws:iam::${ACCOUNT_ID}:role/MyFirstLambdaRole" \
  --handler concurrency_test.lambda_handler \
  --timeout 30 \
  --zip-file fileb://concurrency-test.zip \
  --query '{FunctionName: FunctionName, Timeout: Timeout}' --output text
wait_active "$fn"

echo "=== Step 2: Set Reserved Concurrency ==="
aws lambda put-function-concurrency \
  --function-name "$fn" \
  --reserved-concurrent-executions 3 --output json
echo "Reserved concurrency set to 3"

echo "=== Step 3: Generate Concurrent Requests ==="
echo "Invoking 10 functions concurrently..."
echo "Expected: 3 succeed immediately, 7 throttled or queued"
started=$(date +%s)
for i in {1..10}; do
  aws lambda invoke \
    --function-name "$fn" \
    --invocation-type RequestResponse \
    --payload "{\"duration\": $duration}" \
    "response-${i}.json" 2>&1 | grep -E "(StatusCode|TooManyRequests)" &
done
wait
echo "all 10 returned after $(( $(date +%s) - started )) s"
echo "Checking responses..."
ls response-*.json 2>/dev/null | wc -l
echo "succeeded: $(grep -l '"statusCode": 200' response-*.json 2>/dev/null | wc -l)"

echo "=== Step 4: Monitor Concurrency ==="
start="$(date -u -d '5 minutes ago' +%Y-%m-%dT%H:%M:%S)"
end="$(date -u +%Y-%m-%dT%H:%M:%S)"
aws cloudwatch get-metric-statistics \
  --namespace AWS/Lambda \
  --metric-name ConcurrentExecutions \
  --dimensions "Name=FunctionName,Value=$fn" \
  --start-time "$start" \
  --end-time "$end" \
  --period 60 \
  --statistics Maximum --output json | tee conc.json
echo "ConcurrentExecutions Maximum: $(python3 -c 'import json,sys; print(max([p["Maximum"] for p in json.load(open(sys.argv[1]))["Datapoints"]] or [0]))' conc.json)"
aws cloudwatch get-metric-statistics \
  --namespace AWS/Lambda \
  --metric-name Throttles \
  --dimensions "Name=FunctionName,Value=$fn" \
  --start-time "$start" \
  --end-time "$end" \
  --period 60 \
  --statistics Sum --output json | tee thr.json
echo "Throttles Sum: $(python3 -c 'import json,sys; print(sum(p["Sum"] for p in json.load(open(sys.argv[1]))["Datapoints"]))' thr.json)"

echo "=== Step 5: Remove Concurrency Limit ==="
aws lambda delete-function-concurrency \
  --function-name "$fn"
echo "Concurrency limit removed, now using shared pool"
rm -f again-*.json
for i in {1..10}; do
  aws lambda invoke --function-name "$fn" --payload '{"duration": 1}' "again-${i}.json" 2>&1 |
    grep -E "(StatusCode|TooManyRequests)" &
done
wait
echo "without the limit: $(grep -l '"statusCode": 200' again-*.json 2>/dev/null | wc -l) of 10 succeeded"

echo "=== Cleanup ==="
aws lambda delete-function --function-name "$fn" >/dev/null
finished
gone="$(aws lambda get-function --function-name "$fn" 2>&1 || true)"
case "$gone" in *ResourceNotFoundException*) echo "deleted: $fn" ;; *) echo "still there: $fn" >&2; exit 1 ;; esac
echo "done"
