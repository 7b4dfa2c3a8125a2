"""The Extensions API: executables in a layer's /opt/extensions start before
the runtime, register, get INVOKE and SHUTDOWN events, and hold init until
they are ready, as on AWS. Driven through boto3 against both sandbox backends."""
import json
import os
import time

import pytest

import lamina_testlib as lt

ROLE = "arn:aws:iam::123456789012:role/lambda-role"

# An external extension written to AWS's Extensions API spec (stdlib only).
# It waits before registering, so that a handler that runs before it is ready
# would notice; it records what it sees in /tmp for the handler to return.
EXTENSION = r'''#!/usr/bin/python3 -S
import json, os, sys, time, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2020-01-01/extension"
name = os.path.basename(sys.argv[0])
time.sleep(float(os.environ.get("EXT_DELAY", "0.3")))
req = urllib.request.Request(api + "/register", method="POST",
                             data=json.dumps({"events": ["INVOKE", "SHUTDOWN"]}).encode(),
                             headers={"Lambda-Extension-Name": name, "Lambda-Extension-Accept-Feature": "accountId"})
with urllib.request.urlopen(req) as r:
    ext_id = r.headers["Lambda-Extension-Identifier"]
    info = json.loads(r.read())
env = {k: os.environ.get(k) for k in ("_HANDLER", "AWS_EXECUTION_ENV", "LAMBDA_TASK_ROOT", "AWS_LAMBDA_LOG_STREAM_NAME",
                                      "AWS_LAMBDA_FUNCTION_NAME", "AWS_REGION", "AWS_LAMBDA_RUNTIME_API")}
TMP = os.environ.get("TMPDIR", "/tmp")  # the process backend's /tmp is per environment only through TMPDIR
with open(TMP + "/ext-registered", "w") as f:
    json.dump({"id": ext_id, "info": info, "env": env}, f)
while True:
    req = urllib.request.Request(api + "/event/next", headers={"Lambda-Extension-Identifier": ext_id})
    with urllib.request.urlopen(req) as r:
        event = json.loads(r.read())
        event["eventId"] = r.headers.get("Lambda-Extension-Event-Identifier")
    print("EXTENSION", name, event["eventType"], event.get("requestId") or event.get("shutdownReason"), flush=True)
    with open(TMP + "/ext-events", "a") as f:
        f.write(json.dumps(event) + "\n")
    if event["eventType"] == "SHUTDOWN":
        sys.exit(0)
    time.sleep(float(os.environ.get("EXT_POST_INVOKE", "0")))
'''

HANDLER = r'''
import json, os, time, uuid
ENV_ID = uuid.uuid4().hex
TMP = os.environ.get("TMPDIR", "/tmp")
def handler(event, context):
    seen = []
    for _ in range(200):  # the INVOKE event reaches the extension in parallel with this call
        if os.path.exists(TMP + "/ext-events"):
            seen = [json.loads(l) for l in open(TMP + "/ext-events")]
            if any(e.get("requestId") == context.aws_request_id for e in seen):
                break
        time.sleep(0.01)
    registered = json.load(open(TMP + "/ext-registered")) if os.path.exists(TMP + "/ext-registered") else None
    return {"env_id": ENV_ID, "request_id": context.aws_request_id, "registered": registered, "events": seen}
'''


def _health(srv):
    return json.loads(lt.http_get(srv.url + "/health")[2])


@pytest.fixture(scope="module")
def process_server(tmp_path_factory):
    srv = lt.LaminaServer(log_path=tmp_path_factory.mktemp("ext-proc") / "server.log", extra_args=["--sandbox", "process"])
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(params=["session", "process"])
def any_server(request, server, process_server):
    return server if request.param == "session" else process_server


def make_function(lam, extensions: dict, env=None, source=HANDLER):
    layer = lam.publish_layer_version(
        LayerName=lt.unique("ext"),
        Content={"ZipFile": lt.build_zip({f"extensions/{n}": (src, 0o755) for n, src in extensions.items()})})
    name = lt.unique("extfn")
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="handler.handler",
                        Code={"ZipFile": lt.make_zip({"handler.py": source})},
                        Layers=[layer["LayerVersionArn"]], Environment={"Variables": env or {}})
    return name


def invoke(lam, name, **kw):
    r = lam.invoke(FunctionName=name, Payload=b"{}", **kw)
    return r, json.loads(r["Payload"].read())


def test_extension_registers_before_the_first_invoke_and_gets_invoke_events(any_server):
    lam = any_server.client("lambda")
    name = make_function(lam, {"recorder": EXTENSION})
    r, out = invoke(lam, name)
    assert "FunctionError" not in r, out
    # init waited for the extension (it slept before registering)
    reg = out["registered"]
    assert reg is not None
    assert reg["info"] == {"functionName": name, "functionVersion": "$LATEST", "handler": "handler.handler",
                           "accountId": "123456789012"}
    # the extension's environment is the function's minus the runtime-only variables
    assert reg["env"]["_HANDLER"] is None and reg["env"]["AWS_EXECUTION_ENV"] is None
    assert reg["env"]["LAMBDA_TASK_ROOT"] is None and reg["env"]["AWS_LAMBDA_LOG_STREAM_NAME"] is None
    assert reg["env"]["AWS_LAMBDA_FUNCTION_NAME"] == name and reg["env"]["AWS_REGION"] == "us-east-1"
    invokes = [e for e in out["events"] if e["eventType"] == "INVOKE"]
    assert [e["requestId"] for e in invokes] == [out["request_id"]]
    ev = invokes[0]
    fn_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
    assert ev["invokedFunctionArn"] == fn_arn
    assert ev["deadlineMs"] > time.time() * 1000
    assert ev["tracing"]["type"] == "X-Amzn-Trace-Id" and ev["tracing"]["value"].startswith("Root=1-")
    assert len(ev["eventId"]) == 36
    # a warm invoke: same environment, a second INVOKE event, no new registration. The
    # environment stays busy until the extension is back at /event/next, after the response
    # (as on AWS, an invoke in that window gets a new environment): give it that moment.
    time.sleep(1.0)
    r2, out2 = invoke(lam, name, Qualifier="$LATEST")
    assert out2["env_id"] == out["env_id"]
    assert [e["requestId"] for e in out2["events"] if e["eventType"] == "INVOKE"] == [out["request_id"], out2["request_id"]]
    assert out2["registered"]["id"] == reg["id"]
    assert out2["events"][-1]["invokedFunctionArn"] == fn_arn + ":$LATEST"


def test_extension_crash_during_init_fails_the_invoke(any_server):
    lam = any_server.client("lambda")
    name = make_function(lam, {"crasher": "#!/bin/sh\necho crashing\nexit 3\n"})
    r, out = invoke(lam, name, LogType="Tail")
    assert r["FunctionError"] == "Unhandled"
    assert out["errorType"] == "Extension.Crash"
    assert "crasher" in out["errorMessage"] and "exit status 3" in out["errorMessage"]
    import base64
    log = base64.b64decode(r["LogResult"]).decode()
    assert "crashing" in log and "Error Type: Extension.Crash" in log


def test_extension_init_error_fails_the_invoke(server):
    lam = server.client("lambda")
    ext = r'''#!/usr/bin/python3 -S
import os, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2020-01-01/extension"
r = urllib.request.urlopen(urllib.request.Request(api + "/register", method="POST", data=b'{"events":[]}',
                                                  headers={"Lambda-Extension-Name": "failing"}))
ext_id = r.headers["Lambda-Extension-Identifier"]
urllib.request.urlopen(urllib.request.Request(api + "/init/error", method="POST", data=b'{}',
    headers={"Lambda-Extension-Identifier": ext_id, "Lambda-Extension-Function-Error-Type": "Extension.ConfigInvalid"}))
import time; time.sleep(30)
'''
    name = make_function(lam, {"failing": ext})
    r, out = invoke(lam, name)
    assert r["FunctionError"] == "Unhandled"
    assert out["errorType"] == "Extension.InitError"
    assert "Extension.ConfigInvalid" in out["errorMessage"]


def test_idle_environment_sends_shutdown_to_extensions(tmp_path):
    data = tmp_path / "data"
    srv = lt.LaminaServer(data_dir=data, log_path=tmp_path / "server.log", extra_args=["--idle-timeout", "1"])
    srv.start()
    try:
        lam = srv.client("lambda")
        name = make_function(lam, {"recorder": EXTENSION})
        r, out = invoke(lam, name)
        assert "FunctionError" not in r, out
        group = data / "logs" / "123456789012" / "us-east-1" / "aws" / "lambda" / name
        deadline = time.time() + 15
        text = ""
        while time.time() < deadline:
            streams = list(group.glob("*.log"))
            text = streams[0].read_text() if streams else ""
            if "EXTENSION recorder SHUTDOWN spindown" in text:
                break
            time.sleep(0.1)
        assert "EXTENSION recorder SHUTDOWN spindown" in text, text
        assert f"EXTENSION recorder INVOKE {out['request_id']}" in text
    finally:
        srv.stop()


def test_extension_still_working_after_the_response_keeps_the_environment_busy(server):
    lam = server.client("lambda")
    # the extension takes 1.5 s after each INVOKE before it asks for the next event
    name = make_function(lam, {"slow": EXTENSION}, env={"EXT_POST_INVOKE": "1.5", "EXT_DELAY": "0"})
    r1, out1 = invoke(lam, name)
    r2, out2 = invoke(lam, name)  # the first environment is still busy with its extension
    assert out2["env_id"] != out1["env_id"]
    time.sleep(2.0)
    r3, out3 = invoke(lam, name)  # both settled: a warm one takes it
    assert out3["env_id"] in (out1["env_id"], out2["env_id"])


def test_registration_is_closed_after_init_and_ids_are_checked(server):
    lam = server.client("lambda")
    src = r'''
import json, os, urllib.request, urllib.error
API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2020-01-01/extension"
def call(path, method="GET", data=None, headers=None):
    try:
        with urllib.request.urlopen(urllib.request.Request(API + path, method=method, data=data, headers=headers or {})) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())
def handler(event, context):
    return {"register": call("/register", "POST", b'{"events":["INVOKE"]}', {"Lambda-Extension-Name": "late"}),
            "no_id": call("/event/next"),
            "bad_id": call("/event/next", headers={"Lambda-Extension-Identifier": "nope"})}
'''
    name = lt.unique("extapi")
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="handler.handler",
                        Code={"ZipFile": lt.make_zip({"handler.py": src})})
    out = json.loads(lam.invoke(FunctionName=name)["Payload"].read())
    assert out["register"][0] == 403 and out["register"][1]["errorType"] == "Extension.RegistrationClosed"
    assert out["no_id"][0] == 403 and out["no_id"][1]["errorType"] == "Extension.MissingExtensionIdentifier"
    assert out["bad_id"][0] == 403 and out["bad_id"][1]["errorType"] == "Extension.UnknownExtensionIdentifier"
