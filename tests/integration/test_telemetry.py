"""The Telemetry API and the Logs API: an extension shipped in a layer
subscribes during init, listens on sandbox.localdomain, and gets the
environment's records as AWS sends them (platform.*, function and extension
lines), batched by its buffering settings, with what is still buffered
delivered before SHUTDOWN. Bad subscriptions get AWS's errors."""
import json
import time

import pytest

import lamina_testlib as lt

ROLE = "arn:aws:iam::123456789012:role/lambda-role"

# An extension that subscribes (TEL_API: telemetry or logs), keeps every batch
# it receives, and prints them all in one line when SHUTDOWN comes: a user
# finds it in the log stream.
EXTENSION = r'''#!/usr/bin/python3 -S
import json, os, sys, threading, urllib.request, urllib.error
from http.server import BaseHTTPRequestHandler, HTTPServer
RAPI = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"]
PORT = int(os.environ.get("TEL_PORT", "4243"))
batches = []
class Listener(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        batches.append(json.loads(body))
        self.send_response(200)
        self.end_headers()
    def log_message(self, *args):
        pass
server = HTTPServer(("sandbox.localdomain", PORT), Listener)
threading.Thread(target=server.serve_forever, daemon=True).start()
def call(path, body, ext_id, method="PUT"):
    headers = {"Lambda-Extension-Identifier": ext_id} if ext_id is not None else {}
    req = urllib.request.Request(RAPI + path, method=method, data=json.dumps(body).encode(), headers=headers)
    try:
        with urllib.request.urlopen(req) as r:
            return [r.status, r.read().decode()]
    except urllib.error.HTTPError as e:
        return [e.code, json.loads(e.read())]
req = urllib.request.Request(RAPI + "/2020-01-01/extension/register", method="POST",
                             data=b'{"events": ["INVOKE", "SHUTDOWN"]}', headers={"Lambda-Extension-Name": "teltap"})
with urllib.request.urlopen(req) as r:
    ext_id = r.headers["Lambda-Extension-Identifier"]
print("teltap ready", flush=True)
uri = "http://sandbox.localdomain:%d/records" % PORT
logs = os.environ.get("TEL_API") == "logs"
path, other = ("/2020-08-15/logs", "/2022-07-01/telemetry") if logs else ("/2022-07-01/telemetry", "/2020-08-15/logs")
good = {"schemaVersion": "2021-03-18" if logs else "2022-12-13", "destination": {"protocol": "HTTP", "URI": uri},
        "types": ["platform", "function", "extension"],
        "buffering": json.loads(os.environ.get("TEL_BUFFERING", "{}"))}
def bad(**change):
    b = json.loads(json.dumps(good))
    for k, v in change.items():
        if v is None: b.pop(k)
        else: b[k] = v
    return call(path, b, ext_id)
errors = {
    "port9001": bad(destination={"protocol": "HTTP", "URI": "http://sandbox.localdomain:9001/"}),
    "host": bad(destination={"protocol": "HTTP", "URI": "http://example.com:4243/"}),
    "tcp": bad(destination={"protocol": "TCP", "URI": "http://sandbox.localdomain:4243"}),
    "types": bad(types=["platform", "bogus"]),
    "max_items": bad(buffering={"maxItems": 5}),
    "timeout": bad(buffering={"timeoutMs": 10}),
    "schema": bad(schemaVersion="2019-01-01"),
    "no_id": call(path, good, None),
    "unknown_id": call(path, good, "nope"),
}
subscribed = call(path, good, ext_id)
errors["both_apis"] = call(other, dict(good, schemaVersion="2021-03-18" if not logs else "2022-12-13"), ext_id)
while True:
    with urllib.request.urlopen(urllib.request.Request(RAPI + "/2020-01-01/extension/event/next",
                                                       headers={"Lambda-Extension-Identifier": ext_id})) as r:
        event = json.loads(r.read())
    if event["eventType"] == "SHUTDOWN":
        print("TELEMETRY-SEEN " + json.dumps({"subscribed": subscribed, "errors": errors, "batches": batches}),
              flush=True)
        sys.exit(0)
'''

HANDLER = r'''
import json
def handler(event, context):
    for i in range(event.get("lines", 0)):
        print("line %d" % i)
    print(json.dumps({"level": "INFO", "message": "structured"}))
    return {"request_id": context.aws_request_id}
'''


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("telemetry")
    # environments idle for 8 s are retired: SHUTDOWN comes soon after the last invoke, while
    # a test's back-to-back invokes stay in one environment even on a loaded CI machine
    s = lt.LaminaServer(data_dir=tmp / "data", log_path=tmp / "server.log", extra_args=["--idle-timeout", "8"])
    s.start()
    s.data = tmp / "data"
    yield s
    s.stop()


def make_function(lam, env, logging=None, **extra):
    layer = lam.publish_layer_version(LayerName=lt.unique("tel"),
                                      Content={"ZipFile": lt.build_zip({"extensions/teltap": (EXTENSION, 0o755)})})
    name = lt.unique("telfn")
    kw = {"LoggingConfig": logging} if logging else {}
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="handler.handler",
                        Code={"ZipFile": lt.make_zip({"handler.py": HANDLER})}, Layers=[layer["LayerVersionArn"]],
                        Environment={"Variables": env}, **kw, **extra)
    return name


def seen_at_shutdown(srv, name) -> dict:
    """What the extension printed when SHUTDOWN came (the environment retired)."""
    group = srv.data / "logs" / "123456789012" / "us-east-1" / "aws" / "lambda" / name
    deadline = time.time() + 40
    while time.time() < deadline:
        for stream in group.glob("*.log"):
            for line in stream.read_text().splitlines():
                if "TELEMETRY-SEEN " in line:
                    text = line[line.index("TELEMETRY-SEEN ") + len("TELEMETRY-SEEN "):]
                    return json.loads(text)
        time.sleep(0.1)
    raise AssertionError("no TELEMETRY-SEEN line in the log")


def invoke(lam, name, payload):
    r = lam.invoke(FunctionName=name, Payload=json.dumps(payload).encode())
    out = json.loads(r["Payload"].read())
    assert "FunctionError" not in r, out
    return out["request_id"]


def invoke_unless_throttled(lam, name, payload):
    try:
        return invoke(lam, name, payload)
    except lam.exceptions.TooManyRequestsException:
        return None


def test_telemetry_api_records_batches_and_the_final_flush(srv):
    lam = srv.client("lambda")
    # maxItems 25 and a 30 s timeout: full batches go at once, the rest only with the final flush
    name = make_function(lam, {"TEL_BUFFERING": json.dumps({"maxItems": 25, "timeoutMs": 30000})},
                         {"LogFormat": "JSON"})
    # one environment: the second invoke waits (throttled, tried again) while the extension
    # still finishes the first, as on AWS, instead of starting a second environment
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    first = invoke(lam, name, {"lines": 60})
    second = lt.wait_for(lambda: invoke_unless_throttled(lam, name, {"lines": 0}), timeout=20)
    assert second, "the second invoke stayed throttled"
    seen = seen_at_shutdown(srv, name)
    assert seen["subscribed"] == [200, "OK"]
    batches = seen["batches"]
    assert len(batches) >= 3 and all(1 <= len(b) <= 25 for b in batches), [len(b) for b in batches]
    records = [r for b in batches for r in b]
    for r in records:
        assert list(r) == ["time", "type", "record"]
        assert r["time"].endswith("Z") and len(r["time"]) == 24
    types = [r["type"] for r in records]
    # init: the records before the subscription are delivered too
    assert types[0] == "platform.initStart"
    assert records[0]["record"] == {"initializationType": "on-demand", "phase": "init"}
    sub = next(r for r in records if r["type"] == "platform.telemetrySubscription")
    assert sub["record"] == {"name": "teltap", "state": "Subscribed", "types": ["platform", "function", "extension"]}
    ext = next(r for r in records if r["type"] == "platform.extension")
    assert ext["record"] == {"name": "teltap", "state": "Ready", "events": ["INVOKE", "SHUTDOWN"]}
    assert {"type": "extension", "record": "teltap ready"}.items() <= next(
        r for r in records if r["type"] == "extension").items()
    init_report = next(r for r in records if r["type"] == "platform.initReport")
    assert init_report["record"]["status"] == "success" and init_report["record"]["metrics"]["durationMs"] > 0
    assert types.index("platform.initRuntimeDone") < types.index("platform.initReport") < types.index("platform.start")

    def invocation(request_id):
        start = next(i for i, r in enumerate(records) if r["type"] == "platform.start"
                     and r["record"]["requestId"] == request_id)
        end = next(i for i, r in enumerate(records) if r["type"] == "platform.report"
                   and r["record"]["requestId"] == request_id)
        return records[start:end + 1]

    one = invocation(first)
    assert one[0]["record"]["version"] == "$LATEST"
    assert one[0]["record"]["tracing"]["type"] == "X-Amzn-Trace-Id"
    fn = [r["record"] for r in one if r["type"] == "function"]
    assert fn == ["line %d" % i for i in range(60)] + [{"level": "INFO", "message": "structured"}]
    done = one[-2]
    assert done["type"] == "platform.runtimeDone" and done["record"]["status"] == "success"
    assert done["record"]["metrics"]["producedBytes"] > 0
    report = one[-1]["record"]
    assert report["status"] == "success"
    m = report["metrics"]
    assert m["memorySizeMB"] == 128 and m["billedDurationMs"] >= m["durationMs"] >= 0
    assert m["maxMemoryUsedMB"] >= 1 and "initDurationMs" in m
    # the warm invoke's records: the last of them went out only with the flush before SHUTDOWN
    two = invocation(second)
    assert "initDurationMs" not in two[-1]["record"]["metrics"]
    assert two[-1] in batches[-1]

    e = seen["errors"]
    for key in ("port9001", "host", "tcp", "types", "max_items", "timeout", "schema"):
        assert e[key][0] == 400 and e[key][1]["errorType"] == "ValidationError", (key, e[key])
    assert "9001" in e["port9001"][1]["errorMessage"] and "TCP" in e["tcp"][1]["errorMessage"]
    assert e["no_id"][0] == 403 and e["no_id"][1]["errorType"] == "Extension.MissingExtensionIdentifier"
    assert e["unknown_id"][0] == 403 and e["unknown_id"][1]["errorType"] == "Extension.UnknownExtensionIdentifier"
    assert e["both_apis"][0] == 400 and "both" in e["both_apis"][1]["errorMessage"]

    # the JSON log has the same records, init's included
    log = "\n".join(s.read_text() for s in
                    (srv.data / "logs" / "123456789012" / "us-east-1" / "aws" / "lambda" / name).glob("*.log"))
    logged = [json.loads(l)["type"] for l in log.splitlines() if l.startswith('{"time"')]
    assert logged[:4] == ["platform.initStart", "platform.initReport", "platform.start", "platform.report"]


def test_platform_records_of_a_tenant_isolated_function_carry_its_tenant(srv):
    lam = srv.client("lambda")
    name = make_function(lam, {}, TenancyConfig={"TenantIsolationMode": "PER_TENANT"})
    r = lam.invoke(FunctionName=name, Payload=b"{}", TenantId="blue")
    assert "FunctionError" not in r, r["Payload"].read()
    records = [rec for b in seen_at_shutdown(srv, name)["batches"] for rec in b]
    start = next(rec for rec in records if rec["type"] == "platform.start")
    report = next(rec for rec in records if rec["type"] == "platform.report")
    assert start["record"]["tenantId"] == "blue", start
    assert report["record"]["tenantId"] == "blue", report


def test_logs_api_records(srv):
    lam = srv.client("lambda")
    name = make_function(lam, {"TEL_API": "logs", "TEL_BUFFERING": json.dumps({"timeoutMs": 25})})
    first = invoke(lam, name, {"lines": 3})
    seen = seen_at_shutdown(srv, name)
    assert seen["subscribed"] == [200, "OK"]
    records = [r for b in seen["batches"] for r in b]
    types = [r["type"] for r in records]
    assert "platform.initStart" not in types  # the Telemetry API's only
    assert next(r for r in records if r["type"] == "platform.logsSubscription")["record"] == {
        "name": "teltap", "state": "Subscribed", "types": ["platform", "function", "extension"]}
    start = types.index("platform.start")
    assert records[start]["record"] == {"requestId": first, "version": "$LATEST"}
    assert [r["record"] for r in records[start + 1:start + 5]] == ["line 0", "line 1", "line 2",
                                                                   '{"level": "INFO", "message": "structured"}']
    assert types[start + 5:start + 8] == ["platform.runtimeDone", "platform.end", "platform.report"]
    assert records[start + 6]["record"] == {"requestId": first}
    report = records[start + 7]["record"]
    assert list(report) == ["requestId", "metrics"] and report["requestId"] == first
    assert report["metrics"]["memorySizeMB"] == 128
    e = seen["errors"]
    assert e["max_items"][0] == 400  # the Logs API takes 1,000 to 10,000
    assert e["both_apis"][0] == 400
