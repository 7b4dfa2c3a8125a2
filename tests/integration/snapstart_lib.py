"""What the SnapStart tests of Python (test_snapstart.py) and Java
(test_java_snapstart.py) share: invoking a version, waiting for its state,
reading its log group, the hook failures both runtimes answer alike, and the
restore records a restored environment sends to a Telemetry API subscriber."""
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


# A Telemetry API subscriber shipped in a layer: it keeps every event it is
# sent and writes them all to $TMPDIR/teltap-events.json after each batch, where
# the function (same sandbox, same /tmp) reads them back.
TELTAP = r'''#!/usr/bin/python3 -S
import json, os, threading, urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer
RAPI = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"]
OUT = os.path.join(os.environ.get("TMPDIR", "/tmp"), "teltap-events.json")
events = []
class Listener(BaseHTTPRequestHandler):
    def do_POST(self):
        events.extend(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        with open(OUT + ".new", "w") as f:
            json.dump(events, f)
        os.rename(OUT + ".new", OUT)
        self.send_response(200)
        self.end_headers()
    def log_message(self, *args):
        pass
server = HTTPServer(("sandbox.localdomain", 4291), Listener)
threading.Thread(target=server.serve_forever, daemon=True).start()
req = urllib.request.Request(RAPI + "/2020-01-01/extension/register", method="POST",
                             data=b'{"events": ["INVOKE"]}', headers={"Lambda-Extension-Name": "teltap"})
with urllib.request.urlopen(req) as r:
    ext_id = r.headers["Lambda-Extension-Identifier"]
body = {"schemaVersion": "2022-12-13", "types": ["platform"], "buffering": {"timeoutMs": 25},
        "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:4291/"}}
urllib.request.urlopen(urllib.request.Request(RAPI + "/2022-07-01/telemetry", method="PUT",
                       data=json.dumps(body).encode(), headers={"Lambda-Extension-Identifier": ext_id}))
while True:
    urllib.request.urlopen(urllib.request.Request(RAPI + "/2020-01-01/extension/event/next",
                                                  headers={"Lambda-Extension-Identifier": ext_id})).read()
'''


def check_restore_records(server, lam, publish, zip_bytes: bytes, prefix: str, *, runtime_version: str,
                          events_of, environment_of):
    """A restored environment's Telemetry API subscriber (TELTAP, in a layer) and its JSON system
    log get platform.restoreStart / restoreRuntimeDone / restoreReport instead of the init
    records, and the first platform.report has restoreDurationMs. The function answers
    {"until": type} once the subscriber holds a record of that type; events_of(answer) is the
    records it read, environment_of(answer) names the environment that answered."""
    layer = lam.publish_layer_version(
        LayerName=lt.unique("teltap"),
        Content={"ZipFile": lt.build_zip({"extensions/teltap": (TELTAP, 0o755)})})
    name = lt.unique(prefix)
    version = publish(lam, name, zip_bytes, Timeout=20, MemorySize=256,
                      Layers=[layer["LayerVersionArn"]],
                      LoggingConfig={"LogFormat": "JSON", "SystemLogLevel": "DEBUG"})["Version"]
    assert wait_state(lam, name, version)["State"] == "Active"

    r, first = invoke(lam, name, version, {"until": "platform.restoreReport"})
    assert "FunctionError" not in r, first
    by_type = {}
    for e in events_of(first):
        by_type.setdefault(e["type"], []).append(e["record"])
    assert "platform.initStart" not in by_type and "platform.initReport" not in by_type, by_type
    [start] = by_type["platform.restoreStart"]
    assert start["functionName"] == name and start["functionVersion"] == version
    assert start["instanceMaxMemory"] == 256
    assert start["runtimeVersion"].startswith(runtime_version)
    assert start["runtimeVersionArn"].startswith("arn:aws:lambda:")
    assert start["instanceId"]
    assert by_type["platform.restoreRuntimeDone"] == [{"status": "success"}]
    [restored] = by_type["platform.restoreReport"]
    assert restored["status"] == "success" and restored["metrics"]["durationMs"] > 0

    # the first invocation's report (seen by the next one, in the same environment)
    r, second = invoke(lam, name, version, {"until": "platform.report"})
    assert "FunctionError" not in r, second
    assert environment_of(second) == environment_of(first)
    [report] = [e["record"] for e in events_of(second) if e["type"] == "platform.report"]
    assert report["metrics"]["restoreDurationMs"] > 0
    assert "initDurationMs" not in report["metrics"]

    # LogFormat JSON: the same records in the log group, read through CloudWatch Logs
    logs = server.client("logs")

    def records():
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        parsed = []
        for e in events:
            for line in e["message"].splitlines():
                assert not line.startswith("RESTORE_"), line  # Text's lines, not in JSON
                try:
                    parsed.append(json.loads(line))
                except ValueError:
                    pass
        types = [p.get("type") for p in parsed if isinstance(p, dict)]
        return parsed if types.count("platform.report") >= 2 else None
    parsed = lt.wait_for(records, 15, interval=0.2)
    assert parsed, "no two platform.report records in the log group"
    types = [p.get("type") for p in parsed]
    # the publish-time init keeps its init records, with initializationType snap-start
    inits = [p["record"] for p in parsed if p.get("type") == "platform.initStart"]
    assert [i["initializationType"] for i in inits] == ["snap-start"]
    assert [p["record"]["initializationType"] for p in parsed
            if p.get("type") == "platform.initReport"] == ["snap-start"]
    assert types.count("platform.restoreStart") == 1
    assert types.count("platform.restoreRuntimeDone") == 1  # SystemLogLevel DEBUG
    assert types.count("platform.restoreReport") == 1
    assert types.index("platform.restoreStart") < types.index("platform.restoreReport") \
        < types.index("platform.start")
    reports = [p["record"] for p in parsed if p.get("type") == "platform.report"]
    assert "restoreDurationMs" in reports[0]["metrics"]
    assert "restoreDurationMs" not in reports[1]["metrics"]
    lam.delete_function(FunctionName=name)
