"""Hostile functions are contained: a fork bomb stops at the environment's
1024 processes (AWS's limit) and an fd leak at 1024 open files, while lamina
and other functions keep serving. (More hostile cases live in test_invoke.py:
isolation of the data dir, other functions' code, read-only /var/task and
/opt, memory limits, timeouts.)"""
import json

import pytest

import lamina_testlib as lt

ROLE = "arn:aws:iam::123456789012:role/lambda-role"

FORK_BOMB = """
import errno, os, time
def handler(event, context):
    children, failure = [], None
    while len(children) < 5000:
        try:
            pid = os.fork()
        except OSError as e:
            failure = errno.errorcode.get(e.errno, str(e.errno))
            break
        if pid == 0:
            time.sleep(120)
            os._exit(0)
        children.append(pid)
    for pid in children:
        os.kill(pid, 9)
    for pid in children:
        os.waitpid(pid, 0)
    return {"forked": len(children), "failure": failure}
"""

FD_LEAK = """
import errno
def handler(event, context):
    files = []
    try:
        while len(files) < 100000:
            files.append(open("/dev/null"))
    except OSError as e:
        failure = errno.errorcode.get(e.errno)
    n = len(files)
    for f in files:
        f.close()
    return {"opened": n, "failure": failure}
"""


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory):
    srv = lt.LaminaServer(log_path=tmp_path_factory.mktemp("hostile") / "server.log", extra_args=["--idle-timeout", "2"])
    srv.start()
    yield srv
    srv.stop()


def health(srv):
    return json.loads(lt.http_get(srv.url + "/health")[2])


def create(lam, source, **kw):
    name = lt.unique("hostile")
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="handler.handler", Timeout=60,
                        Code={"ZipFile": lt.make_zip({"handler.py": source})}, **kw)
    return name


def test_a_fork_bomb_stops_at_1024_processes(hostile_server):
    if not health(hostile_server).get("process_limits"):
        pytest.skip("no writable pids cgroup on this machine")
    lam = hostile_server.client("lambda")
    bomb = create(lam, FORK_BOMB, MemorySize=2048)
    r = lam.invoke(FunctionName=bomb, Payload=b"{}")
    out = json.loads(r["Payload"].read())
    assert "FunctionError" not in r, out
    assert out["failure"] == "EAGAIN"
    assert 900 <= out["forked"] < 1024, out
    # lamina and other functions were never starved
    assert health(hostile_server)["status"] == "ok"
    other = create(lam, "def handler(e, c):\n    return 'fine'\n")
    assert json.loads(lam.invoke(FunctionName=other)["Payload"].read()) == "fine"


def test_open_files_stop_at_1024(hostile_server):
    lam = hostile_server.client("lambda")
    name = create(lam, FD_LEAK)
    out = json.loads(lam.invoke(FunctionName=name)["Payload"].read())
    assert out["failure"] == "EMFILE"
    assert 1000 <= out["opened"] < 1024, out
