"""lamina's dashboard: GET /_lamina/ui (an embedded page, no external assets) and the JSON
it polls, GET /_lamina/ui/state. The state must follow what boto3 does (functions, versions,
aliases with weights, live concurrency, recent invocations with their log lines, the async
queue); a headless Chromium (playwright-core) watches the page follow it too."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import lamina_testlib as lt

CHROMIUM = os.environ.get("LAMINA_CHROMIUM", "/usr/bin/chromium")

SLOW = """
import time

def handler(event, context):
    print("dashboard says " + event.get("marker", "") + " <b>not bold</b>")
    time.sleep(event.get("sleep", 0))
    if event.get("fail"):
        raise RuntimeError("failed on purpose")
    return {"ok": True}
"""


def get(server, path, **params):
    q = "&".join(f"{k}={urllib.request.quote(str(v))}" for k, v in params.items())
    with urllib.request.urlopen(server.url + path + ("?" + q if q else ""), timeout=10) as r:
        return r.status, dict(r.headers), r.read()


def state(server, **params) -> dict:
    status, headers, body = get(server, "/_lamina/ui/state", **params)
    assert status == 200 and headers["Content-Type"] == "application/json"
    return json.loads(body)


def function_of(s: dict, name: str) -> dict | None:
    return next((f for f in s["functions"] if f["name"] == name), None)


def until(what, check, timeout=20.0):
    """check() until it returns something truthy; fails naming `what`."""
    end = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def slow_function(lam, name=None, **kw):
    name = name or lt.unique("dash")
    lt.create_function(lam, name, zip_bytes=lt.make_zip({"handler.py": SLOW}), Timeout=30, **kw)
    return name


def invoke(lam, name, **payload):
    r = lam.invoke(FunctionName=name, Payload=json.dumps(payload).encode())
    r["Payload"].read()
    return r


def test_the_page_and_its_assets_are_served_from_the_binary(server):
    status, headers, body = get(server, "/_lamina/ui")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    html = body.decode()
    assert "/_lamina/ui/app.js" in html and "/_lamina/ui/app.css" in html
    assert "http://" not in html and "https://" not in html  # nothing from elsewhere
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    status, headers, js = get(server, "/_lamina/ui/app.js")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript")
    assert b"innerHTML" not in js
    status, headers, _ = get(server, "/_lamina/ui/app.css")
    assert status == 200 and headers["Content-Type"].startswith("text/css")
    with pytest.raises(urllib.error.HTTPError) as e:
        get(server, "/_lamina/ui/state", account="nope")
    assert e.value.code == 400
    with pytest.raises(urllib.error.HTTPError) as e:
        get(server, "/_lamina/ui/missing")
    assert e.value.code == 404


def test_state_follows_create_function_versions_and_weighted_aliases(server, lam):
    name = lt.unique("dash")
    assert function_of(state(server), name) is None
    slow_function(lam, name)
    lam.publish_version(FunctionName=name)
    lam.update_function_configuration(FunctionName=name, Description="second")
    lt.wait_active(lam, name)
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1",
                     RoutingConfig={"AdditionalVersionWeights": {"2": 0.3}})
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=5)
    url = lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]

    s = state(server)
    assert s["scope"] == {"account": lt.ACCOUNT, "region": lt.REGION}
    assert {"account": lt.ACCOUNT, "region": lt.REGION} in s["scopes"]
    f = function_of(s, name)
    assert f["runtime"] == lt.RUNTIME
    assert [v["version"] for v in f["versions"]] == ["1", "2"]
    assert f["aliases"] == [{"name": "live", "version": "1", "weights": {"2": 0.3}}]
    assert f["reserved_concurrency"] == 5
    assert s["concurrency"]["reserved_total"] >= 5
    assert {"function": name, "qualifier": "", "url": url, "auth_type": "NONE",
            "invoke_mode": "BUFFERED"} in s["function_urls"]
    # another region of the account is its own scope
    other = state(server, region="eu-west-1")
    assert other["scope"]["region"] == "eu-west-1" and function_of(other, name) is None
    lam.delete_function(FunctionName=name)
    assert function_of(state(server), name) is None


@pytest.mark.timeout_s(120)
def test_concurrency_rises_during_parallel_invokes(server, lam):
    name = slow_function(lam)
    threads = [threading.Thread(target=invoke, args=(lam, name), kwargs={"sleep": 3}) for _ in range(3)]
    for t in threads:
        t.start()
    seen = until("3 running", lambda: (lambda s: s if function_of(s, name)["concurrency"] >= 3 else None)(
        state(server)))
    assert seen["concurrency"]["in_use"] >= 3
    assert seen["concurrency"]["account_limit"] == 1000
    for t in threads:
        t.join()
    until("back to 0", lambda: function_of(state(server), name)["concurrency"] == 0)
    s = until("counted", lambda: (lambda s: s if function_of(s, name)["invocations"] == 3 else None)(
        state(server)))
    assert s["totals"]["invocations"] >= 3
    assert sum(m["invocations"] for m in s["minutes"]) == s["totals"]["invocations"]


def test_recent_invocations_carry_their_log_lines(server, lam):
    name = slow_function(lam)
    first = invoke(lam, name, marker="first-" + name)
    invoke(lam, name, marker="second-" + name)
    invoke(lam, name, marker="third", fail=True)
    s = state(server, function=name)
    recent = s["recent"]["invocations"]
    assert s["recent"]["function"] == name
    assert [r["function"] for r in recent] == [name] * 3
    newest, second, oldest = recent
    assert oldest["request_id"] == first["ResponseMetadata"]["RequestId"]
    assert oldest["cold"] is True and second["cold"] is False
    assert oldest["status"] == "Success" and newest["status"] == "Error"
    assert oldest["version"] == "$LATEST" and second["duration_ms"] > 0
    assert "dashboard says first-" + name + " <b>not bold</b>" in oldest["log"]
    assert oldest["log"].startswith("START RequestId: " + oldest["request_id"])
    assert "REPORT RequestId: " + oldest["request_id"] in oldest["log"]
    assert "Init Duration" in oldest["log"]
    assert "failed on purpose" in newest["log"]
    # unfiltered, they are there among the others
    ids = [r["request_id"] for r in state(server)["recent"]["invocations"]]
    assert oldest["request_id"] in ids


def test_the_async_queue_shows_events_waiting_to_be_retried(server, lam):
    name = slow_function(lam)
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"fail": True}).encode())

    def retrying():
        q = state(server)["event_queue"]
        mine = [e for e in q["events"] if e["function"] == name]
        return q if mine and mine[0]["attempts"] == 1 else None

    q = until("a failed event waiting for its retry", retrying)
    assert q["waiting"] >= 1 and q["retrying"] >= 1 and q["received"] >= 1
    lam.delete_function(FunctionName=name)  # its retry is dropped


@pytest.mark.timeout_s(120)
def test_provisioned_configs_and_event_source_mappings(server, lam):
    name = slow_function(lam)
    lam.publish_version(FunctionName=name)
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="1",
                                           ProvisionedConcurrentExecutions=1)
    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName=lt.unique("dashq"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    m = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, Enabled=False, BatchSize=5)

    def ready():
        f = function_of(state(server), name)
        p = f["provisioned"][0]
        return f if p["status"] == "READY" else None

    f = until("the provisioned config READY", ready, timeout=60)
    assert f["provisioned"] == [{"qualifier": "1", "requested": 1, "allocated": 1, "available": 1,
                                 "status": "READY", "reason": ""}]
    esms = [e for e in state(server)["event_source_mappings"] if e["uuid"] == m["UUID"]]
    assert esms == [{"uuid": m["UUID"], "function": name, "qualifier": "", "source": arn, "batch_size": 5,
                     "state": "Disabled", "last_modified_ms": esms[0]["last_modified_ms"]}]
    lam.delete_event_source_mapping(UUID=m["UUID"])
    lam.delete_function(FunctionName=name)


def test_no_signature_needed_with_auth_sigv4(tmp_path):
    creds = tmp_path / "credentials"
    creds.write_text("AKIAALICE0000000001 alice-secret 111111111111\n")
    srv = lt.LaminaServer(data_dir=tmp_path / "data", log_path=tmp_path / "server.log",
                          extra_args=["--auth", "sigv4", "--credentials", str(creds)])
    srv.start()
    try:
        assert get(srv, "/_lamina/ui")[0] == 200
        assert state(srv, account="111111111111")["scope"]["account"] == "111111111111"
        with pytest.raises(urllib.error.HTTPError) as e:  # while AWS calls still need one
            get(srv, "/2015-03-31/functions")
        assert e.value.code == 403
    finally:
        srv.stop()


@pytest.mark.timeout_s(240)
def test_the_page_in_a_headless_browser(server, lam):
    missing = lt.node_missing("playwright-core")
    if missing:
        pytest.skip(missing)
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} not found (Debian package chromium: bash scripts/install-deps.sh test)")
    shots = Path(tempfile.mkdtemp(prefix="lamina-dashboard-shots-"))
    name = lt.unique("dashui")
    marker = "browser-" + name
    out: dict = {}

    def browse():
        try:
            out["r"] = lt.run_node("dashboard_browser.mjs", {"url": server.url, "dir": str(shots), "function": name,
                                                             "marker": marker, "running": 2},
                                   env={"LAMINA_CHROMIUM": CHROMIUM}, timeout=200)
        except BaseException as e:  # noqa: BLE001 - reported by the test thread
            out["error"] = e

    browser = threading.Thread(target=browse, daemon=True)
    browser.start()

    def reached(step):
        return until(f"the browser to reach {step} ({out.get('error')})",
                     lambda: (shots / step).exists() or "error" in out or "r" in out, timeout=90)

    reached("ready")
    slow_function(lam, name)
    reached("seen-function")
    invokers = [threading.Thread(target=invoke, args=(lam, name), kwargs={"sleep": 4, "marker": marker})
                for _ in range(3)]
    for t in invokers:
        t.start()
    reached("seen-concurrency")
    for t in invokers:
        t.join()
    browser.join(200)
    for p in sorted(shots.glob("*.png")):
        print("dashboard screenshot:", p)
    if "error" in out:
        raise out["error"]
    r = out["r"]
    assert "error" not in r, r
    assert r["pageErrors"] == [], r
    assert r["running"] >= 2 and r["inUse"] >= 2
    assert "dashboard says " + marker + " <b>not bold</b>" in r["log"]
    assert r["logHasElements"] is False  # the log's markup stayed text
    assert r["otherFunctions"] == 0
    assert len(r["shots"]) == 4 and all(Path(p).exists() for p in r["shots"])
