#!/bin/bash
# lamina's extension launcher: started in the execution environment in place
# of the runtime when the layers' /opt/extensions holds executables.
#
#   launch.sh OPT_DIR RUNTIME_COMMAND...
#
# As on AWS, every executable file in OPT_DIR/extensions starts first, in
# parallel, with the function's environment minus the variables that only
# the runtime gets; then this shell becomes the runtime (exec). When an
# extension exits, its status is reported to lamina over the Runtime API's
# address, so that an extension crashing during init fails the init at once
# (Extension.Crash) instead of letting it wait for a registration that will
# never come. Each line an extension prints is marked with a leading 0x1e
# byte: lamina strips it, and tells extension lines from the function's by it
# (the Telemetry API's "extension" records).
opt="$1"
shift
api="${AWS_LAMBDA_RUNTIME_API:-127.0.0.1:9001}"
for ext in "$opt"/extensions/*; do
    [ -f "$ext" ] && [ -x "$ext" ] || continue
    (
        env -u AWS_EXECUTION_ENV -u AWS_LAMBDA_LOG_GROUP_NAME -u AWS_LAMBDA_LOG_STREAM_NAME \
            -u LAMBDA_RUNTIME_DIR -u LAMBDA_TASK_ROOT -u _HANDLER -u AWS_XRAY_CONTEXT_MISSING \
            -u AWS_XRAY_DAEMON_ADDRESS -u _AWS_XRAY_DAEMON_ADDRESS -u _AWS_XRAY_DAEMON_PORT \
            "$ext" </dev/null 2>&1 | while IFS= read -r line || [ -n "$line" ]; do
                printf '\036%s\n' "$line"
            done
        status=${PIPESTATUS[0]}
        name="${ext##*/}"
        name="${name//%/%25}"; name="${name//&/%26}"; name="${name// /%20}"; name="${name//#/%23}"
        if exec 3<>"/dev/tcp/${api%:*}/${api##*:}"; then
            printf 'POST /_lamina/extension/exited?name=%s&status=%s HTTP/1.1\r\nHost: %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n' \
                "$name" "$status" "$api" >&3
            read -r -t 2 _ <&3
        fi
    ) &
done
exec "$@"
