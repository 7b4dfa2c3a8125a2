"""SnapStart on Java: a published java17 version runs from a checkpoint of its
initialised JVM (criu), restored into each new environment, with the org.crac
hooks of lamina's Java runtime. Needs criu (scripts/install-deps.sh installs it)
and javac; skipped, saying so, without them."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

import lamina_testlib as lt
from snapstart_lib import check_hook_failures, check_restore_records, invoke, log_text, wait_state

SOURCES = Path(__file__).resolve().parent / "java"
CORE_JAR = lt.REPO / "runtimes" / "java" / "lamina-java-core.jar"


def criu_path():
    return shutil.which("criu") or next(
        (p for p in ("/usr/sbin/criu", "/sbin/criu") if Path(p).exists()), None)


@pytest.fixture(scope="module")
def snap_zip(tmp_path_factory):
    if criu_path() is None:
        pytest.skip("criu is not installed (apt-get install criu; scripts/install-deps.sh does)")
    javac = shutil.which("javac")
    if javac is None:
        pytest.skip("no javac (openjdk-17-jdk-headless) on this machine")
    assert CORE_JAR.is_file(), "the build writes runtimes/java/lamina-java-core.jar (CMake, javac)"
    out = tmp_path_factory.mktemp("java-snap-classes")
    sources = sorted(str(p) for p in (SOURCES / "snap").rglob("*.java"))
    subprocess.run([javac, "--release", "11", "-cp", str(CORE_JAR), "-d", str(out), *sources],
                   check=True, capture_output=True, timeout=120)

    def make(*flags: str) -> bytes:
        files = {f.relative_to(out).as_posix(): f.read_bytes() for f in sorted(out.rglob("*.class"))}
        for f in flags:
            files[f] = b""
        return lt.build_zip(files)
    return make




def publish(lam, name, zip_bytes, **kw):
    lt.create_function(lam, name, zip_bytes=zip_bytes, Runtime="java17", Handler="snap.Handler",
                       SnapStart={"ApplyOn": "PublishedVersions"}, **kw)
    return lam.publish_version(FunctionName=name)



def restored_jvms(name: str) -> list[int]:
    """Host pids of JVMs whose environment names the function (restored or not)."""
    want = f"AWS_LAMBDA_FUNCTION_NAME={name}".encode()
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            if (d / "comm").read_text().strip() != "java":
                continue
            if want in (d / "environ").read_bytes().split(b"\0"):
                found.append(int(d.name))
        except OSError:
            continue
    return found


def ready_restores(server) -> list[int]:
    """lamina's restores made ready ahead: its children stopped before they exec criu."""
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            argv = (d / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        if ppid == server.proc.pid and argv[:2] == [b"/bin/sh", b"-c"] and b"restore" in argv:
            found.append(int(d.name))
    return found


def memory_group(pid: int) -> tuple[str, int] | None:
    """The memory cgroup of a process and its limit in bytes (cgroup v1 or v2), or None."""
    v2 = None
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        hid, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            limit = Path("/sys/fs/cgroup/memory") / path.lstrip("/") / "memory.limit_in_bytes"
            return path, int(limit.read_text())
        if hid == "0":
            v2 = Path("/sys/fs/cgroup") / path.lstrip("/") / "memory.max"
    if v2 is not None and v2.exists():
        text = v2.read_text().strip()
        return str(v2.parent), (int(text) if text != "max" else -1)
    return None


def test_java_restores_each_get_a_memory_cgroup_of_their_own(server, lam, snap_zip):
    """The next restore is made ready ahead (criu's command started in the next
    environment's memory cgroup); restores at once beyond it start criu then. Each
    restored JVM is in a cgroup of its own limited to MemorySize, whichever way."""
    before = set(ready_restores(server))
    name = lt.unique("jsnapcg")
    v = publish(lam, name, snap_zip(), Timeout=15, MemorySize=256)
    assert wait_state(lam, name, v["Version"])["State"] == "Active"
    assert lt.wait_for(lambda: set(ready_restores(server)) - before, 20), \
        "no restore was made ready once the checkpoint was taken"
    results = [None] * 3

    def run(i):
        results[i] = invoke(lam, name, v["Version"], {"sleep_ms": 4000})
    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    assert lt.wait_for(lambda: len(restored_jvms(name)) == 3, 30), restored_jvms(name)
    groups = {pid: memory_group(pid) for pid in restored_jvms(name)}
    for t in threads:
        t.join(60)
    for r, body in results:
        assert "FunctionError" not in r, body
        assert body["after"] == ["handler", "second"]
    if any(g is None for g in groups.values()):
        pytest.skip("lamina has no memory cgroups on this machine")
    assert len({g[0] for g in groups.values()}) == 3, groups
    assert all(g[1] == 256 * 2**20 for g in groups.values()), groups
    # a deleted version's ready restore goes with it
    lam.delete_function(FunctionName=name)
    assert lt.wait_for(lambda: not set(ready_restores(server)) - before, 20), \
        "a restore made ready outlived its version"


def test_java_snapshot_restores_share_init_state(server, lam, snap_zip):
    name = lt.unique("jsnap")
    v = publish(lam, name, snap_zip(), Timeout=15, MemorySize=512)
    assert v["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"}
    assert v["State"] == "Pending"
    cfg = wait_state(lam, name, v["Version"])
    assert cfg["State"] == "Active", (cfg.get("StateReasonCode"), cfg.get("StateReason"))
    latest = lam.get_function_configuration(FunctionName=name)
    assert latest["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"}

    # two invocations at once: two environments restored from the one checkpoint
    results = [None, None]

    def run(i):
        results[i] = invoke(lam, name, v["Version"], {"sleep_ms": 1500}, LogType="Tail")
    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(results), results
    (ra, a), (rb, b) = results
    assert "FunctionError" not in ra and "FunctionError" not in rb, (a, b)
    assert a["request_id"] != b["request_id"]
    assert a["restore_id"] and b["restore_id"] and a["restore_id"] != b["restore_id"], \
        "both invocations ran in one restored environment"
    # AWS's uniqueness hazard, for real: the init's random number and uuid are the same
    assert a["seed"] == b["seed"] and a["init_id"] == b["init_id"]
    # beforeCheckpoint ran once, before the checkpoint, in reverse order of registration
    assert a["before"] == b["before"] == ["second", "handler"]
    # afterRestore ran in each environment, in order of registration
    assert a["after"] == b["after"] == ["handler", "second"]
    assert a["init_type"] == b["init_type"] == "snap-start"
    for r in (ra, rb):
        tail = base64.b64decode(r["LogResult"]).decode()
        report = next(l for l in tail.splitlines() if l.startswith("REPORT"))
        assert re.search(r"\tRestore Duration: [\d.]+ ms\tBilled Restore Duration: \d+ ms", report)
        assert "Init Duration" not in report

    # $LATEST is never snapshotted: its environment initialises on its own
    r, c = invoke(lam, name, None, {}, LogType="Tail")
    assert "FunctionError" not in r, c
    assert c["init_type"] == "on-demand" and c["before"] == [] and c["after"] == []
    assert c["seed"] != a["seed"]
    assert "Init Duration" in base64.b64decode(r["LogResult"]).decode()

    text = log_text(server, name, "RESTORE_REPORT Restore Duration:", 2)
    assert text.count("INIT_REPORT Init Duration:") == 1
    assert text.count("BEFORE-CHECKPOINT handler") == 1
    assert text.count("AFTER-RESTORE handler") >= 2
    assert text.count("RESTORE_START Runtime Version: java:17") >= 2

    lam.delete_function(FunctionName=name)


def test_java_restored_environment_keeps_timeout_and_ends(server, lam, snap_zip):
    name = lt.unique("jsnaplim")
    v = publish(lam, name, snap_zip(), Timeout=2, MemorySize=256)
    assert wait_state(lam, name, v["Version"])["State"] == "Active"
    assert not restored_jvms(name), "the checkpoint should have ended the snapshot's JVM"
    r, body = invoke(lam, name, v["Version"], {"sleep_ms": 5000})
    assert r.get("FunctionError") == "Unhandled", body
    assert body["errorType"] == "Sandbox.Timedout"
    # the timed-out environment is ended: its restored JVM with it (not only criu, its parent)
    gone = lt.wait_for(lambda: not restored_jvms(name), 20)
    assert gone, f"the restored JVM outlived its environment: {restored_jvms(name)}"
    # the next invocation is restored afresh
    r, body = invoke(lam, name, v["Version"])
    assert "FunctionError" not in r and body["after"] == ["handler", "second"]
    lam.delete_function(FunctionName=name)


def test_java_restored_environment_out_of_memory(server, lam, snap_zip):
    """A restored JVM whose heap runs out answers java.lang.OutOfMemoryError and exits, as
    AWS's runtime does: the next invocation is restored afresh from the checkpoint."""
    name = lt.unique("jsnapoom")
    v = publish(lam, name, snap_zip(), Timeout=15, MemorySize=512)
    assert wait_state(lam, name, v["Version"])["State"] == "Active"
    r, first = invoke(lam, name, v["Version"], {"alloc_mb": 8})
    assert "FunctionError" not in r and first["allocated_mb"] == 8, first
    r, body = invoke(lam, name, v["Version"], {"alloc_mb": 1024})
    assert r.get("FunctionError") == "Unhandled", body
    assert (body["errorType"], body["errorMessage"]) == ("java.lang.OutOfMemoryError", "Java heap space")
    r, again = invoke(lam, name, v["Version"], {"alloc_mb": 8}, LogType="Tail")
    assert "FunctionError" not in r and again["allocated_mb"] == 8, again
    assert again["restore_id"] != first["restore_id"], "the JVM whose heap ran out served again"
    assert again["after"] == ["handler", "second"] and again["seed"] == first["seed"]
    assert "\tRestore Duration: " in base64.b64decode(r["LogResult"]).decode()
    lam.delete_function(FunctionName=name)


def test_java_restored_environment_sends_restore_records(server, lam, snap_zip):
    """As for Python: the Telemetry API subscriber of a restored JVM's environment and its JSON
    system log get the restore records; the first platform.report has restoreDurationMs."""
    check_restore_records(server, lam, publish, snap_zip(), "jsnaptel", runtime_version="java:17",
                          events_of=lambda body: json.loads(body["events_json"]),
                          environment_of=lambda body: body["restore_id"])


def test_java_hook_failures(server, lam, snap_zip):
    check_hook_failures(server, lam, publish, snap_zip("fail_before"), snap_zip("fail_after"),
                        "afterRestore failed on purpose", "jsnap")


MARKER_EXTENSION = r'''#!/usr/bin/python3 -S
import os, urllib.request
RAPI = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"]
req = urllib.request.Request(RAPI + "/2020-01-01/extension/register", method="POST",
                             data=b'{"events": ["INVOKE"]}', headers={"Lambda-Extension-Name": "marker"})
with urllib.request.urlopen(req) as r:
    ext_id = r.headers["Lambda-Extension-Identifier"]
open("/tmp/extension-registered", "w").close()
while True:
    urllib.request.urlopen(urllib.request.Request(RAPI + "/2020-01-01/extension/event/next",
                                                  headers={"Lambda-Extension-Identifier": ext_id})).read()
'''


def test_java_restored_environment_starts_layer_extensions(server, lam, snap_zip):
    """The layers' extensions are not in the checkpoint: each restored environment starts
    them during its restore, registered with its own Runtime API, in its own /tmp."""
    layer = lam.publish_layer_version(
        LayerName=lt.unique("marker"),
        Content={"ZipFile": lt.build_zip({"extensions/marker": (MARKER_EXTENSION, 0o755)})})
    name = lt.unique("jsnapext")
    v = publish(lam, name, snap_zip(), Timeout=15, MemorySize=256, Layers=[layer["LayerVersionArn"]])
    cfg = wait_state(lam, name, v["Version"])
    assert cfg["State"] == "Active", (cfg.get("StateReasonCode"), cfg.get("StateReason"))
    r, body = invoke(lam, name, v["Version"], {})
    assert "FunctionError" not in r, body
    assert "extension-registered" in body["tmp"], body["tmp"]
    assert body["after"] == ["handler", "second"]
    lam.delete_function(FunctionName=name)
