"""lamina's Python runtime: a Lambda Runtime API client, standard library only.

Started as `python3 -S -u bootstrap.py [--opt DIR] [--debug PORT --debugpy DIR
[--debug-wait]] [--spare]` with the environment AWS gives a function. Builds sys.path
as AWS does, imports the handler named by _HANDLER from the task root, then
loops: GET /invocation/next, call the handler, POST /response or /error.
Init failures are posted to /init/error with AWS's error types.

Kept lean for cold starts and cheap per invoke: HTTP/1.1 is spoken by the
small client below over one persistent socket (http.client alone would import
email, ssl and more, ~15 ms), and traceback and importlib are only imported
when they are needed.
"""
import json
import os
import sys
import time

import _socket  # socket.py adds only enum wrappers, at a cost, on top of this

OPT = "/opt"
if len(sys.argv) > 2 and sys.argv[1] == "--opt":
    OPT = sys.argv[2]

TASK_ROOT = os.environ.get("LAMBDA_TASK_ROOT", "/var/task")
API = os.environ["AWS_LAMBDA_RUNTIME_API"]
RUNTIME = os.environ.get("AWS_EXECUTION_ENV", "AWS_Lambda_python3.12").replace("AWS_Lambda_", "")
PY_VERSION = RUNTIME.replace("python", "") or "%d.%d" % sys.version_info[:2]
STDLIB_PATH = list(sys.path)  # under -S: this folder and the interpreter's own library

# sys.path as AWS builds it: the task root, the layers' site-packages for the
# declared runtime, /opt/python, then the interpreter's own library.
sys.path[:0] = [TASK_ROOT, os.path.join(OPT, "python", "lib", "python" + PY_VERSION, "site-packages"),
                os.path.join(OPT, "python")]
import site  # noqa: E402  (after -S: only now, and after the paths above)
site.main()
for p in (TASK_ROOT, os.path.join(OPT, "python")):
    if p in sys.path:
        sys.path.remove(p)
sys.path.insert(0, TASK_ROOT)
sys.path.insert(2, os.path.join(OPT, "python"))

# The host's site-packages are not AWS's: a function must not import whatever
# happens to be installed here (requests, say) and then fail on AWS. They leave
# sys.path; what AWS's Python runtimes ship beside the standard library (the
# AWS SDK and its dependencies) stays importable from them, found last, so a
# copy in the task root or a layer still wins.
AWS_PROVIDED = frozenset(("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six", "urllib3"))
HOST_SITE = [p for p in sys.path[3:] if p not in STDLIB_PATH and ("-packages" in p)]
for p in HOST_SITE:
    sys.path.remove(p)
if HOST_SITE:
    import _frozen_importlib_external  # noqa: E402  (already loaded: costs nothing)

    def _imported_by_host_package():
        """Whether the import statement being served is in a host package (the
        SDK's own imports: Debian's botocore, say, uses the system's requests
        where AWS's vendors its own copy)."""
        f = sys._getframe(2)
        while f is not None:
            filename = f.f_code.co_filename
            if not filename.startswith("<frozen"):
                return filename.startswith(tuple(HOST_SITE))
            f = f.f_back
        return False

    class AwsProvidedFinder:
        """Finds the AWS-provided top-level packages in the host's site-packages."""

        @staticmethod
        def find_spec(name, path=None, target=None):
            if path is not None or (name not in AWS_PROVIDED and not _imported_by_host_package()):
                return None
            return _frozen_importlib_external.PathFinder.find_spec(name, HOST_SITE)

    sys.meta_path.append(AwsProvidedFinder)


# lamina points the SDK at itself with AWS_ENDPOINT_URL (and AWS_ENDPOINT_URL_<SERVICE>),
# which botocore reads only from 1.31 on. An older botocore (Debian's 1.29, say) would send
# a function's SDK calls to the real AWS: when botocore.session is first imported, and only
# then, its create_client learns to read those variables the way 1.31 does.
def _endpoint_from_environment(session, service_name, api_version):
    env = os.environ
    if env.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").lower() == "true":
        return None
    if any(k.startswith("AWS_ENDPOINT_URL_") for k in env):
        try:
            service_id = str(session.get_service_model(service_name, api_version).service_id)
            specific = env.get("AWS_ENDPOINT_URL_" + service_id.replace(" ", "_").upper())
            if specific:
                return specific
        except Exception:  # an unknown service fails in create_client itself, with botocore's error
            pass
    return env.get("AWS_ENDPOINT_URL") or None


def _teach_old_botocore(session_module):
    botocore = sys.modules.get("botocore")
    try:
        if tuple(int(x) for x in botocore.__version__.split(".")[:2]) >= (1, 31):
            return
    except (AttributeError, ValueError):
        return
    create_client = session_module.Session.create_client

    def create_client_with_endpoint(self, service_name, region_name=None, api_version=None, use_ssl=True,
                                    verify=None, endpoint_url=None, *args, **kwargs):
        if endpoint_url is None:
            endpoint_url = _endpoint_from_environment(self, service_name, api_version)
        return create_client(self, service_name, region_name, api_version, use_ssl, verify, endpoint_url,
                             *args, **kwargs)

    session_module.Session.create_client = create_client_with_endpoint


class AfterImport:
    """Runs a hook on a module right after its first import (found through the
    other finders), so that the runtime touches botocore or logging only for
    functions that import them: nothing is imported up front."""

    hooks = {}

    @classmethod
    def find_spec(cls, name, path=None, target=None):
        hook = cls.hooks.pop(name, None)
        if hook is None:
            return None
        for finder in sys.meta_path:
            if finder is cls or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is None:
                continue
            exec_module = spec.loader.exec_module

            def exec_and_hook(module):
                exec_module(module)
                hook(module)

            spec.loader.exec_module = exec_and_hook
            return spec
        return None


if any(k.startswith("AWS_ENDPOINT_URL") for k in os.environ):
    AfterImport.hooks["botocore.session"] = _teach_old_botocore
sys.meta_path.insert(0, AfterImport)

# LoggingConfig: the format and level the function's logging records take.
JSON_LOGS = os.environ.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON"
REQUEST = {"id": None, "tenant": None}  # the invocation being run, for log records


def json_log_line(record_fields):
    return json.dumps({k: v for k, v in record_fields.items() if v is not None}, default=str)


# What a LogRecord carries by itself; anything else came from `extra=` and goes into a JSON record.
_RECORD_ATTRIBUTES = frozenset((
    "args", "asctime", "created", "exc_info", "exc_text", "filename", "funcName", "levelname", "levelno",
    "lineno", "message", "module", "msecs", "msg", "name", "pathname", "process", "processName",
    "relativeCreated", "stack_info", "thread", "threadName", "taskName", "aws_request_id"))


def _install_logging(logging):
    """As AWS's Python runtime: a handler on the root logger. Text: "[LEVEL]\t<time>\t<request id>\t
    <message>"; JSON: AWS's record, and the root logger at AWS_LAMBDA_LOG_LEVEL (INFO by default)."""

    class RequestId(logging.Filter):
        def filter(self, record):
            record.aws_request_id = REQUEST["id"]
            return True

    encode = json.JSONEncoder(default=str).encode
    second = [None, ""]  # the last record's second and its timestamp: strftime once a second

    class JsonFormatter(logging.Formatter):
        def format(self, record):
            created = int(record.created)
            if created != second[0]:
                second[0], second[1] = created, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created))
            fields = {"timestamp": second[1], "level": record.levelname, "message": record.getMessage(),
                      "logger": record.name, "requestId": REQUEST["id"], "tenantId": REQUEST["tenant"]}
            if record.exc_info and record.exc_info[0] is not None:
                kind, value, tb = record.exc_info
                fields["errorType"] = kind.__name__
                fields["errorMessage"] = str(value)
                fields["stackTrace"] = format_tb(tb)
                fields["location"] = "%s:%s:%d" % (record.pathname, record.funcName, record.lineno)
            attributes = record.__dict__
            for key in [k for k in attributes if k not in _RECORD_ATTRIBUTES and k not in fields]:
                fields[key] = attributes[key]
            return encode({k: v for k, v in fields.items() if v is not None})

    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(RequestId())
    root = logging.getLogger()
    if JSON_LOGS:
        handler.setFormatter(JsonFormatter())
        level = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "INFO").upper()
        root.setLevel({"TRACE": "DEBUG", "WARN": "WARNING", "FATAL": "CRITICAL"}.get(level, level))
    else:
        text = logging.Formatter("[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
                                 "%Y-%m-%dT%H:%M:%S")
        text.converter = time.gmtime
        handler.setFormatter(text)
    root.addHandler(handler)


if "logging" in sys.modules:
    _install_logging(sys.modules["logging"])
else:
    AfterImport.hooks["logging"] = _install_logging

# Fixed for the life of the environment: read once, not per invoke.
FUNCTION_NAME = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
FUNCTION_VERSION = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
MEMORY_SIZE = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
LOG_GROUP = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
LOG_STREAM = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")


def stdlib(name):
    """Import a standard module late, from the interpreter's own library only:
    the task root and the layers come first on sys.path and could shadow it."""
    module = sys.modules.get(name)
    if module is None:
        path, sys.path = sys.path, STDLIB_PATH
        try:
            module = __import__(name)
        finally:
            sys.path = path
    return module


class RuntimeApi:
    """A minimal HTTP/1.1 client for the Runtime API over one keep-alive socket.

    send() writes a whole request in one call and returns (status, headers,
    body) with lower-cased header names; a request whose connection turns out
    to be dropped is retried once on a new one.
    """

    def __init__(self, address):
        self.address = address
        self.sock = None
        self.rest = b""  # bytes read past the end of the last response

    def head(self, method, path, headers=None):
        """A request's start line and headers, up to (not including) Content-Length."""
        lines = ["%s /2018-06-01/runtime%s HTTP/1.1\r\nHost: %s\r\n" % (method, path, self.address)]
        for name, value in (headers or {}).items():
            lines.append("%s: %s\r\n" % (name, value))
        return "".join(lines).encode()

    def request(self, method, path, body=None, headers=None):
        head = self.head(method, path, headers)
        if body is None:
            return self.send(head + b"\r\n")
        return self.send(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def send(self, data):
        for attempt in (0, 1):
            try:
                if self.sock is None:
                    self.connect()
                self.sock.sendall(data)
                return self.read_response()
            except ConnectionError:
                self.close()
                if attempt:
                    raise

    def connect(self):
        host, _, port = self.address.rpartition(":")
        host = (host.strip("[]") or "127.0.0.1").encode()  # bytes: a str would import the idna codec
        error = None
        for family, kind, proto, _, addr in _socket.getaddrinfo(host, int(port or 80), 0, _socket.SOCK_STREAM):
            sock = _socket.socket(family, kind, proto)
            try:
                sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
                sock.connect(addr)
            except OSError as e:
                sock.close()
                error = e
                continue
            self.sock, self.rest = sock, b""
            return
        raise error or ConnectionRefusedError("cannot connect to the Runtime API at " + self.address)

    def close(self):
        if self.sock is not None:
            self.sock.close()
        self.sock, self.rest = None, b""

    def recv(self):
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionResetError("the Runtime API closed the connection")
        return data

    def fill(self, data, n):
        """data, or when it is shorter, a buffer of exactly n bytes: data and more from the socket."""
        if len(data) >= n:
            return data
        buf = bytearray(n)
        buf[:len(data)] = data
        view, got = memoryview(buf), len(data)
        while got < n:
            k = self.sock.recv_into(view[got:])
            if not k:
                raise ConnectionResetError("the Runtime API closed the connection")
            got += k
        return buf

    def line(self, data):
        """(one CRLF-terminated line, what follows it)"""
        while True:
            end = data.find(b"\r\n")
            if end >= 0:
                return data[:end], data[end + 2:]
            data += self.recv()

    def read_response(self):
        data = self.rest or self.recv()
        end = data.find(b"\r\n\r\n")
        while end < 0:
            data += self.recv()
            end = data.find(b"\r\n\r\n")
        lines = data[:end].decode("latin-1").split("\r\n")
        version, _, status = lines[0].partition(" ")
        if not version.startswith("HTTP/") or not status[:3].isdigit():
            raise ConnectionResetError("malformed Runtime API response: %r" % lines[0][:80])
        status = int(status[:3])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.lower()] = value.strip()
        data = data[end + 4:]
        if status < 200:  # an interim response (100 Continue): the real one follows
            self.rest = data
            return self.read_response()

        length = headers.get("content-length")
        if status in (204, 304):
            body = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            body, data = self.read_chunked(data)
        elif length is not None:
            n = int(length)
            data = self.fill(data, n)
            body, data = (data, b"") if len(data) == n else (data[:n], data[n:])  # no copy of a big body
        else:  # delimited by the end of the connection
            chunks = [data]
            chunk = self.sock.recv(65536)
            while chunk:
                chunks.append(chunk)
                chunk = self.sock.recv(65536)
            self.close()
            return status, headers, b"".join(chunks)
        self.rest = data
        connection = headers.get("connection", "").lower()
        if "close" in connection or (version == "HTTP/1.0" and "keep-alive" not in connection):
            self.close()
        return status, headers, body

    def read_chunked(self, data):
        """(the body of a chunked response, the bytes after it)"""
        chunks = []
        while True:
            size, data = self.line(data)
            size = int(size.split(b";", 1)[0], 16)
            if not size:
                break
            data = self.fill(data, size + 2)
            chunks.append(data[:size])
            data = data[size + 2:]
        trailer, data = self.line(data)
        while trailer:  # trailer fields, up to an empty line
            trailer, data = self.line(data)
        return b"".join(chunks), data


RUNTIME_API = RuntimeApi(API)


def post_error(path, body, error_type):
    RUNTIME_API.request("POST", path, json.dumps(body).encode(),
                        {"Content-Type": "application/json", "Lambda-Runtime-Function-Error-Type": error_type})


def format_tb(tb):
    traceback = stdlib("traceback")
    return traceback.format_list(traceback.extract_tb(tb))


def error_payload(exc, request_id=None, error_type=None, tb=None):
    body = {"errorMessage": str(exc), "errorType": error_type or type(exc).__name__}
    if request_id is not None:
        body["requestId"] = request_id
    body["stackTrace"] = format_tb(tb)[1:] if tb else []
    return body


def init_error(message, error_type, tb=None):
    body = {"errorMessage": message, "errorType": error_type, "requestId": "",
            "stackTrace": format_tb(tb) if tb else []}
    if JSON_LOGS:
        print(json_log_line({"timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "log_level": "ERROR",
                             "errorMessage": message, "errorType": error_type, "requestId": "",
                             "stackTrace": body["stackTrace"]}), flush=True)
    else:
        print("[ERROR] %s: %s" % (error_type, message), file=sys.stderr, flush=True)
    post_error("/init/error", body, error_type)
    sys.exit(1)


def load_handler():
    name = os.environ.get("_HANDLER", "")
    module_name, dot, func_name = name.rpartition(".")
    if not dot or not module_name or not func_name:
        init_error("Bad handler '%s': not enough values to unpack (expected 2, got 1)" % name,
                   "Runtime.MalformedHandlerName")
    module_name = module_name.replace("/", ".")
    try:
        importlib = stdlib("importlib")
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


def json_header(value):
    # header bytes were decoded as latin-1: back to bytes, for json to read as UTF-8
    return json.loads(value.encode("latin-1")) if value else None


class _Fields:
    """An object whose attributes are named fields, None when absent (as AWS's
    ClientContext, Client and CognitoIdentity objects are)."""
    __slots__ = ()

    def __init__(self, values=None):
        values = values if isinstance(values, dict) else {}
        for name in self.__slots__:
            setattr(self, name, values.get(name))

    def __repr__(self):
        return "%s(%s)" % (type(self).__name__, ", ".join("%s=%r" % (n, getattr(self, n)) for n in self.__slots__))


class Client(_Fields):
    __slots__ = ("installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name")


class ClientContext(_Fields):
    __slots__ = ("custom", "env", "client")

    def __init__(self, values):
        super().__init__(values)
        if self.client is not None:
            self.client = Client(self.client)


class CognitoIdentity(_Fields):
    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(self, values=None):
        values = values or {}
        super().__init__({"cognito_identity_id": values.get("cognitoIdentityId"),
                          "cognito_identity_pool_id": values.get("cognitoIdentityPoolId")})


class Context:
    def __init__(self, headers):
        self.aws_request_id = headers.get("lambda-runtime-aws-request-id", "")
        self.invoked_function_arn = headers.get("lambda-runtime-invoked-function-arn", "")
        self._deadline_ms = int(headers.get("lambda-runtime-deadline-ms", "0") or 0)
        self.function_name = FUNCTION_NAME
        self.function_version = FUNCTION_VERSION
        self.memory_limit_in_mb = MEMORY_SIZE
        self.log_group_name = LOG_GROUP
        self.log_stream_name = LOG_STREAM
        # as AWS's runtime: client_context is None without one, identity always an object
        cc = json_header(headers.get("lambda-runtime-client-context"))
        self.client_context = ClientContext(cc) if cc is not None else None
        self.identity = CognitoIdentity(json_header(headers.get("lambda-runtime-cognito-identity")))
        # tenant isolation: the invocation's tenant (None for other functions), as AWS's runtime
        self.tenant_id = headers.get("lambda-runtime-aws-tenant-id")

    def get_remaining_time_in_millis(self):
        return max(0, self._deadline_ms - int(time.time() * 1000))


def start_debugger(argv):
    """lamina's `--debug PORT --debugpy DIR [--debug-wait]`: debugpy listens on
    127.0.0.1:PORT before the handler is imported (and, waiting, returns once a
    client has attached). DIR holds only debugpy and pydevd; it stays last on
    sys.path, where pydevd imports its modules from as it needs them."""
    if "--debug" not in argv:
        return
    port = int(argv[argv.index("--debug") + 1])
    folder = argv[argv.index("--debugpy") + 1]
    path, sys.path = sys.path, STDLIB_PATH + [folder]  # debugpy's own imports: the standard library
    try:
        import debugpy
        debugpy.listen(("127.0.0.1", port))
    except Exception as e:
        sys.path = path
        init_error("debugpy could not listen on 127.0.0.1:%d: %s" % (port, e), "Runtime.Unavailable")
    sys.path = path + [folder]
    print("lamina: debugpy listening on 127.0.0.1:%d%s" % (
        port, ", waiting for a client" if "--debug-wait" in argv else ""), file=sys.stderr, flush=True)
    if "--debug-wait" in argv:
        debugpy.wait_for_client()


def run_hooks(hooks):
    for func, args, kwargs in hooks:
        func(*args, **kwargs)


def snapshot_and_restore():
    """SnapStart (AWS_LAMBDA_INITIALIZATION_TYPE=snap-start): after the init, the
    before-snapshot hooks run, then GET /restore/next. lamina keeps this process
    as the version's snapshot: each answer asks it to fork one restored
    environment (Lamina-Restore-Fork: that environment's Runtime API,
    Lamina-Restore-Output: the FIFO its output goes to), or to collect children
    that exited (Lamina-Restore-Reap). The child, restored from this very memory,
    calls restore/next on its own Runtime API, runs the after-restore hooks and
    returns to serve invocations; this process never does."""
    hooks = sys.modules.get("snapshot_restore_py")
    try:
        if hooks is not None:
            run_hooks(hooks.get_before_snapshot())
    except Exception as e:
        print("[ERROR] %s: %s" % (type(e).__name__, e), file=sys.stderr, flush=True)
        post_error("/init/error", error_payload(e, "", "Runtime.BeforeSnapshotError", sys.exc_info()[2]),
                   "Runtime.BeforeSnapshotError")
        sys.exit(64)
    api = RUNTIME_API
    api.close()  # no connection of the snapshot's crosses into a restored environment
    extra = {"Lamina-Restore-Pid": str(os.getpid())}  # lamina finds this process by it
    while True:
        status, headers, _ = api.request("GET", "/restore/next", None, extra)
        extra = None
        if status != 200:
            time.sleep(0.01)
            continue
        if headers.get("lamina-restore-reap"):
            reap_children()
            continue
        address = headers.get("lamina-restore-fork")
        if not address:  # a real restore (not lamina's): carry on in this process
            break
        output = headers.get("lamina-restore-output", "")
        extensions = headers.get("lamina-restore-extensions")
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid:
            extra = {"Lamina-Restore-Child": str(pid)}
            continue
        # the restored environment
        api.close()  # our copy only: the snapshot's connection stays open in it
        os.setpgid(0, 0)
        if output:
            fd = os.open(output, os.O_WRONLY)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.close(fd)
        os.environ["AWS_LAMBDA_RUNTIME_API"] = address
        api.address = address
        api.request("GET", "/restore/next")
        if extensions:
            # the layers' extensions start here, in this environment's process
            # group and memory cgroup: lamina's launcher starts them and exits
            import subprocess
            subprocess.run(json.loads(extensions) + ["true"], stdin=subprocess.DEVNULL)
        break
    try:
        if hooks is not None:
            run_hooks(hooks.get_after_restore())
    except Exception as e:
        print("[ERROR] %s: %s" % (type(e).__name__, e), file=sys.stderr, flush=True)
        post_error("/restore/error", error_payload(e, "", "Runtime.AfterRestoreError", sys.exc_info()[2]),
                   "Runtime.AfterRestoreError")
        sys.exit(65)


def reap_children():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if not pid:
            return


def main():
    if "--spare" in sys.argv:
        # A spare environment, started ahead of any invocation: this runtime
        # is loaded and connected; the function's code is imported (its init
        # runs) only once lamina hands it an invocation and answers this.
        stdlib("importlib")
        if RUNTIME_API.request("GET", "/_lamina/spare/hold")[0] != 202:
            sys.exit(1)  # let go without an invocation: nothing of the function runs
        sys.argv.remove("--spare")
    start_debugger(sys.argv)
    handler = load_handler()
    if os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "snap-start":
        snapshot_and_restore()
    api = RUNTIME_API
    next_request = api.head("GET", "/invocation/next") + b"\r\n"
    # filled in per invoke with the request id and the length of the payload
    response_head = api.head("POST", "/invocation/%s/response", {"Content-Type": "application/json"}) + \
        b"Content-Length: %d\r\n\r\n"
    loads, dumps, environ = json.loads, json.dumps, os.environ
    asked = False  # the next invocation was asked for in the same write as the last response
    while True:
        if asked:
            try:
                status, headers, body = api.read_response()
            except ConnectionError:
                api.close()
                status, headers, body = api.send(next_request)
        else:
            status, headers, body = api.send(next_request)
        asked = False
        if status != 200:
            time.sleep(0.01)
            continue
        request_id = headers.get("lambda-runtime-aws-request-id", "")
        REQUEST["id"] = request_id
        REQUEST["tenant"] = headers.get("lambda-runtime-aws-tenant-id")  # tenant isolation
        trace = headers.get("lambda-runtime-trace-id")
        if trace:
            environ["_X_AMZN_TRACE_ID"] = trace
        else:
            environ.pop("_X_AMZN_TRACE_ID", None)
        try:
            context = Context(headers)  # a malformed client context fails this invoke, not the runtime
            event = loads(body) if body else {}
            result = handler(event, context)
            try:
                payload = dumps(result).encode()
            except (TypeError, ValueError) as e:
                err = error_payload("Unable to marshal response: %s" % e, request_id, "Runtime.MarshalError")
                post_error("/invocation/%s/error" % request_id, err, "Runtime.MarshalError")
                continue
            # GET /invocation/next follows the response in one write (HTTP/1.1
            # pipelining): one message to the Runtime API per invocation, not two
            api.send(response_head % (request_id.encode(), len(payload)) + payload + next_request)
            asked = api.sock is not None
        except Exception as e:
            tb = sys.exc_info()[2]
            err = error_payload(e, request_id, tb=tb)
            if JSON_LOGS:  # AWS's runtime names the level "log_level" here (and only here)
                print(json_log_line({"timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                     "log_level": "ERROR", "errorMessage": err["errorMessage"],
                                     "errorType": err["errorType"], "requestId": request_id,
                                     "stackTrace": err["stackTrace"]}), flush=True)
            else:
                print("[ERROR] %s: %s\nTraceback (most recent call last):\n%s" % (
                    err["errorType"], err["errorMessage"], "".join(err["stackTrace"])), file=sys.stderr, flush=True)
            post_error("/invocation/%s/error" % request_id, err, "Unhandled")


if __name__ == "__main__":
    main()
