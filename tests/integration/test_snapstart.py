"""SnapStart: a published python3.12 version runs from a snapshot (a paused,
initialised runtime process that restored environments are forked from)."""

from __future__ import annotations

import base64
import json
import os
import re
import threading
import time
from pathlib import Path

import pytest

import lamina_testlib as lt
from snapstart_lib import check_hook_failures, check_restore_records, invoke, log_text, wait_state

HANDLER_SRC = """
import os, random, time, uuid
from snapshot_restore_py import register_before_snapshot, register_after_restore

SEED = random.random()          # made at init: every restore sees the same one
INIT_ID = str(uuid.uuid4())
BEFORE = []
AFTER = []

@register_before_snapshot
def b1():
    BEFORE.append("b1")
    print("BEFORE-SNAPSHOT b1", flush=True)

def b2():
    BEFORE.append("b2")
register_before_snapshot(b2)

def a1(tag, *, suffix=""):
    AFTER.append(tag + suffix)
    print("AFTER-RESTORE", tag, flush=True)
register_after_restore(a1, "a1", suffix="!")

RESTORED_AT = []  # when the after-restore hooks ran (time.time())
register_after_restore(lambda: RESTORED_AT.append(time.time()))

@register_after_restore
def a2():
    AFTER.append("a2")
    if os.path.exists(os.path.join(os.environ["LAMBDA_TASK_ROOT"], "fail_after")):
        raise RuntimeError("after-restore hook failed on purpose")

if os.path.exists(os.path.join(os.environ["LAMBDA_TASK_ROOT"], "fail_before")):
    register_before_snapshot(lambda: 1 / 0)

def handler(event, context):
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("alloc_mb"):
        blocks = [bytearray(16 * 1024 * 1024) for _ in range(event["alloc_mb"] // 16)]
        return len(blocks)
    return {"seed": SEED, "init_id": INIT_ID, "pid": os.getpid(), "before": BEFORE,
            "after": AFTER, "init_type": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE"),
            "stream": os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME"), "restored_at": RESTORED_AT}
"""


def code(*flags: str) -> bytes:
    files = {"handler.py": HANDLER_SRC}
    for f in flags:
        files[f] = ""
    return lt.make_zip(files)




def publish_snapstart(lam, name, zip_bytes, **kw):
    lt.create_function(lam, name, zip_bytes=zip_bytes, SnapStart={"ApplyOn": "PublishedVersions"},
                       **kw)
    v = lam.publish_version(FunctionName=name)
    return v


def zygote_pids(name: str, version: str) -> list[int]:
    """Host pids of the snapshot runtimes of name:version: Python processes whose environment
    names it with AWS_LAMBDA_INITIALIZATION_TYPE=snap-start and whose parent is not one (the
    restored environments are the snapshot's children)."""
    want = {f"AWS_LAMBDA_FUNCTION_NAME={name}".encode(),
            f"AWS_LAMBDA_FUNCTION_VERSION={version}".encode(),
            b"AWS_LAMBDA_INITIALIZATION_TYPE=snap-start"}
    found = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            if not (d / "comm").read_text().startswith("python"):
                continue  # bubblewrap, which started it, has the same environment
            env = set((d / "environ").read_bytes().split(b"\0"))
            ppid = int(re.search(r"^PPid:\s+(\d+)", (d / "status").read_text(), re.M).group(1))
        except (OSError, AttributeError):
            continue
        if want <= env:
            found[int(d.name)] = ppid
    return [pid for pid, ppid in found.items() if ppid not in found]



def test_snapshot_restores_share_init_state(server, lam):
    name = lt.unique("snap")
    v = publish_snapstart(lam, name, code(), Timeout=10)
    assert v["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"}
    assert v["State"] == "Pending"
    cfg = wait_state(lam, name, v["Version"])
    assert cfg["State"] == "Active", cfg
    latest = lam.get_function_configuration(FunctionName=name)
    assert latest["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"}

    # two invocations at once: two environments restored from the one snapshot
    results = [None, None]

    def run(i):
        results[i] = invoke(lam, name, v["Version"], {"sleep": 1.5})[1]
    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    a, b = results
    assert a and b, results
    assert a["pid"] != b["pid"], "both invocations ran in one environment"
    # AWS's uniqueness hazard, reproduced: the init's random number and uuid are the same
    assert a["seed"] == b["seed"] and a["init_id"] == b["init_id"]
    # before-snapshot hooks ran once, before the snapshot, in reverse order of registration
    assert a["before"] == b["before"] == ["b2", "b1"]
    # after-restore hooks ran in each environment, in order of registration
    assert a["after"] == b["after"] == ["a1!", "a2"]
    assert a["init_type"] == b["init_type"] == "snap-start"
    assert a["stream"] is None  # AWS sets no log stream name for SnapStart functions

    # $LATEST is never snapshotted: its environments initialise each on their own
    def run_latest(i):
        results[i] = invoke(lam, name, None, {"sleep": 1.5})[1]
    threads = [threading.Thread(target=run_latest, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    c, d = results
    assert c["seed"] != d["seed"] and c["init_id"] != d["init_id"]
    assert c["init_type"] == "on-demand" and c["after"] == [] and c["before"] == []

    # the log: INIT_REPORT at publish, RESTORE_START / RESTORE_REPORT, REPORT with Restore Duration
    text = log_text(server, name, "RESTORE_REPORT Restore Duration:", 2)
    assert text.count("INIT_REPORT Init Duration:") == 1
    assert text.count("BEFORE-SNAPSHOT b1") == 1
    assert text.count("AFTER-RESTORE a1") >= 2
    assert text.count("RESTORE_START Runtime Version: python:3.12") >= 2
    reports = [l for l in text.splitlines() if l.startswith("REPORT") and "Restore Duration" in l]
    assert len(reports) >= 2
    assert all(re.search(r"\tRestore Duration: [\d.]+ ms\tBilled Restore Duration: \d+ ms", r)
               and "Init Duration" not in r for r in reports)

    # deleting the version kills its snapshot's runtime
    pids = zygote_pids(name, v["Version"])
    assert len(pids) == 1, pids
    lam.delete_function(FunctionName=name, Qualifier=v["Version"])
    gone = lt.wait_for(lambda: not Path(f"/proc/{pids[0]}").exists()
                       or "State:\tZ" in Path(f"/proc/{pids[0]}/status").read_text(), 10)
    assert gone, f"the snapshot's runtime {pids[0]} outlived its version"
    lam.delete_function(FunctionName=name)


def children_of(pid: int) -> list[int]:
    """Host pids of the Python processes whose parent is pid (a snapshot's restored environments)."""
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            status = (d / "status").read_text()
            if (d / "comm").read_text().startswith("python") and \
                    re.search(r"^PPid:\s+(\d+)", status, re.M).group(1) == str(pid) and \
                    "State:\tZ" not in status:
                found.append(int(d.name))
        except (OSError, AttributeError):
            continue
    return found


def memory_cgroup(pid: int) -> str:
    """pid's memory cgroup: cgroup v1's memory line, else v2's one line."""
    lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    return next((l for l in lines if ":memory:" in l), next((l for l in lines if l.startswith("0::")), ""))


def test_next_restore_is_made_ready_ahead(server, lam):
    """A Python snapshot keeps its next restored environment made ready: forked and in a memory
    cgroup of its own, held before its after-restore hooks. The hooks run at the invoke, and the
    log has RESTORE_START only for environments an invocation claimed; another is then made
    ready, and the ready one goes with its version."""
    name = lt.unique("snapready")
    v = publish_snapstart(lam, name, code(), Timeout=10, MemorySize=256)
    assert wait_state(lam, name, v["Version"])["State"] == "Active"
    [zygote] = zygote_pids(name, v["Version"])
    ready = lt.wait_for(lambda: children_of(zygote), 10)
    assert len(ready) == 1, ready  # there once the version is Active
    health = json.loads(lt.http_get(server.url + "/health")[2])
    if health.get("memory_limits"):
        assert memory_cgroup(ready[0]) and memory_cgroup(ready[0]) != memory_cgroup(zygote)
    time.sleep(0.5)
    sent = time.time()
    r, body = invoke(lam, name, v["Version"], {}, LogType="Tail")
    assert "FunctionError" not in r, body
    assert body["after"] == ["a1!", "a2"] and body["init_type"] == "snap-start"
    [hooks_ran] = body["restored_at"]
    assert hooks_ran >= sent, "the after-restore hooks ran before the invocation claimed it"
    report = next(l for l in base64.b64decode(r["LogResult"]).decode().splitlines()
                  if l.startswith("REPORT"))
    assert "\tRestore Duration: " in report
    # the claimed one and a new one made ready
    both = lt.wait_for(lambda: children_of(zygote), 10, count=2)
    assert len(both) == 2 and ready[0] in both, both
    text = log_text(server, name, "RESTORE_REPORT Restore Duration:")
    assert text.count("RESTORE_START Runtime Version:") == 1
    lam.delete_function(FunctionName=name, Qualifier=v["Version"])
    def alive(pid):
        try:
            return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return False
    gone = lt.wait_for(lambda: not any(alive(p) for p in both), 10)
    assert gone, f"restored environments outlived their version: {[p for p in both if alive(p)]}"
    lam.delete_function(FunctionName=name)


def test_restored_environment_keeps_timeout_and_memory(server, lam):
    name = lt.unique("snaplim")
    v = publish_snapstart(lam, name, code(), Timeout=2, MemorySize=128)
    assert wait_state(lam, name, v["Version"])["State"] == "Active"
    r, body = invoke(lam, name, v["Version"], {"sleep": 5}, LogType="Tail")
    assert r["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 2.00 seconds" in body["errorMessage"]
    # the next invocation is restored afresh
    r, body = invoke(lam, name, v["Version"])
    assert "FunctionError" not in r and body["after"] == ["a1!", "a2"]
    health = json.loads(lt.http_get(server.url + "/health")[2])
    if health.get("memory_limits"):
        r, body = invoke(lam, name, v["Version"], {"alloc_mb": 640})
        assert r["FunctionError"] == "Unhandled"
        assert body["errorType"] == "Runtime.OutOfMemory", body
        r, body = invoke(lam, name, v["Version"], {"alloc_mb": 32})
        assert "FunctionError" not in r and body == 2
    lam.delete_function(FunctionName=name)


def test_hook_failures(server, lam):
    check_hook_failures(server, lam, publish_snapstart, code("fail_before"), code("fail_after"),
                        "after-restore hook failed on purpose", "snap")


def test_not_ready_and_refusals(server, lam, lam_nv, cli):
    name = lt.unique("snapslow")
    src = "import time\ntime.sleep(4)\ndef handler(e, c):\n    return 'ok'\n"
    lt.create_function(lam, name, zip_bytes=lt.make_zip({"handler.py": src}),
                       SnapStart={"ApplyOn": "PublishedVersions"})
    v = json.loads(cli.run("lambda", "publish-version", "--function-name", name,
                           "--output", "json").stdout)
    assert v["State"] == "Pending" and v["SnapStart"]["OptimizationStatus"] == "On"
    with pytest.raises(lam.exceptions.SnapStartNotReadyException) as e:
        invoke(lam, name, v["Version"])
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert e.value.response["Error"]["Message"] == (
        "Lambda is initializing your function. It will be ready to invoke once your function "
        "state becomes ACTIVE.")
    assert wait_state(lam, name, v["Version"])["State"] == "Active"
    r, body = invoke(lam, name, v["Version"], LogType="Tail")
    assert body == "ok"
    tail = base64.b64decode(r["LogResult"]).decode()
    assert "Restore Duration" in tail and "Init Duration" not in tail
    lam.delete_function(FunctionName=name)

    base = dict(Role=lt.ROLE_ARN, Code={"ZipFile": lt.handler_zip()},
                SnapStart={"ApplyOn": "PublishedVersions"})
    for runtime, handler, words in [
            ("java8.al2", "a.B::handle",
             ["java8.al2 is not supported for SnapStart enabled functions."]),
            ("dotnet8", "A::B.C::D", ["lamina cannot emulate SnapStart for dotnet8", ".NET"]),
            ("nodejs22.x", "index.handler",
             ["nodejs22.x is not supported for SnapStart enabled functions."]),
            ("python3.11", "handler.handler",
             ["python3.11 is not supported for SnapStart enabled functions."])]:
        with pytest.raises(lam_nv.exceptions.InvalidParameterValueException) as e:
            lam_nv.create_function(FunctionName=lt.unique("snapno"), Runtime=runtime,
                                   Handler=handler, **base)
        for w in words:
            assert w in e.value.response["Error"]["Message"]


TEL_HANDLER = r'''
import json, os, time
OUT = os.path.join(os.environ.get("TMPDIR", "/tmp"), "teltap-events.json")
def handler(event, context):
    # what the extension was sent so far, once it holds the record asked for (10 s at most)
    deadline = time.time() + 10
    while True:
        try:
            with open(OUT) as f:
                events = json.load(f)
        except (OSError, ValueError):
            events = []
        if any(e["type"] == event["until"] for e in events) or time.time() > deadline:
            return {"events": events, "pid": os.getpid()}
        time.sleep(0.05)
'''


def test_restored_environment_sends_restore_records(server, lam):
    """A restored environment's Telemetry API subscriber and its JSON system log get
    platform.restoreStart / restoreRuntimeDone / restoreReport instead of the init records;
    the first platform.report has restoreDurationMs."""
    check_restore_records(server, lam, publish_snapstart, lt.make_zip({"handler.py": TEL_HANDLER}),
                          "snaptel", runtime_version="python:3.",
                          events_of=lambda body: body["events"], environment_of=lambda body: body["pid"])
