"""Function URLs from Node clients: the JS SDK v3 (@aws-sdk/client-lambda) on the URL config
API, and CORS checked by a real browser (Debian's Chromium, headless, driven by playwright-core):
a page on another origin fetch()es the URL, as a web app would. The npm packages live in
tests/integration/js (scripts/install-deps.sh installs them)."""

from __future__ import annotations

import json
import os
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

import lamina_testlib as lt
from lamina_testlib import fn_arn

CHROMIUM = os.environ.get("LAMINA_CHROMIUM", "/usr/bin/chromium")

CORS_HANDLER = r'''
import json

def handler(event, context):
    h = event.get("headers") or {}
    body = {"method": event["requestContext"]["http"]["method"], "custom": h.get("x-custom"),
            "origin": h.get("origin"), "cookie": h.get("cookie")}
    return {"statusCode": 200,
            "headers": {"Content-Type": "application/json", "X-Fn-Id": "fn-7", "X-Hidden": "h"},
            "body": json.dumps(body)}
'''


def test_url_config_api_with_the_js_sdk(server, lam, fn):
    missing = lt.node_missing("@aws-sdk/client-lambda")
    if missing:
        pytest.skip(missing)
    name = fn[0]
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    seen = lt.run_node("url_config.mjs", {"endpoint": server.url, "region": lt.REGION, "functionName": name,
                                          "alias": "live", "functionArn": fn_arn(name)})
    # AWS's words, as the SDK surfaced them
    assert "FunctionUrlConfig exists for this Lambda function" in seen["conflict"]["message"]
    assert seen["afterDelete"]["message"] == "The resource you requested does not exist."
    assert "failed to satisfy constraint" in seen["badQualifier"]["message"]
    # and what the SDK did is what boto3 sees
    left = lam.list_function_url_configs(FunctionName=name)["FunctionUrlConfigs"]
    assert [c["FunctionArn"] for c in left] == [fn_arn(name, "live")]
    assert left[0]["FunctionUrl"] in seen["listed"] and seen["created"] not in [c["FunctionUrl"] for c in left]


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def page_server(tmp_path):
    """A page to fetch from: an empty HTML page served on 127.0.0.1 (and reachable as
    localhost, another origin for the browser)."""
    (tmp_path / "index.html").write_text("<!doctype html><title>cors</title>")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), lambda *a, **k: _Quiet(*a, directory=str(tmp_path), **k))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


@pytest.mark.timeout_s(180)
def test_cors_from_a_headless_browser(server, lam, page_server):
    missing = lt.node_missing("playwright-core")
    if missing:
        pytest.skip(missing)
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} not found (Debian package chromium: bash scripts/install-deps.sh test)")
    allowed = f"http://127.0.0.1:{page_server}"
    refused = f"http://localhost:{page_server}"  # same server, another origin
    name = lt.unique("cors")
    lt.create_function(lam, name, zip_bytes=lt.make_zip({"handler.py": CORS_HANDLER}))
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="cred", FunctionVersion="1")
    plain = lam.create_function_url_config(
        FunctionName=name, AuthType="NONE",
        Cors={"AllowOrigins": [allowed], "AllowMethods": ["GET", "PUT"], "AllowHeaders": ["x-custom"],
              "ExposeHeaders": ["x-fn-id"], "MaxAge": 60})["FunctionUrl"]
    cred = lam.create_function_url_config(
        FunctionName=name, Qualifier="cred", AuthType="NONE",
        Cors={"AllowOrigins": [allowed], "AllowMethods": ["*"], "AllowCredentials": True})["FunctionUrl"]
    for q in (None, "cred"):
        kw = {"Qualifier": q} if q else {}
        lam.add_permission(FunctionName=name, StatementId=lt.unique("url"), Action="lambda:InvokeFunctionUrl",
                           Principal="*", FunctionUrlAuthType="NONE", **kw)
    put = {"method": "PUT", "headers": {"X-Custom": "hi", "Content-Type": "text/plain"}, "body": "x"}
    cases = [
        {"name": "get", "page": allowed + "/", "url": plain + "path?q=1"},
        # a custom header and PUT: the browser asks first (preflight), lamina answers it
        {"name": "put_preflighted", "page": allowed + "/", "url": plain, "init": put},
        # a header the config does not allow: the preflight refuses it
        {"name": "put_other_header", "page": allowed + "/", "url": plain,
         "init": {"method": "PUT", "headers": {"X-Other": "no"}}},
        {"name": "refused_origin", "page": refused + "/", "url": plain},
        {"name": "refused_origin_put", "page": refused + "/", "url": plain, "init": put},
        # credentials need Access-Control-Allow-Credentials: only the alias's config has it
        {"name": "credentials_refused", "page": allowed + "/", "url": plain, "init": {"credentials": "include"}},
        {"name": "credentials", "page": allowed + "/", "url": cred + "c",
         "init": {"credentials": "include", "method": "POST", "body": "{}"}},
    ]
    r = lt.run_node("cors_browser.mjs", {"cases": cases}, env={"LAMINA_CHROMIUM": CHROMIUM}, timeout=150)

    get = r["get"]
    assert get["ok"] and get["status"] == 200, get
    assert json.loads(get["body"]) == {"method": "GET", "custom": None, "origin": allowed, "cookie": None}
    # JS reads the exposed header and the safelisted Content-Type, not the others
    assert get["headers"].get("x-fn-id") == "fn-7"
    assert get["headers"].get("content-type") == "application/json"
    assert "x-hidden" not in get["headers"]

    put_r = r["put_preflighted"]
    assert put_r["ok"] and put_r["status"] == 200, put_r
    assert json.loads(put_r["body"])["method"] == "PUT"
    assert json.loads(put_r["body"])["custom"] == "hi"

    for case in ("put_other_header", "refused_origin", "refused_origin_put", "credentials_refused"):
        assert r[case]["ok"] is False and r[case]["error"] == "TypeError", (case, r[case])

    c = r["credentials"]
    assert c["ok"] and c["status"] == 200, c
    assert json.loads(c["body"])["method"] == "POST"
