# Sourced by every examples/*/run.sh: points the real aws CLI at a running
# lamina and makes the tutorial's commands work unchanged on aws CLI v1 and v2.
#
#   LAMINA_ENDPOINT   lamina's URL (default http://127.0.0.1:9001)
#
# After sourcing, `aws ...` in a script is the real CLI with
#   --endpoint-url "$LAMINA_ENDPOINT" and bounded connect/read timeouts.
# shellcheck shell=bash

LAMINA_ENDPOINT="${LAMINA_ENDPOINT:-http://127.0.0.1:9001}"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}" AWS_PAGER=""
# One attempt per call: the CLI's default retries would hide throttles (429)
# and turn a refused request into a slow success.
export AWS_MAX_ATTEMPTS=1 AWS_RETRY_MODE=standard
# lamina is on loopback: never send it through a proxy.
export NO_PROXY="${NO_PROXY:+$NO_PROXY,}127.0.0.1,localhost" no_proxy="${no_proxy:+$no_proxy,}127.0.0.1,localhost"

command -v aws >/dev/null 2>&1 || { echo "the aws CLI is needed (Debian: apt-get install awscli)" >&2; exit 2; }

# The tutorial writes `aws lambda invoke --cli-binary-format raw-in-base64-out`
# in some steps and not in others. aws CLI v2 needs that option for a JSON
# --payload (it base64-decodes blobs otherwise); v1 always sends the payload
# as is and refuses the option. So: v2 gets it on every invoke, v1 never.
case "$(command aws --version 2>&1)" in
  aws-cli/1.*) _lamina_cli_v1=1 ;;
  *) _lamina_cli_v1=0 ;;
esac

aws() {
  local args=() skip=0 a has_fmt=0
  for a in "$@"; do
    if [ "$skip" = 1 ]; then skip=0; continue; fi
    if [ "$a" = "--cli-binary-format" ]; then
      has_fmt=1
      if [ "$_lamina_cli_v1" = 1 ]; then skip=1; continue; fi
    fi
    args+=("$a")
  done
  if [ "$_lamina_cli_v1" = 0 ] && [ "$has_fmt" = 0 ] && [ "${1:-}" = lambda ] && [ "${2:-}" = invoke ]; then
    args+=(--cli-binary-format raw-in-base64-out)
  fi
  command aws --endpoint-url "$LAMINA_ENDPOINT" --cli-connect-timeout 5 --cli-read-timeout 60 "${args[@]}"
}

# Unique names per run, so that runs never collide (and reruns need no cleanup).
RUN_ID="$(date +%s)-$$"

# health check before anything else: a clear message instead of a CLI stack
if ! curl -fsS --max-time 5 "$LAMINA_ENDPOINT/health" >/dev/null 2>&1; then
  echo "lamina does not answer at $LAMINA_ENDPOINT/health (start it: bash scripts/serve.sh)" >&2
  exit 2
fi

# Bounded stand-ins for the tutorial's `sleep 5` after create/update: poll
# until the function is Active / its last update Successful (30 s at most).
wait_config() {  # wait_config FUNCTION FIELD VALUE
  local i s
  for i in $(seq 60); do
    s="$(aws lambda get-function-configuration --function-name "$1" --query "$2" --output text)"
    [ "$s" = "$3" ] && return 0
    sleep 0.5
  done
  echo "function $1: $2 still $s after 30 s" >&2; return 1
}
wait_active() { wait_config "$1" State Active; }                    # wait_active FUNCTION
wait_updated() { wait_config "$1" LastUpdateStatus Successful; }    # wait_updated FUNCTION

# start_work: a fresh scratch folder, $work, becomes the current directory
# and is removed when the script exits. Commands given to on_failure (one
# string each, expanded at exit) undo what the script made if it stops half
# way; `finished` marks a complete run, which cleaned up after itself.
# Commands given to at_exit run either way.
_lamina_on_failure=() _lamina_at_exit=() _lamina_finished=0
on_failure() { _lamina_on_failure+=("$1"); }
at_exit() { _lamina_at_exit+=("$1"); }
finished() { _lamina_finished=1; }
_lamina_exit() {
  local c
  if [ "$_lamina_finished" = 0 ]; then
    for c in "${_lamina_on_failure[@]}"; do eval "$c" >/dev/null 2>&1 || true; done
  fi
  for c in "${_lamina_at_exit[@]}"; do eval "$c" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
start_work() {
  work="$(mktemp -d)"
  trap _lamina_exit EXIT
  cd "$work"
}
