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


def test_filling_tmp_stops_at_the_ephemeral_storage_size(hostile_server):
    if health(hostile_server).get("sandbox") != "bubblewrap":
        pytest.skip("/tmp is a sized tmpfs only in the bubblewrap backend")
    lam = hostile_server.client("lambda")
    src = ("import errno\ndef handler(e, c):\n    chunk = b'x' * (1 << 20)\n    n = 0\n"
           "    with open('/tmp/fill', 'wb') as f:\n        try:\n            while n < 2048:\n"
           "                f.write(chunk)\n                f.flush()\n                n += 1\n"
           "        except OSError as e:\n            return {'mb': n, 'failure': errno.errorcode.get(e.errno)}\n"
           "    return {'mb': n, 'failure': None}\n")
    name = create(lam, src, MemorySize=2048, EphemeralStorage={"Size": 600})
    out = json.loads(lam.invoke(FunctionName=name)["Payload"].read())
    assert out["failure"] == "ENOSPC"
    assert 590 <= out["mb"] <= 600, out
    assert health(hostile_server)["status"] == "ok"


def test_background_children_die_with_a_timed_out_environment(hostile_server):
    import subprocess
    import time
    if health(hostile_server).get("sandbox") != "bubblewrap":
        pytest.skip("needs the pid namespace of the bubblewrap backend")
    lam = hostile_server.client("lambda")
    marker = "987654"  # `sleep 987654` is easy to look for on the host
    src = ("import subprocess, time\ndef handler(e, c):\n"
           f"    subprocess.Popen(['sleep', '{marker}'], start_new_session=True)\n"
           "    time.sleep(30)\n")
    name = create(lam, src)
    lam.update_function_configuration(FunctionName=name, Timeout=2)
    r = lam.invoke(FunctionName=name)
    assert json.loads(r["Payload"].read())["errorType"] == "Sandbox.Timedout"
    for _ in range(50):
        alive = subprocess.run(["pgrep", "-f", f"sleep {marker}"], capture_output=True, text=True).stdout.split()
        if not alive:
            break
        time.sleep(0.1)
    assert not alive, "a child of the timed-out environment survived it"


def test_a_function_cannot_signal_processes_outside_its_sandbox(hostile_server):
    if health(hostile_server).get("sandbox") != "bubblewrap":
        pytest.skip("needs the pid namespace of the bubblewrap backend")
    lam = hostile_server.client("lambda")
    src = ("import os, signal\ndef handler(e, c):\n    out = {}\n    for pid in e['pids']:\n"
           "        try:\n            os.kill(pid, signal.SIGKILL)\n            out[str(pid)] = 'killed'\n"
           "        except OSError as err:\n            out[str(pid)] = type(err).__name__\n    return out\n")
    name = create(lam, src)
    lamina_pid = hostile_server.proc.pid
    r = lam.invoke(FunctionName=name, Payload=json.dumps({"pids": [lamina_pid, os_getppid()]}).encode())
    out = json.loads(r["Payload"].read())
    assert out[str(lamina_pid)] in ("ProcessLookupError", "PermissionError"), out
    assert hostile_server.proc.poll() is None  # lamina is alive
    assert health(hostile_server)["status"] == "ok"


def os_getppid():
    import os
    return os.getpid()  # the test runner itself
