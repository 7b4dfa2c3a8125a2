"""lamina's Python runtime: a Lambda Runtime API client, standard library only.

Started as `python3 -S bootstrap.py [--opt DIR]` with the environment AWS
gives a function. Imports the handler named by _HANDLER from the task root,
then loops: GET /invocation/next, call the handler, POST /response or /error.
Init failures are posted to /init/error with AWS's error types.
"""
import json
import os
import sys
import time
import traceback

OPT = "/opt"
if len(sys.argv) > 2 and sys.argv[1] == "--opt":
    OPT = sys.argv[2]

TASK_ROOT = os.environ.get("LAMBDA_TASK_ROOT", "/var/task")
API = os.environ["AWS_LAMBDA_RUNTIME_API"]
RUNTIME = os.environ.get("AWS_EXECUTION_ENV", "AWS_Lambda_python3.12").replace("AWS_Lambda_", "")
PY_VERSION = RUNTIME.replace("python", "") or "%d.%d" % sys.version_info[:2]

# sys.path as AWS builds it: the task root, the layers' site-packages for the
# declared runtime, /opt/python, then the interpreter's own (with `site`
# re-enabled so that host packages such as boto3 stay importable, as on AWS).
sys.path[:0] = [TASK_ROOT, os.path.join(OPT, "python", "lib", "python" + PY_VERSION, "site-packages"),
                os.path.join(OPT, "python")]
import site  # noqa: E402  (after -S: only now, and after the paths above)
site.main()
for p in (TASK_ROOT, os.path.join(OPT, "python")):
    if p in sys.path:
        sys.path.remove(p)
sys.path.insert(0, TASK_ROOT)
sys.path.insert(2, os.path.join(OPT, "python"))

import http.client  # noqa: E402

HOST, _, PORT = API.partition(":")
CONN = http.client.HTTPConnection(HOST, int(PORT or 80))
BASE = "/2018-06-01/runtime"


def request(method, path, body=None, headers=None):
    global CONN
    for attempt in (0, 1):
        try:
            CONN.request(method, BASE + path, body=body, headers=headers or {})
            resp = CONN.getresponse()
            return resp, resp.read()
        except (ConnectionError, http.client.HTTPException):
            if attempt:
                raise
            CONN = http.client.HTTPConnection(HOST, int(PORT or 80))


def error_payload(exc, request_id=None, error_type=None, tb=None):
    body = {"errorMessage": str(exc), "errorType": error_type or type(exc).__name__}
    if request_id is not None:
        body["requestId"] = request_id
    body["stackTrace"] = traceback.format_list(traceback.extract_tb(tb))[1:] if tb else []
    return body


def init_error(message, error_type, tb=None):
    body = {"errorMessage": message, "errorType": error_type, "requestId": "",
            "stackTrace": traceback.format_list(traceback.extract_tb(tb)) if tb else []}
    print("[ERROR] %s: %s" % (error_type, message), file=sys.stderr, flush=True)
    request("POST", "/init/error", json.dumps(body).encode(),
            {"Content-Type": "application/json", "Lambda-Runtime-Function-Error-Type": error_type})
    sys.exit(1)


def load_handler():
    name = os.environ.get("_HANDLER", "")
    module_name, dot, func_name = name.rpartition(".")
    if not dot or not module_name or not func_name:
        init_error("Bad handler '%s': not enough values to unpack (expected 2, got 1)" % name,
                   "Runtime.MalformedHandlerName")
    module_name = module_name.replace("/", ".")
    try:
        import importlib
        module = importlib.import_module(module_name)
    except SyntaxError as e:
        init_error("Syntax error in module '%s': %s" % (module_name, e), "Runtime.UserCodeSyntaxError")
    except ImportError as e:
        init_error("Unable to import module '%s': %s" % (module_name, e), "Runtime.ImportModuleError")
    except Exception as e:  # the module raised while importing
        init_error(str(e), type(e).__name__, sys.exc_info()[2])
    handler = getattr(module, func_name, None)
    if handler is None:
        init_error("Handler '%s' missing on module '%s'" % (func_name, module_name), "Runtime.HandlerNotFound")
    return handler


class Context:
    def __init__(self, headers):
        self.aws_request_id = headers.get("Lambda-Runtime-Aws-Request-Id", "")
        self.invoked_function_arn = headers.get("Lambda-Runtime-Invoked-Function-Arn", "")
        self._deadline_ms = int(headers.get("Lambda-Runtime-Deadline-Ms", "0") or 0)
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        cc = headers.get("Lambda-Runtime-Client-Context")
        self.client_context = json.loads(cc) if cc else None
        ci = headers.get("Lambda-Runtime-Cognito-Identity")
        self.identity = json.loads(ci) if ci else None

    def get_remaining_time_in_millis(self):
        return max(0, self._deadline_ms - int(time.time() * 1000))


def main():
    handler = load_handler()
    while True:
        resp, body = request("GET", "/invocation/next")
        if resp.status != 200:
            time.sleep(0.01)
            continue
        headers = {k: v for k, v in resp.getheaders()}
        request_id = headers.get("Lambda-Runtime-Aws-Request-Id", "")
        trace = headers.get("Lambda-Runtime-Trace-Id")
        if trace:
            os.environ["_X_AMZN_TRACE_ID"] = trace
        context = Context(headers)
        try:
            event = json.loads(body) if body else {}
            result = handler(event, context)
            try:
                payload = json.dumps(result).encode()
            except (TypeError, ValueError) as e:
                raise_marshal = error_payload("Unable to marshal response: %s" % e, request_id, "Runtime.MarshalError")
                request("POST", "/invocation/%s/error" % request_id, json.dumps(raise_marshal).encode(),
                        {"Content-Type": "application/json", "Lambda-Runtime-Function-Error-Type": "Runtime.MarshalError"})
                continue
            request("POST", "/invocation/%s/response" % request_id, payload, {"Content-Type": "application/json"})
        except Exception as e:
            tb = sys.exc_info()[2]
            err = error_payload(e, request_id, tb=tb)
            print("[ERROR] %s: %s\nTraceback (most recent call last):\n%s" % (
                err["errorType"], err["errorMessage"], "".join(err["stackTrace"])), file=sys.stderr, flush=True)
            request("POST", "/invocation/%s/error" % request_id, json.dumps(err).encode(),
                    {"Content-Type": "application/json", "Lambda-Runtime-Function-Error-Type": "Unhandled"})


if __name__ == "__main__":
    main()
