"""Debugger attach: a Python function under debugpy (the Debug Adapter Protocol)
and a Node.js one under node's inspector (the Chrome DevTools protocol), each
stopped at a breakpoint in its handler by a client written here, then let go."""
from __future__ import annotations

import base64
import json
import os
import queue
import socket
import subprocess
import threading
import time
import urllib.request

import pytest
from botocore.exceptions import ClientError

import lamina_testlib as lt

PY_HANDLER = (
    "def handler(event, context):\n"
    "    doubled = event['n'] * 2\n"  # line 2: the breakpoint
    "    return {'doubled': doubled, 'left_ms': context.get_remaining_time_in_millis()}\n"
)
NODE_HANDLER = (
    "exports.handler = async (event) => {\n"
    "  const doubled = event.n * 2;\n"  # line 2: the breakpoint
    "  return { doubled };\n"
    "};\n"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _health(port: int) -> dict:
    code, _, body = lt.http_get(f"http://127.0.0.1:{port}/health", timeout=5)
    return json.loads(body)


def _need_bubblewrap(port: int):
    # breakpoints name the handler as the sandbox sees it: /var/task
    if _health(port).get("sandbox") != "bubblewrap":
        pytest.skip("the process backend runs code from its host folder, not /var/task")


def _need_debugpy():
    if not os.path.exists("/usr/lib/python3/dist-packages/debugpy/__init__.py"):
        pytest.skip("python3-debugpy is not installed (scripts/install-deps.sh installs it)")


class Invocation(threading.Thread):
    """An Invoke in the background, its answer (or error) kept."""

    def __init__(self, port: int, name: str, payload: dict):
        super().__init__(daemon=True)
        self.client = lt.make_client(port)
        self.name, self.payload = name, payload
        self.result = self.error = None
        self.start()

    def run(self):
        try:
            r = self.client.invoke(FunctionName=self.name, Payload=json.dumps(self.payload))
            self.result = (r.get("FunctionError"), json.loads(r["Payload"].read()))
        except Exception as e:  # noqa: BLE001 (reported by the test)
            self.error = e

    def answer(self, timeout: float = 20):
        self.join(timeout)
        assert not self.is_alive(), "the invocation did not finish"
        assert self.error is None, self.error
        return self.result


# ------------------------------------------------------------------------------------------
# A Debug Adapter Protocol client: Content-Length framed JSON over TCP
# ------------------------------------------------------------------------------------------

class Dap:
    def __init__(self, port: int, timeout: float = 10):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", port), timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self.sock.settimeout(None)
        self.seq = 0
        self.messages: queue.Queue = queue.Queue()
        self.pending: list = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        f = self.sock.makefile("rb")
        try:
            while True:
                length = 0
                while True:
                    line = f.readline()
                    if not line:
                        return
                    line = line.strip()
                    if not line:
                        break
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                self.messages.put(json.loads(f.read(length)))
        except OSError:
            return

    def send(self, command: str, **arguments) -> int:
        self.seq += 1
        body = json.dumps({"seq": self.seq, "type": "request", "command": command,
                           "arguments": arguments}).encode()
        self.sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return self.seq

    def wait(self, match, timeout: float = 15) -> dict:
        for i, m in enumerate(self.pending):
            if match(m):
                return self.pending.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no such DAP message; seen: {self.pending[-5:]}")
            try:
                m = self.messages.get(timeout=left)
            except queue.Empty:
                continue
            if match(m):
                return m
            self.pending.append(m)

    def response(self, seq: int, timeout: float = 15) -> dict:
        r = self.wait(lambda m: m.get("type") == "response" and m.get("request_seq") == seq, timeout)
        assert r.get("success"), r
        return r

    def event(self, name: str, timeout: float = 15) -> dict:
        return self.wait(lambda m: m.get("type") == "event" and m.get("event") == name, timeout)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


@pytest.mark.timeout_s(60)
def test_python_breakpoint_with_the_environment_variable(server, lam):
    """LAMINA_DEBUG_PORT: debugpy listens from the environment's start; a DAP client
    attaches, stops the next invocation at a breakpoint in /var/task/handler.py, holds it
    past the function's Timeout (suspended while attached), and lets it answer; a second
    invocation meanwhile is throttled (one debugged environment at a time)."""
    _need_debugpy()
    _need_bubblewrap(server.port)
    port = _free_port()
    name = lt.unique("dbgpy")
    lt.create_function(lam, name, zip_bytes=lt.make_zip({"handler.py": PY_HANDLER}), Timeout=2,
                       Environment={"Variables": {"LAMINA_DEBUG_PORT": str(port)}})
    try:
        # the first invocation starts the environment, and debugpy with it
        assert Invocation(server.port, name, {"n": 1}).answer()[1]["doubled"] == 2
        dap = Dap(port)
        try:
            dap.response(dap.send("initialize", clientID="lamina-test", adapterID="debugpy",
                                  pathFormat="path", linesStartAt1=True, columnsStartAt1=True))
            attach = dap.send("attach", justMyCode=True)
            dap.event("initialized")
            bp = dap.response(dap.send("setBreakpoints", source={"path": "/var/task/handler.py"},
                                       breakpoints=[{"line": 2}]))
            assert bp["body"]["breakpoints"][0]["line"] == 2
            dap.response(dap.send("configurationDone"))
            dap.response(attach)

            inv = Invocation(server.port, name, {"n": 21})
            stopped = dap.event("stopped")
            assert stopped["body"]["reason"] == "breakpoint"
            thread = stopped["body"]["threadId"]
            frames = dap.response(dap.send("stackTrace", threadId=thread))["body"]["stackFrames"]
            assert frames[0]["source"]["path"] == "/var/task/handler.py"
            assert frames[0]["line"] == 2

            # one environment at a time: another invocation is throttled, not a second debuggee
            with pytest.raises(ClientError) as e:
                lt.make_client(server.port).invoke(FunctionName=name, Payload=b'{"n": 2}')
            assert e.value.response["Error"]["Code"] == "TooManyRequestsException"
            assert e.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"

            time.sleep(3)  # past the 2 s Timeout: it does not run while a debugger is attached
            assert inv.is_alive()
            dap.response(dap.send("continue", threadId=thread))
            error, body = inv.answer()
            assert error is None, body
            assert body["doubled"] == 42
        finally:
            dap.close()
    finally:
        lam.delete_function(FunctionName=name)


@pytest.mark.timeout_s(60)
def test_python_debugged_function_without_a_client_keeps_its_timeout_and_takes_new_code(server, lam):
    """No debugger connected: the Timeout runs as usual. New code replaces the idle
    debugged environment, which first lets go of the port."""
    _need_debugpy()
    port = _free_port()
    name = lt.unique("dbgcode")
    code = "import time\ndef handler(event, context):\n    time.sleep(event.get('sleep', 0))\n    return {'v': %d}\n"
    lt.create_function(lam, name, zip_bytes=lt.make_zip({"handler.py": code % 1}), Timeout=1,
                       Environment={"Variables": {"LAMINA_DEBUG_PORT": str(port)}})
    try:
        assert Invocation(server.port, name, {}).answer() == (None, {"v": 1})
        lam.update_function_code(FunctionName=name, ZipFile=lt.make_zip({"handler.py": code % 2}))
        lt.wait_updated(lam, name)
        assert Invocation(server.port, name, {}).answer() == (None, {"v": 2})
        error, body = Invocation(server.port, name, {"sleep": 2.5}).answer()
        assert error == "Unhandled"
        assert body["errorType"] == "Sandbox.Timedout", body
    finally:
        lam.delete_function(FunctionName=name)


def test_python_debug_port_in_use_fails_the_invocation_and_changes_nothing(server, lam):
    _need_debugpy()
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    held.listen(1)
    port = held.getsockname()[1]
    name = lt.unique("dbgbusy")
    lt.create_function(lam, name, zip_bytes=lt.make_zip({"handler.py": PY_HANDLER}),
                       Environment={"Variables": {"LAMINA_DEBUG_PORT": str(port)}})
    try:
        error, body = Invocation(server.port, name, {"n": 1}).answer()
        assert error == "Unhandled"
        assert body["errorType"] == "Runtime.Unavailable"
        assert f"debug port 127.0.0.1:{port} is in use" in body["errorMessage"]
        assert "LAMINA_DEBUG_PORT" in body["errorMessage"]
        held.close()  # freed: the same function now runs under its debugger
        error, body = Invocation(server.port, name, {"n": 4}).answer()
        assert error is None and body["doubled"] == 8
    finally:
        held.close()
        lam.delete_function(FunctionName=name)


def test_bad_debug_variable_is_a_clear_invoke_error(server, lam):
    name = lt.unique("dbgbad")
    lt.create_function(lam, name, zip_bytes=lt.make_zip({"handler.py": PY_HANDLER}),
                       Environment={"Variables": {"LAMINA_DEBUG_PORT": "70000"}})
    try:
        error, body = Invocation(server.port, name, {"n": 1}).answer()
        assert error == "Unhandled"
        assert body["errorMessage"] == "LAMINA_DEBUG_PORT must be a port number from 1 to 65535, got '70000'"
    finally:
        lam.delete_function(FunctionName=name)


def test_serve_refuses_a_debug_port_in_use_and_bad_entries():
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    held.listen(1)
    port = held.getsockname()[1]
    try:
        for args, says in (
                (["--debug", f"fn={port}"], f"--debug fn={port}: debug port 127.0.0.1:{port} is in use"),
                (["--debug", "fn"], "--debug expects FUNCTION[:QUALIFIER]=PORT, got 'fn'"),
                (["--debug", "a=5678", "--debug", "b:PROD=5678"], "port 5678 is given twice"),
                (["--debug-wait"], "--debug-wait needs --debug")):
            out = subprocess.run([str(lt.lamina_bin()), "serve", "--ephemeral", "--port", "0", *args],
                                 capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL)
            assert out.returncode == 2, (args, out.stderr)
            assert says in out.stderr, (args, out.stderr)
            assert out.stdout == ""  # it never listened
    finally:
        held.close()


# ------------------------------------------------------------------------------------------
# A Chrome DevTools protocol client over a minimal WebSocket (RFC 6455) client
# ------------------------------------------------------------------------------------------

class Cdp:
    def __init__(self, ws_url: str):
        rest = ws_url.split("://", 1)[1]
        hostport, path = rest.split("/", 1)
        host, port = hostport.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=15)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            assert chunk, "the inspector closed the connection"
            head += chunk
        head, _, self.buf = head.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        self.seq = 0
        self.pending: list = []

    def _exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            assert chunk, "the inspector closed the connection"
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _frame(self) -> dict:
        data = b""
        while True:
            b0, b1 = self._exact(2)
            n = b1 & 0x7F
            if n == 126:
                n = int.from_bytes(self._exact(2), "big")
            elif n == 127:
                n = int.from_bytes(self._exact(8), "big")
            data += self._exact(n)
            if b0 & 0x80:  # FIN
                return json.loads(data)

    def send(self, method: str, **params) -> int:
        self.seq += 1
        payload = json.dumps({"id": self.seq, "method": method, "params": params}).encode()
        mask = os.urandom(4)
        n = len(payload)
        head = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big"))
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
        return self.seq

    def wait(self, match, timeout: float = 15) -> dict:
        for i, m in enumerate(self.pending):
            if match(m):
                return self.pending.pop(i)
        self.sock.settimeout(timeout)
        while True:
            m = self._frame()
            if match(m):
                return m
            self.pending.append(m)

    def call(self, method: str, **params) -> dict:
        seq = self.send(method, **params)
        r = self.wait(lambda m: m.get("id") == seq)
        assert "error" not in r, r
        return r.get("result", {})

    def event(self, method: str, timeout: float = 15) -> dict:
        return self.wait(lambda m: m.get("method") == method, timeout)["params"]

    def script_url(self, script_id: str) -> str:
        """The URL of a script, from the Debugger.scriptParsed events seen so far."""
        for m in self.pending:
            if m.get("method") == "Debugger.scriptParsed" and m["params"]["scriptId"] == script_id:
                return m["params"]["url"]
        return ""

    def close(self):
        self.sock.close()


def _inspector_targets(port: int, timeout: float = 15) -> list:
    deadline = time.monotonic() + timeout
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    while True:
        try:
            with opener.open(f"http://127.0.0.1:{port}/json/list", timeout=2) as r:
                return json.loads(r.read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.mark.timeout_s(60)
def test_node_breakpoint_with_serve_debug_wait(tmp_path):
    """--debug FUNCTION=PORT --debug-wait: node starts with --inspect-brk, the first
    invocation waits for the DevTools client, which sets a breakpoint in
    /var/task/index.js, sees it hit, resumes, and gets the answer."""
    if not lt.shutil.which("node"):
        pytest.skip("no node")
    port = _free_port()
    name = lt.unique("dbgnode")
    srv = lt.LaminaServer(extra_args=["--debug", f"{name}={port}", "--debug-wait"],
                          log_path=tmp_path / "lamina.log").start()
    try:
        _need_bubblewrap(srv.port)
        lam = srv.client("lambda")
        lt.create_function(lam, name, zip_bytes=lt.make_zip({"index.js": NODE_HANDLER}),
                           Runtime="nodejs22.x", Handler="index.handler", Timeout=2)
        inv = Invocation(srv.port, name, {"n": 5})
        targets = _inspector_targets(port)
        cdp = Cdp(targets[0]["webSocketDebuggerUrl"])
        try:
            cdp.call("Runtime.enable")
            cdp.call("Debugger.enable")
            bp = cdp.call("Debugger.setBreakpointByUrl", lineNumber=1, urlRegex=r"/var/task/index\.js$")
            assert bp["breakpointId"]
            cdp.call("Runtime.runIfWaitingForDebugger")
            paused = cdp.event("Debugger.paused")
            if not paused.get("hitBreakpoints"):  # --inspect-brk's stop at the bootstrap's start
                cdp.call("Debugger.resume")
                paused = cdp.event("Debugger.paused")
            assert paused["hitBreakpoints"] == [bp["breakpointId"]]
            frame = paused["callFrames"][0]
            assert cdp.script_url(frame["location"]["scriptId"]) == "file:///var/task/index.js"
            assert frame["location"]["lineNumber"] == 1
            time.sleep(2.5)  # past the 2 s Timeout while attached
            assert inv.is_alive()
            cdp.call("Debugger.resume")
            error, body = inv.answer()
            assert error is None, body
            assert body == {"doubled": 10}
        finally:
            cdp.close()
    finally:
        srv.stop()
