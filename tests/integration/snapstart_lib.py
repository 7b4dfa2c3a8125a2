"""What the SnapStart tests of Python (test_snapstart.py) and Java
(test_java_snapstart.py) share: invoking a version, waiting for its state,
reading its log group, and the hook failures both runtimes answer alike."""
from __future__ import annotations

import json

import pytest

import lamina_testlib as lt


def invoke(lam, name, qualifier=None, payload=None, **kw):
    args = dict(FunctionName=name, Payload=json.dumps(payload or {}).encode(), **kw)
    if qualifier:
        args["Qualifier"] = qualifier
    r = lam.invoke(**args)
    return r, json.loads(r["Payload"].read() or b"null")


def wait_state(lam, name, version, timeout=60):
    def state():
        cfg = lam.get_function_configuration(FunctionName=name, Qualifier=version)
        return cfg if cfg["State"] != "Pending" else None
    cfg = lt.wait_for(state, timeout, interval=0.1)
    assert cfg, f"version {version} of {name} stayed Pending"
    return cfg


def log_text(server, name, contains: str, count: int = 1, timeout: float = 20) -> str:
    logs = server.client("logs")

    def text():
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        joined = "".join(e["message"] if e["message"].endswith("\n") else e["message"] + "\n"
                         for e in events)
        return joined if joined.count(contains) >= count else None
    got = lt.wait_for(text, timeout, interval=0.2)
    assert got, f"{contains!r} not {count} times in the log group of {name}"
    return got


def check_hook_failures(server, lam, publish, fail_before: bytes, fail_after: bytes, after_message: str,
                        prefix: str):
    """A before-snapshot hook that fails leaves the version Failed ($LATEST, never snapshotted,
    still runs); an after-restore hook that fails answers SnapStartException and the log says why.
    `publish(lam, name, zip)` creates the function and publishes a SnapStart version."""
    name = lt.unique(prefix + "bad")
    v = publish(lam, name, fail_before)
    cfg = wait_state(lam, name, v["Version"])
    assert cfg["State"] == "Failed"
    assert cfg["StateReasonCode"] == "FunctionError.RuntimeInitError"
    assert "Runtime.BeforeSnapshotError" in cfg["StateReason"]
    with pytest.raises(lam.exceptions.ResourceConflictException):
        invoke(lam, name, v["Version"])
    assert invoke(lam, name)[1]["init_type"] == "on-demand"
    lam.delete_function(FunctionName=name)

    name = lt.unique(prefix + "after")
    v = publish(lam, name, fail_after)
    assert wait_state(lam, name, v["Version"])["State"] == "Active"
    with pytest.raises(lam.exceptions.SnapStartException) as e:
        invoke(lam, name, v["Version"])
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    text = log_text(server, name, after_message)
    assert "RESTORE_START" in text
    lam.delete_function(FunctionName=name)
