"""A lamina server for tests: started here (`lamina serve --ephemeral` on a free loopback
port) or one already running (`lamina run -- pytest`), with the helpers tests need.
Independent of pytest: `Lamina.start()` / `Lamina.attach()` work in any script."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "123456789012"
CREDENTIAL_VARS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
REGION_VARS = ("AWS_REGION", "AWS_DEFAULT_REGION")


class LaminaError(RuntimeError):
    """lamina could not be found, started or asked: the message says why."""


def _ancestor_lamina() -> Optional[str]:
    """The `lamina` binary among this process's ancestors (`lamina run -- pytest`), if any."""
    pid = os.getppid()
    for _ in range(16):
        if pid <= 1:
            return None
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        if os.path.basename(exe) == "lamina" and os.access(exe, os.X_OK):
            return exe
        pid = int(stat.rsplit(")", 1)[1].split()[1])
    return None


def find_lamina_binary(explicit: Optional[str] = None) -> Optional[str]:
    """`explicit` (--lamina-bin), else $LAMINA_BIN, else `lamina` on PATH, else the lamina
    that started this process (`lamina run`). None when there is none."""
    for candidate in (explicit, os.environ.get("LAMINA_BIN")):
        if candidate:
            path = shutil.which(candidate) if os.sep not in candidate else candidate
            if not path or not os.access(path, os.X_OK):
                raise LaminaError(f"lamina binary not found or not executable: {candidate}")
            return os.path.abspath(path)
    return shutil.which("lamina") or _ancestor_lamina()


def _http(url: str, method: str = "GET", body: Optional[bytes] = None,
          timeout: float = 30) -> tuple[int, bytes]:
    # everything is on loopback: never through a proxy
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    req = urllib.request.Request(url, data=body, method=method)
    try:
        with opener.open(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def _looks_like_lamina(endpoint: str) -> bool:
    try:
        status, body = _http(endpoint.rstrip("/") + "/health", timeout=2)
        doc = json.loads(body)
    except (OSError, ValueError):
        return False
    return status == 200 and isinstance(doc, dict) and doc.get("status") == "ok" and "sandbox" in doc


class Lamina:
    """One lamina server: `endpoint`, boto3 `session()`/`client()`, `deploy_template()`,
    `logs()`, `invocations()`, `reset()`; `stop()` ends it if this object started it."""

    def __init__(self, endpoint: str, *, binary: Optional[str] = None, process: Optional[subprocess.Popen] = None,
                 log_path: Optional[Path] = None, region: Optional[str] = None,
                 account_id: Optional[str] = None):
        self.endpoint = endpoint.rstrip("/")
        self.binary = binary
        self.process = process
        self.log_path = log_path
        health = self.health()
        self.region = region or health.get("region") or DEFAULT_REGION
        self.account_id = account_id or health.get("account_id") or DEFAULT_ACCOUNT
        self.version = health.get("version")
        self._saved_env: Optional[dict] = None

    # ---------------------------------------------------------------------------------
    # starting, finding, stopping
    # ---------------------------------------------------------------------------------

    @classmethod
    def start(cls, binary: Optional[str] = None, *, args: Iterable[str] = (), timeout: float = 60,
              log_dir: Optional[str] = None, env: Optional[Mapping[str, str]] = None) -> "Lamina":
        """`lamina serve --ephemeral` on a free port of 127.0.0.1, ready once /health answers."""
        path = find_lamina_binary(binary)
        if path is None:
            raise LaminaError("lamina binary not found: set LAMINA_BIN, pass --lamina-bin, "
                              "or put lamina on PATH")
        folder = Path(tempfile.mkdtemp(prefix="pytest-lamina-", dir=log_dir))
        port_file, log_path = folder / "port", folder / "lamina.log"
        argv = [path, "serve", "--ephemeral", "--host", "127.0.0.1", "--port", "0",
                "--port-file", str(port_file), "--log-level", "warn", *args]
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                    env=dict(os.environ if env is None else env), start_new_session=True,
                                    preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
        deadline = time.monotonic() + timeout
        port = None
        while True:
            if proc.poll() is not None:
                raise LaminaError(f"lamina exited with status {proc.returncode} at start-up: "
                                  f"{_tail(log_path)}")
            if port is None:
                text = port_file.read_text().strip() if port_file.exists() else ""
                port = int(text) if text.isdigit() else None
            if port is not None:
                try:
                    if _http(f"http://127.0.0.1:{port}/health", timeout=2)[0] == 200:
                        break
                except OSError:
                    pass
            if time.monotonic() > deadline:
                _stop_process(proc)
                raise LaminaError(f"lamina did not answer /health within {timeout:g} s: {_tail(log_path)}")
            time.sleep(0.02)
        return cls(f"http://127.0.0.1:{port}", binary=path, process=proc, log_path=log_path)

    @classmethod
    def attach(cls, endpoint: str, binary: Optional[str] = None) -> "Lamina":
        """A server already running (e.g. the one `lamina run` made): never stopped here."""
        return cls(endpoint, binary=find_lamina_binary(binary))

    @classmethod
    def running_endpoint(cls) -> Optional[str]:
        """The endpoint of a lamina this process was pointed at: $LAMINA_ENDPOINT (set by
        `lamina run`), else $AWS_ENDPOINT_URL when a lamina answers there."""
        if os.environ.get("LAMINA_ENDPOINT"):
            return os.environ["LAMINA_ENDPOINT"]
        url = os.environ.get("AWS_ENDPOINT_URL")
        if url and _looks_like_lamina(url):
            return url
        return None

    @property
    def owned(self) -> bool:
        """True when this object started the server (and `stop()` ends it)."""
        return self.process is not None

    @property
    def pid(self) -> Optional[int]:
        return self.process.pid if self.process else None

    def stop(self, timeout: float = 20) -> None:
        """Ends a server this object started (SIGTERM, then SIGKILL after `timeout`) and
        restores the environment `export_environment()` changed."""
        self.restore_environment()
        if self.process is not None:
            _stop_process(self.process, timeout)

    def log_tail(self, chars: int = 4000) -> str:
        return _tail(self.log_path, chars) if self.log_path else ""

    def environment(self) -> dict:
        """What `lamina run` gives its command: the endpoint always, dummy credentials and
        the region only where none are set."""
        env = {"AWS_ENDPOINT_URL": self.endpoint, "LAMINA_ENDPOINT": self.endpoint}
        if not any(os.environ.get(v) for v in CREDENTIAL_VARS):
            env.update(AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test")
        if not any(os.environ.get(v) for v in REGION_VARS):
            env.update(AWS_REGION=self.region, AWS_DEFAULT_REGION=self.region)
        return env

    def export_environment(self) -> None:
        """Sets `environment()` in os.environ, so that code under test that makes its own
        boto3 clients reaches this server; `stop()` puts the old values back."""
        if self._saved_env is None:
            new = self.environment()
            self._saved_env = {k: os.environ.get(k) for k in new}
            os.environ.update(new)

    def restore_environment(self) -> None:
        if self._saved_env is not None:
            for k, v in self._saved_env.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            self._saved_env = None

    # ---------------------------------------------------------------------------------
    # lamina's own endpoints
    # ---------------------------------------------------------------------------------

    def _json(self, path: str, method: str = "GET") -> tuple[int, Any]:
        try:
            status, body = _http(self.endpoint + path, method=method,
                                 body=b"" if method == "POST" else None)
        except OSError as e:
            raise LaminaError(f"lamina at {self.endpoint} did not answer {method} {path}: {e}") from e
        try:
            return status, json.loads(body or b"null")
        except ValueError:
            return status, body.decode("utf-8", "replace")

    def health(self) -> dict:
        status, doc = self._json("/health")
        if status != 200 or not isinstance(doc, dict):
            raise LaminaError(f"GET {self.endpoint}/health answered {status}: {doc}")
        return doc

    def reset(self) -> dict:
        """POST /_lamina/reset: everything gone, as in a new server (ephemeral servers only)."""
        status, doc = self._json("/_lamina/reset", method="POST")
        if status != 200:
            message = doc.get("message") if isinstance(doc, dict) else doc
            raise LaminaError(f"POST /_lamina/reset answered {status}: {message}")
        return doc

    def invocations(self, function: Optional[str] = None, qualifier: Optional[str] = None,
                    limit: Optional[int] = None) -> list:
        """GET /_lamina/invocations: recent invocations, newest first."""
        query = {k: v for k, v in (("function", function), ("qualifier", qualifier),
                                   ("limit", limit)) if v is not None}
        path = "/_lamina/invocations" + ("?" + urllib.parse.urlencode(query) if query else "")
        status, doc = self._json(path)
        if status != 200:
            message = doc.get("message") if isinstance(doc, dict) else doc
            raise LaminaError(f"GET {path} answered {status}: {message}")
        return doc["invocations"]

    # ---------------------------------------------------------------------------------
    # boto3
    # ---------------------------------------------------------------------------------

    def session(self, account_id: Optional[str] = None, region: Optional[str] = None):
        """A boto3 Session with dummy credentials; `account_id` (12 digits) as the access
        key id puts its calls in that account, as lamina maps keys to accounts."""
        try:
            import boto3
        except ImportError as e:
            raise LaminaError("boto3 is not installed (pip install boto3, or apt-get install "
                              "python3-boto3)") from e
        return boto3.Session(aws_access_key_id=account_id or "test", aws_secret_access_key="test",
                             region_name=region or self.region)

    def client(self, service: str, *, account_id: Optional[str] = None, region: Optional[str] = None,
               **kwargs):
        """A boto3 client for `service` at this server (lambda, logs, sqs, s3, sts, iam, ...)."""
        from botocore.config import Config

        # host prefixes (logs' StartLiveTail) cannot be put before 127.0.0.1
        kwargs.setdefault("config", Config(inject_host_prefix=False))
        return self.session(account_id, region).client(service, endpoint_url=self.endpoint, **kwargs)

    def resource(self, service: str, *, account_id: Optional[str] = None, region: Optional[str] = None,
                 **kwargs):
        return self.session(account_id, region).resource(service, endpoint_url=self.endpoint, **kwargs)

    # ---------------------------------------------------------------------------------
    # templates and logs
    # ---------------------------------------------------------------------------------

    def _cli(self, args: list, timeout: float) -> subprocess.CompletedProcess:
        if not self.binary:
            raise LaminaError("this needs the lamina binary (LAMINA_BIN, --lamina-bin or PATH)")
        env = dict(os.environ, LAMINA_ENDPOINT=self.endpoint)
        if not any(os.environ.get(v) for v in CREDENTIAL_VARS):
            env.update(AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test")
        try:
            return subprocess.run([self.binary, *args, "--endpoint", self.endpoint], env=env,
                                  stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise LaminaError(f"lamina {args[0]} took longer than {timeout:g} s") from e

    def deploy_template(self, path, parameters: Optional[Mapping[str, Any]] = None,
                        stack_name: Optional[str] = None, *, region: Optional[str] = None,
                        timeout: float = 120) -> str:
        """Applies a SAM or CloudFormation template (`lamina deploy`); returns its output.
        A template lamina refuses raises LaminaError with lamina's reason."""
        args = ["deploy", str(path), "--region", region or self.region]
        if stack_name:
            args += ["--stack-name", stack_name]
        for key, value in (parameters or {}).items():
            args += ["--parameter-overrides", f"{key}={value}"]
        r = self._cli(args, timeout)
        if r.returncode != 0:
            raise LaminaError(f"lamina deploy {path} failed ({r.returncode}): {r.stderr.strip()}")
        return r.stdout

    def delete_stack(self, stack_name: str, *, region: Optional[str] = None, timeout: float = 60) -> str:
        r = self._cli(["delete", "--stack-name", stack_name, "--region", region or self.region], timeout)
        if r.returncode != 0:
            raise LaminaError(f"lamina delete --stack-name {stack_name} failed ({r.returncode}): "
                              f"{r.stderr.strip()}")
        return r.stdout

    def logs(self, function_name: str, *, filter_pattern: Optional[str] = None,
             log_group: Optional[str] = None, wait_for: Optional[str] = None, timeout: float = 10,
             account_id: Optional[str] = None) -> list:
        """The messages of a function's log events (group /aws/lambda/NAME unless
        `log_group`), oldest first, read through the CloudWatch Logs API. With `wait_for`,
        polls until a message contains that text (LaminaError after `timeout`)."""
        from botocore.exceptions import ClientError

        logs = self.client("logs", account_id=account_id)
        group = log_group or f"/aws/lambda/{function_name}"
        kwargs = {"logGroupName": group}
        if filter_pattern:
            kwargs["filterPattern"] = filter_pattern
        deadline = time.monotonic() + timeout
        while True:
            messages = []
            try:
                for page in logs.get_paginator("filter_log_events").paginate(**kwargs):
                    messages += [e["message"] for e in page["events"]]
            except ClientError as e:
                if e.response["Error"]["Code"] != "ResourceNotFoundException":
                    raise
            if wait_for is None or any(wait_for in m for m in messages):
                return messages
            if time.monotonic() > deadline:
                raise LaminaError(f"no log event of {group} contained {wait_for!r} within {timeout:g} s "
                                  f"({len(messages)} events)")
            time.sleep(0.1)


def _die_with_parent() -> None:
    """In the child: SIGTERM when the process that started it dies (a killed pytest)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _stop_process(proc: subprocess.Popen, timeout: float = 20) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _tail(path: Optional[Path], chars: int = 4000) -> str:
    try:
        return Path(path).read_text(errors="replace")[-chars:] if path else ""
    except OSError:
        return ""
