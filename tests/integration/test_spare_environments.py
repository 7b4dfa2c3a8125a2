"""Spare environments (serve --spare-environments, on by default): started ahead of a
function's cold start, they run no function code before an invoke claims one; one of
old settings is never used; none is left once the server stops."""
import base64
import json
import os
import select
import socket
import time

import lamina_testlib as lt

# init (module level) reports itself to a TCP port on the host: a connection
# before the first invoke would be function code run ahead of it
INIT_REPORTS = """
import os, socket, time
INIT_AT = time.time()
socket.create_connection(("127.0.0.1", int(os.environ["REPORT_PORT"])), timeout=5).close()
print("init ran", flush=True)

def handler(event, context):
    return {"init_at": INIT_AT, "setting": os.environ.get("SETTING")}
"""

NODE_INIT_REPORTS = """
const net = require('net');
const initAt = Date.now() / 1000;
net.connect(Number(process.env.REPORT_PORT), '127.0.0.1', function () { this.end(); });
console.log('init ran');
exports.handler = async () => ({ init_at: initAt, setting: process.env.SETTING });
"""


def listener():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    return s


def connections(sock, wait):
    """How many connections reach `sock` within `wait` seconds."""
    n = 0
    deadline = time.monotonic() + wait
    while True:
        left = max(0.0, deadline - time.monotonic())
        r, _, _ = select.select([sock], [], [], left)
        if not r:
            return n
        sock.accept()[0].close()
        n += 1


def invoke(lam, name):
    r = lam.invoke(FunctionName=name, Payload=b"{}", LogType="Tail")
    log = base64.b64decode(r["LogResult"]).decode()
    return json.loads(r["Payload"].read()), log


def test_no_function_code_runs_before_the_first_invoke(lam):
    for runtime, handler, source, file in (
            ("python3.12", "fn.handler", INIT_REPORTS, "fn.py"),
            ("nodejs22.x", "index.handler", NODE_INIT_REPORTS, "index.js")):
        with listener() as sock:
            name = lt.unique("spare")
            lt.create_function(lam, name, zip_bytes=lt.make_zip({file: source}), Runtime=runtime,
                               Handler=handler,
                               Environment={"Variables": {"REPORT_PORT": str(sock.getsockname()[1])}})
            # time enough for a spare to be up and holding (and for a stray init to report)
            assert connections(sock, 2.0) == 0, f"{runtime}: function code ran before any invoke"
            before = time.time()
            body, log = invoke(lam, name)
            assert connections(sock, 5.0) == 1
            assert body["init_at"] >= before - 0.05, (runtime, body, before)
            # a cold start as ever: what init printed leads its log, with Init Duration
            assert log.index("init ran") < log.index("START RequestId"), log
            init_ms = float(log.split("Init Duration: ")[1].split(" ms")[0])
            assert init_ms > 0
            # the next invoke is warm: no second init
            body2, log2 = invoke(lam, name)
            assert body2["init_at"] == body["init_at"]
            assert "Init Duration" not in log2
            lam.delete_function(FunctionName=name)


def test_a_spare_of_old_settings_is_not_used(lam):
    with listener() as sock:
        name = lt.unique("spare-upd")
        env = {"REPORT_PORT": str(sock.getsockname()[1]), "SETTING": "old"}
        lt.create_function(lam, name, zip_bytes=lt.make_zip({"fn.py": INIT_REPORTS}),
                           Handler="fn.handler", Environment={"Variables": env})
        time.sleep(0.5)
        lam.update_function_configuration(FunctionName=name,
                                          Environment={"Variables": {**env, "SETTING": "new"}})
        lt.wait_updated(lam, name)
        time.sleep(0.5)
        body, _ = invoke(lam, name)
        assert body["setting"] == "new"
        # and new code: a spare of the old code is not used either
        lam.update_function_code(FunctionName=name, ZipFile=lt.make_zip(
            {"fn.py": INIT_REPORTS.replace('os.environ.get("SETTING")', '"code-2"')}))
        lt.wait_updated(lam, name)
        body, _ = invoke(lam, name)
        assert body["setting"] == "code-2"
        assert connections(sock, 0.5) >= 1
        lam.delete_function(FunctionName=name)


def children_of(pid):
    """PIDs whose parent is `pid`."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(entry))
    return out


def test_spares_are_bounded_and_stopped_with_the_server():
    srv = lt.LaminaServer(extra_args=["--spare-environments", "2"]).start()
    try:
        lam = srv.client("lambda")
        for _ in range(3):
            lt.create_function(lam, lt.unique("spare-cap"))
        spares = lt.wait_for(lambda: children_of(srv.proc.pid), timeout=20, count=2)
        time.sleep(1.0)  # a third would have started by now
        spares = children_of(srv.proc.pid)
        assert len(spares) == 2, spares
    finally:
        srv.stop()
    gone = lt.wait_for(lambda: all(not os.path.exists(f"/proc/{p}") for p in spares), timeout=10)
    assert gone, "a spare environment outlived the server"


def test_no_spares_when_turned_off():
    srv = lt.LaminaServer(extra_args=["--spare-environments", "0"]).start()
    try:
        lam = srv.client("lambda")
        name = lt.unique("no-spare")
        lt.create_function(lam, name)
        time.sleep(1.0)
        assert children_of(srv.proc.pid) == []
        r = lam.invoke(FunctionName=name, Payload=b"{}", LogType="Tail")
        assert "Init Duration" in base64.b64decode(r["LogResult"]).decode()
    finally:
        srv.stop()
