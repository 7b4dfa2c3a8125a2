"""Shared helpers for lamina's integration tests.

Everything here talks to 127.0.0.1 only: a `lamina serve` process started by
the tests (LaminaServer), boto3 clients pointed at it, and the `aws` CLI with
`--endpoint-url`.  Expected values come from real AWS responses recorded by
boto3 (see docs in the repo and the AWS recordings used to write the tests).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import re
import select
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
import zipfile
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent

ACCOUNT = "123456789012"  # lamina's default --account-id
REGION = "us-east-1"  # lamina's default --region
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/lambda-role"
RUNTIME = "python3.12"
HANDLER = "handler.handler"

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
LAST_MODIFIED_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$")
RUNTIME_VERSION_ARN_RE = re.compile(r"^arn:aws:lambda:%s::runtime:[0-9a-f]+$" % REGION)

# Patterns exactly as AWS quotes them in ValidationException messages (recorded).
READ_FN_PATTERN = (
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?"
    r"(\d{12}:)?(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?"
)
CREATE_FN_PATTERN = (
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?"
    r"(\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?"
)
QUALIFIER_PATTERN = r"\$(LATEST(\.PUBLISHED)?)|[a-zA-Z0-9-_$]+"

MSG_REVISION = (
    "The Revision Id provided does not match the latest Revision Id. "
    "Call the GetFunction/GetAlias API to retrieve the latest Revision Id"
)
MSG_REVISION_POLICY = (
    "The Revision Id provided does not match the latest Revision Id. "
    "Call the GetPolicy API to retrieve the latest Revision Id"
)
MSG_QUALIFIER_MISMATCH = "The derived qualifier from the function name does not match the specified qualifier."
MSG_NOT_EXIST = "The resource you requested does not exist."

# Fields of a zip FunctionConfiguration as AWS returns them (recordings).
CREATE_KEYS = {
    "Architectures", "CodeSha256", "CodeSize", "Description", "EphemeralStorage", "FunctionArn",
    "FunctionName", "Handler", "LastModified", "LoggingConfig", "MemorySize", "PackageType",
    "RevisionId", "Role", "Runtime", "RuntimeVersionConfig", "SnapStart", "State", "StateReason",
    "StateReasonCode", "Timeout", "TracingConfig", "Version",
}
ACTIVE_KEYS = (CREATE_KEYS - {"StateReason", "StateReasonCode"}) | {"LastUpdateStatus"}
UPDATE_KEYS = ACTIVE_KEYS | {"LastUpdateStatusReason", "LastUpdateStatusReasonCode"}
LIST_ROW_KEYS = CREATE_KEYS - {"State", "StateReason", "StateReasonCode", "RuntimeVersionConfig"}


def validation_message(*errors: str) -> str:
    n = len(errors)
    word = "error" if n == 1 else "errors"
    return f"{n} validation {word} detected: " + "; ".join(errors)


def pattern_error(value: str, field: str, pattern: str) -> str:
    return (f"Value '{value}' at '{field}' failed to satisfy constraint: "
            f"Member must satisfy regular expression pattern: {pattern}")


def length_error(value: str, field: str, maximum: int) -> str:
    return (f"Value '{value}' at '{field}' failed to satisfy constraint: "
            f"Member must have length less than or equal to {maximum}")


def fn_arn(name: str, qualifier: str | None = None, region: str = REGION,
           account: str = ACCOUNT) -> str:
    arn = f"arn:aws:lambda:{region}:{account}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier is not None else arn


def unique(prefix: str = "fn") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def b64sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def make_zip(files: dict, symlinks: dict | None = None) -> bytes:
    """Deterministic in-memory zip. files: name -> str|bytes (mode 0644); symlinks: name -> target."""
    return build_zip(files, symlinks)


def handler_zip(tag: str | None = None) -> bytes:
    """A small python handler zip; `tag` makes the content (and CodeSha256) unique."""
    tag = tag or uuid.uuid4().hex
    src = (
        "import json\n\n"
        f"TAG = {tag!r}\n\n"
        "def handler(event, context):\n"
        "    return {'statusCode': 200, 'body': json.dumps({'tag': TAG})}\n"
    )
    return make_zip({"handler.py": src})


def http_get(url: str, timeout: float = 30) -> tuple[int, dict, bytes]:
    """GET without any proxy (everything is on loopback)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    req = urllib.request.Request(url, method="GET")
    try:
        with opener.open(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:  # non-2xx
        return e.code, dict(e.headers), e.read()


def http_request(url: str, method: str = "GET", body: bytes | None = None,
                 headers: dict | None = None, timeout: float = 30) -> tuple[int, dict, bytes]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with opener.open(req, timeout=timeout) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


# --------------------------------------------------------------------------------------
# Server process
# --------------------------------------------------------------------------------------

def lamina_bin() -> Path:
    return Path(os.environ.get("LAMINA_BIN") or (REPO / "build" / "lamina"))


class LaminaServer:
    """One `lamina serve` process on 127.0.0.1 with an OS-chosen port."""

    def __init__(self, *, data_dir: str | Path | None = None, extra_args: list[str] | None = None,
                 log_path: str | Path | None = None, env: dict | None = None):
        self.data_dir = Path(data_dir) if data_dir else None
        self.extra_args = list(extra_args or [])
        self.env = dict(env or {})  # set over the inherited environment
        self.log_path = Path(log_path) if log_path else Path(tempfile.mkstemp(prefix="lamina-", suffix=".log")[1])
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self._drain: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0, port: int = 0) -> "LaminaServer":
        binary = lamina_bin()
        if not binary.exists():
            raise RuntimeError(f"lamina binary not found at {binary} (set LAMINA_BIN)")
        args = [str(binary), "serve", "--port", str(port), "--host", "127.0.0.1", "--log-level", "warn"]
        if self.data_dir is None:
            args.append("--ephemeral")
        else:
            args += ["--data-dir", str(self.data_dir)]
        args += self.extra_args
        env = {k: v for k, v in os.environ.items() if not k.startswith("LAMINA_")}
        env.update(self.env)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
                                     env=env, start_new_session=True)
        log.close()
        first = self._read_first_line(timeout)
        try:
            self.port = int(first.strip())
        except ValueError:
            self.stop()
            raise RuntimeError(f"lamina printed {first!r} instead of a port; log: {self.log_tail()}")
        # keep draining stdout so the server never blocks on a full pipe
        self._drain = threading.Thread(target=self._drain_stdout, daemon=True)
        self._drain.start()
        self.wait_healthy(timeout)
        return self

    def _read_first_line(self, timeout: float) -> str:
        assert self.proc and self.proc.stdout
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        buf = b""
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                self.stop()
                raise RuntimeError(f"lamina did not print its port within {timeout}s; log: {self.log_tail()}")
            r, _, _ = select.select([fd], [], [], min(left, 0.2))
            if r:
                chunk = os.read(fd, 4096)
                if not chunk:
                    code = self.proc.poll()
                    raise RuntimeError(f"lamina exited ({code}) before printing a port; log: {self.log_tail()}")
                buf += chunk
        line, _, rest = buf.partition(b"\n")
        self._extra_stdout = rest
        return line.decode(errors="replace")

    def _drain_stdout(self):
        try:
            with open(self.log_path, "ab") as log:
                log.write(self._extra_stdout)
                for chunk in iter(lambda: self.proc.stdout.read1(65536), b""):
                    log.write(chunk)
        except Exception:
            pass

    def wait_healthy(self, timeout: float = 20.0):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"lamina exited with {self.proc.returncode}; log: {self.log_tail()}")
            try:
                status, _, _ = http_get(self.url + "/health", timeout=2)
                if status == 200:
                    return
                last = status
            except Exception as e:  # connection refused while starting
                last = e
            time.sleep(0.05)
        raise RuntimeError(f"lamina /health not ready after {timeout}s ({last}); log: {self.log_tail()}")

    def alive(self, timeout: float = 3.0) -> bool:
        """Process running and /health answering."""
        if not self.proc or self.proc.poll() is not None:
            return False
        try:
            status, _, _ = http_get(self.url + "/health", timeout=timeout)
            return status == 200
        except Exception:
            return False

    def restart_same_port(self) -> None:
        """Replace a dead or wedged server by a fresh one on the same port (clients keep working)."""
        port = self.port
        self.kill9()
        deadline = time.monotonic() + 10
        while True:
            try:
                self.start(port=port)
                return
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_bytes()[-n:].decode(errors="replace")
        except OSError:
            return ""

    def stop(self, grace: float = 5.0) -> int | None:
        """SIGTERM, then SIGKILL after `grace` seconds. Returns the exit code."""
        if not self.proc or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self._close()
        return self.proc.returncode

    def kill9(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self._close()

    def _close(self):
        if self._drain:
            self._drain.join(2)
        if self.proc and self.proc.stdout:
            with contextlib.suppress(Exception):
                self.proc.stdout.close()

    # ---------------------------------------------------------------- clients
    def client(self, service: str = "lambda", *, region: str = REGION, key: str = "test",
               validate: bool = True):
        return make_client(self.port, service, region=region, key=key, validate=validate)


def make_client(port: int, service: str = "lambda", *, region: str = REGION, key: str = "test",
                validate: bool = True):
    cfg = Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        parameter_validation=validate,
        connect_timeout=5,
        read_timeout=30,
        proxies={},
    )
    session = boto3.session.Session()
    client = session.client(
        service,
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name=region,
        aws_access_key_id=key,
        aws_secret_access_key="test",
        config=cfg,
    )
    # Keep the raw HTTP body of the last call: field-exact checks must not depend on
    # which fields the installed botocore's model knows.
    holder = {}

    def _after_call(http_response=None, model=None, **_):
        holder["status"] = http_response.status_code
        holder["headers"] = {k.lower(): v for k, v in http_response.headers.items()}
        # a streaming body (Invoke's Payload, InvokeWithResponseStream's events) is left
        # for the caller to read
        streaming = model is not None and (model.has_streaming_output or model.has_event_stream_output)
        holder["body"] = b"" if streaming else http_response.content

    client.meta.events.register(f"after-call.{client.meta.service_model.service_id.hyphenize()}", _after_call)
    client.last_http = holder
    return client


def raw_json(client) -> dict:
    """The JSON body of the client's last response, exactly as sent by the server."""
    body = client.last_http.get("body") or b""
    return json.loads(body) if body.strip() else {}


def has_operation(client, op: str) -> bool:
    return op in client.meta.service_model.operation_names


# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------

class ErrorCheck:
    def __init__(self):
        self.response = None
        self.code = None
        self.message = None
        self.status = None


@contextlib.contextmanager
def expect_error(code: str, status: int | None = None, message: str | None = None,
                 message_contains: str | None = None):
    """Assert that the block raises a botocore ClientError with this code/status/message."""
    check = ErrorCheck()
    try:
        yield check
    except ClientError as e:
        r = e.response
        check.response = r
        check.code = r.get("Error", {}).get("Code")
        check.message = r.get("Error", {}).get("Message")
        check.status = r.get("ResponseMetadata", {}).get("HTTPStatusCode")
        assert check.code == code, f"expected error {code}, got {check.code}: {check.message!r} (HTTP {check.status})"
        if status is not None:
            assert check.status == status, f"expected HTTP {status} for {code}, got {check.status}"
        if message is not None:
            assert check.message == message, f"\nexpected message: {message!r}\n     got message: {check.message!r}"
        if message_contains is not None:
            assert check.message and message_contains in check.message, \
                f"expected message containing {message_contains!r}, got {check.message!r}"
        return
    raise AssertionError(f"expected {code} error, but the call succeeded")


# --------------------------------------------------------------------------------------
# Function helpers
# --------------------------------------------------------------------------------------

def create_function(client, name: str | None = None, *, zip_bytes: bytes | None = None,
                    activate: bool = True, **kwargs) -> dict:
    """CreateFunction with sane defaults; by default reads it back once so it is Active."""
    name = name or unique()
    params = dict(FunctionName=name, Runtime=RUNTIME, Role=ROLE_ARN, Handler=HANDLER,
                  Code={"ZipFile": zip_bytes if zip_bytes is not None else handler_zip()})
    params.update(kwargs)
    resp = client.create_function(**params)
    if activate:
        wait_active(client, resp["FunctionName"])
    return resp


def log_lines(data: Path, name: str, prefix: str, *, account: str = ACCOUNT, region: str = REGION) -> list:
    """The JSON after `prefix` on each line a function printed starting with it, read from its
    log streams in lamina's data directory (`<data>/logs/<account>/<region>/aws/lambda/<name>`),
    in stream order."""
    group = Path(data) / "logs" / account / region / "aws" / "lambda" / name
    out = []
    for stream in sorted(group.glob("*.log")) if group.exists() else []:
        for line in stream.read_text().splitlines():
            if line.startswith(prefix):
                out.append(json.loads(line[len(prefix):]))
    return out


def wait_for(fn, timeout: float = 30, *, count: int = 1, interval: float = 0.05):
    """Calls fn until what it returns is true (a list: has `count` items) or `timeout` passes;
    returns the last answer (the caller asserts on it)."""
    deadline = time.monotonic() + timeout
    while True:
        got = fn()
        enough = len(got) >= count if isinstance(got, (list, tuple)) else bool(got)
        if enough or time.monotonic() > deadline:
            return got
        time.sleep(interval)


def wait_active(client, name: str):
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 10})


def wait_updated(client, name: str):
    client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 10})


# --------------------------------------------------------------------------------------
# aws CLI
# --------------------------------------------------------------------------------------

def aws_cli_path() -> str | None:
    return shutil.which("aws")


def cli_env(tmpdir: str | Path, key: str = "test") -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({
        "AWS_ACCESS_KEY_ID": key,
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_PAGER": "",
        "AWS_CONFIG_FILE": str(Path(tmpdir) / "aws-config-none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(Path(tmpdir) / "aws-credentials-none"),
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    })
    return env


class AwsCli:
    def __init__(self, port: int, tmpdir: str | Path):
        self.port = port
        self.tmpdir = Path(tmpdir)
        self.env = cli_env(tmpdir)

    def run(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        cmd = ["aws", *args, "--endpoint-url", f"http://127.0.0.1:{self.port}"]
        p = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
        if check and p.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)} failed ({p.returncode}): {p.stderr.strip()}")
        return p

    def json(self, *args: str) -> dict:
        p = self.run(*args, "--output", "json")
        return json.loads(p.stdout) if p.stdout.strip() else {}


# --------------------------------------------------------------------------------------
# Layers
# --------------------------------------------------------------------------------------

def layer_arn(name: str, region: str = REGION, account: str = ACCOUNT) -> str:
    return f"arn:aws:lambda:{region}:{account}:layer:{name}"


def layer_version_arn(name: str, version: int, region: str = REGION, account: str = ACCOUNT) -> str:
    return f"{layer_arn(name, region, account)}:{version}"


def build_zip(files: dict | None = None, symlinks: dict | None = None, dirs: list | None = None) -> bytes:
    """In-memory zip with unix modes. files: name -> data | (data, mode); symlinks: name -> target;
    dirs: directory entries ('python/')."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name in dirs or []:
            info = zipfile.ZipInfo(name if name.endswith("/") else name + "/", date_time=(2024, 1, 1, 0, 0, 0))
            info.create_system = 3
            info.external_attr = (0o40755 << 16) | 0x10
            z.writestr(info, b"")
        for name, data in (files or {}).items():
            mode = 0o644
            if isinstance(data, tuple):
                data, mode = data
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.create_system = 3
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.create_system = 3
            info.external_attr = 0o120777 << 16
            z.writestr(info, target)
    return buf.getvalue()


def zeros_zip(entries: dict, extra_files: dict | None = None, *, force_zip64: bool = False) -> bytes:
    """Zip of highly compressible entries, built streaming: entries name -> size in bytes of zeros."""
    buf = io.BytesIO()
    chunk = b"\0" * (1 << 20)
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in (extra_files or {}).items():
            z.writestr(name, data)
        for name, size in entries.items():
            with z.open(name, "w", force_zip64=force_zip64) as f:
                left = size
                while left > 0:
                    n = min(left, len(chunk))
                    f.write(chunk[:n] if n < len(chunk) else chunk)
                    left -= n
    return buf.getvalue()


def unzipped_size(zip_bytes: bytes) -> int:
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as z:
        return sum(i.file_size for i in z.infolist())


def opt_tree(base_url: str, name: str, qualifier: str | None = None) -> tuple[int, dict, dict]:
    """lamina's extension GET /_lamina/opt/{FunctionName}?Qualifier=: the directory /opt shows."""
    url = f"{base_url}/_lamina/opt/{urllib.parse.quote(name, safe='')}"
    if qualifier is not None:
        url += "?Qualifier=" + urllib.parse.quote(qualifier, safe="")
    status, headers, body = http_request(url)
    try:
        doc = json.loads(body) if body.strip() else {}
    except ValueError:
        doc = {"_raw": body[:500]}
    return status, headers, doc


def dir_snapshot(root: str | Path) -> dict:
    """relpath -> ('dir',) | ('file', bytes, mode & 0o777) | ('link', target), never following links."""
    root = Path(root)
    out = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for n in dirnames + filenames:
            p = Path(dirpath) / n
            rel = p.relative_to(root).as_posix()
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir",)
            else:
                out[rel] = ("file", p.read_bytes(), st.st_mode & 0o777)
    return out


# --------------------------------------------------------------------------------------
# Node.js clients (tests/integration/js: the JS SDK v3, Playwright)
# --------------------------------------------------------------------------------------

JS_DIR = Path(__file__).resolve().parent / "js"


def node_missing(*packages: str) -> str | None:
    """Why the Node clients cannot run (None when they can): node, or an npm package of
    tests/integration/js (installed by scripts/install-deps.sh), is missing."""
    if not shutil.which("node"):
        return "node not found on PATH"
    for p in packages:
        if not (JS_DIR / "node_modules" / p / "package.json").exists():
            return f"npm package {p} not installed in {JS_DIR} (bash scripts/install-deps.sh test)"
    return None


def run_node(script: str, arg: dict, *, env: dict | None = None, timeout: float = 120) -> dict:
    """Runs tests/integration/js/<script> with `arg` as JSON in argv[2]; the script prints one
    JSON object on its last stdout line. Bounded by `timeout`: on expiry the script's whole
    process group (Chromium included) is killed, by its id."""
    full_env = dict(os.environ, NO_PROXY="127.0.0.1,localhost,.localhost", no_proxy="127.0.0.1,localhost,.localhost")
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        full_env.pop(var, None)
    full_env.update(env or {})
    proc = subprocess.Popen(["node", str(JS_DIR / script), json.dumps(arg)], cwd=JS_DIR, env=full_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"{script} did not finish in {timeout}s\nstdout:\n{out}\nstderr:\n{err}")
    finally:
        # whatever the script started and left behind (a browser) goes with it
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, f"{script} exited {proc.returncode}\nstdout:\n{out}\nstderr:\n{err}"
    lines = [l for l in out.splitlines() if l.strip()]
    assert lines, f"{script} printed nothing\nstderr:\n{err}"
    return json.loads(lines[-1])
