"""Function URL configs (Create/Get/Update/Delete/List FunctionUrlConfig) with boto3 and the aws
CLI, against AWS's recorded answers (aws-recorded: test_lambda_api TestLambdaUrl, test_lambda
TestLambdaURL), and the AddPermission members that belong to URLs."""

from __future__ import annotations

import base64
import datetime
import json
import re
import shutil
import subprocess

import pytest

import lamina_testlib as lt
from lamina_testlib import expect_error, fn_arn, raw_json, validation_message

URL_RE = re.compile(r"^http://([0-9a-z]{32})\.lambda-url\.us-east-1\.localhost:(\d+)/$")
NO_RESOURCE = "The resource you requested does not exist."
NO_FUNCTION = "Function does not exist"


def qualifier_error(value: str) -> str:
    return validation_message(
        f"Value '{value}' at 'qualifier' failed to satisfy constraint: Member must satisfy regular "
        r"expression pattern: ((?!^\d+$)^[0-9a-zA-Z-_]+$)")


def _time(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
def aliased(lam, fn):
    """A function with version 1 and alias 'live' on it."""
    name = fn[0]
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    return name


class TestLifecycle:
    def test_create_get_update_delete_as_recorded(self, lam, server, fn):
        name = fn[0]
        created = lam.create_function_url_config(FunctionName=name, AuthType="NONE")
        assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
        # Create answers no LastModifiedTime, and no InvokeMode when none was sent
        assert set(raw_json(lam)) == {"FunctionUrl", "FunctionArn", "AuthType", "CreationTime"}
        m = URL_RE.match(created["FunctionUrl"])
        assert m, created["FunctionUrl"]
        assert int(m.group(2)) == server.port
        assert created["FunctionArn"] == fn_arn(name)
        assert created["AuthType"] == "NONE"
        age = datetime.datetime.now(datetime.timezone.utc) - _time(created["CreationTime"])
        assert abs(age.total_seconds()) < 60

        got = lam.get_function_url_config(FunctionName=name)
        assert set(raw_json(lam)) == {"FunctionUrl", "FunctionArn", "AuthType", "CreationTime",
                                      "InvokeMode", "LastModifiedTime"}
        assert got["FunctionUrl"] == created["FunctionUrl"]
        assert got["InvokeMode"] == "BUFFERED"
        assert got["CreationTime"] == created["CreationTime"]

        with expect_error("ResourceConflictException", 409,
                          f"Failed to create function url config for [functionArn = {fn_arn(name)}]. "
                          "Error message:  FunctionUrlConfig exists for this Lambda function"):
            lam.create_function_url_config(FunctionName=name, AuthType="AWS_IAM")

        updated = lam.update_function_url_config(FunctionName=name, AuthType="AWS_IAM")
        assert set(raw_json(lam)) == {"FunctionUrl", "FunctionArn", "AuthType", "CreationTime",
                                      "LastModifiedTime"}
        assert updated["AuthType"] == "AWS_IAM"
        assert updated["FunctionUrl"] == created["FunctionUrl"]  # stable for the config's life

        deleted = lam.delete_function_url_config(FunctionName=name)
        assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
        with expect_error("ResourceNotFoundException", 404, NO_RESOURCE):
            lam.get_function_url_config(FunctionName=name)
        # a new config gets a new URL
        again = lam.create_function_url_config(FunctionName=name, AuthType="NONE")
        assert again["FunctionUrl"] != created["FunctionUrl"]

    def test_invoke_mode_is_echoed_once_it_was_set(self, lam, fn):
        name = fn[0]
        created = lam.create_function_url_config(FunctionName=name, AuthType="NONE",
                                                 InvokeMode="BUFFERED")
        assert created["InvokeMode"] == "BUFFERED"
        modified = lam.update_function_url_config(FunctionName=name, InvokeMode="RESPONSE_STREAM")
        assert modified["InvokeMode"] == "RESPONSE_STREAM"
        assert "LastModifiedTime" in modified
        # an Update without InvokeMode keeps, and echoes, the mode
        kept = lam.update_function_url_config(FunctionName=name, AuthType="NONE")
        assert kept["InvokeMode"] == "RESPONSE_STREAM"
        assert lam.get_function_url_config(FunctionName=name)["InvokeMode"] == "RESPONSE_STREAM"

    def test_cors_is_kept_and_replaced(self, lam, fn):
        name = fn[0]
        cors = {"AllowCredentials": True, "AllowHeaders": ["x-custom"], "AllowMethods": ["GET", "POST"],
                "AllowOrigins": ["https://example.com"], "ExposeHeaders": ["x-id"], "MaxAge": 600}
        created = lam.create_function_url_config(FunctionName=name, AuthType="NONE", Cors=cors)
        assert created["Cors"] == cors
        assert lam.get_function_url_config(FunctionName=name)["Cors"] == cors
        # an Update without Cors keeps it; with Cors replaces it
        assert lam.update_function_url_config(FunctionName=name, AuthType="NONE")["Cors"] == cors
        new = {"AllowOrigins": ["*"]}
        assert lam.update_function_url_config(FunctionName=name, Cors=new)["Cors"] == new
        assert lam.get_function_url_config(FunctionName=name)["Cors"] == new

    def test_alias_urls_and_deletion_without_qualifier(self, lam, aliased):
        name = aliased
        fn_url = lam.create_function_url_config(FunctionName=name, AuthType="NONE")
        alias_url = lam.create_function_url_config(FunctionName=name, Qualifier="live", AuthType="NONE")
        assert alias_url["FunctionArn"] == fn_arn(name, "live")
        assert alias_url["FunctionUrl"] != fn_url["FunctionUrl"]
        # the qualifier may also come with the name
        assert lam.get_function_url_config(FunctionName=f"{name}:live")["FunctionUrl"] == \
            alias_url["FunctionUrl"]
        lam.delete_function_url_config(FunctionName=name)
        with expect_error("ResourceNotFoundException", 404, NO_RESOURCE):
            lam.get_function_url_config(FunctionName=name)
        assert lam.get_function_url_config(FunctionName=name, Qualifier="live")["FunctionUrl"] == \
            alias_url["FunctionUrl"]
        # deleting the alias removes its URL
        lam.delete_alias(FunctionName=name, Name="live")
        lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
        with expect_error("ResourceNotFoundException", 404, NO_RESOURCE):
            lam.get_function_url_config(FunctionName=name, Qualifier="live")

    def test_list_and_paging(self, lam, aliased):
        name = aliased
        assert lam.list_function_url_configs(FunctionName=name)["FunctionUrlConfigs"] == []
        lam.create_function_url_config(FunctionName=name, AuthType="NONE")
        lam.create_function_url_config(FunctionName=name, Qualifier="live", AuthType="AWS_IAM")
        rows = lam.list_function_url_configs(FunctionName=name)["FunctionUrlConfigs"]
        assert [r["FunctionArn"] for r in rows] == [fn_arn(name), fn_arn(name, "live")]
        for r in rows:
            assert set(r) == {"FunctionUrl", "FunctionArn", "AuthType", "CreationTime", "InvokeMode",
                              "LastModifiedTime"}
        first = lam.list_function_url_configs(FunctionName=name, MaxItems=1)
        assert len(first["FunctionUrlConfigs"]) == 1 and "NextMarker" in first
        second = lam.list_function_url_configs(FunctionName=name, MaxItems=1, Marker=first["NextMarker"])
        assert [r["FunctionArn"] for r in second["FunctionUrlConfigs"]] == [fn_arn(name, "live")]
        assert "NextMarker" not in second
        # boto3's paginator follows the markers
        pages = lam.get_paginator("list_function_url_configs").paginate(
            FunctionName=name, PaginationConfig={"PageSize": 1})
        assert len([r for p in pages for r in p["FunctionUrlConfigs"]]) == 2

    def test_deleting_the_function_deletes_its_urls(self, lam, fn):
        name = fn[0]
        lam.create_function_url_config(FunctionName=name, AuthType="NONE")
        lam.delete_function(FunctionName=name)
        lt.create_function(lam, name)
        with expect_error("ResourceNotFoundException", 404, NO_RESOURCE):
            lam.get_function_url_config(FunctionName=name)


class TestErrors:
    """test_url_config_exceptions: the qualifier pattern is checked before anything exists."""

    @pytest.mark.parametrize("qualifier", ["1", "2", "$LATEST"])
    def test_versions_and_latest_are_refused_before_existence(self, lam_nv, fn, qualifier):
        name = fn[0]
        for target in (name, "does-not-exist"):
            with expect_error("ValidationException", 400, qualifier_error(qualifier)):
                lam_nv.create_function_url_config(FunctionName=target, Qualifier=qualifier,
                                                  AuthType="NONE")
            with expect_error("ValidationException", 400, qualifier_error(qualifier)):
                lam_nv.get_function_url_config(FunctionName=target, Qualifier=qualifier)
            with expect_error("ValidationException", 400, qualifier_error(qualifier)):
                lam_nv.update_function_url_config(FunctionName=target, Qualifier=qualifier,
                                                  AuthType="NONE")
            with expect_error("ValidationException", 400, qualifier_error(qualifier)):
                lam_nv.delete_function_url_config(FunctionName=target, Qualifier=qualifier)

    def test_missing_function_and_alias(self, lam, fn):
        name = fn[0]
        for target in ("does-not-exist", fn_arn("does-not-exist")):
            with expect_error("ResourceNotFoundException", 404, NO_FUNCTION):
                lam.create_function_url_config(FunctionName=target, AuthType="NONE")
            with expect_error("ResourceNotFoundException", 404, NO_FUNCTION):
                lam.update_function_url_config(FunctionName=target, AuthType="NONE")
            with expect_error("ResourceNotFoundException", 404, NO_RESOURCE):
                lam.get_function_url_config(FunctionName=target)
            with expect_error("ResourceNotFoundException", 404, NO_RESOURCE):
                lam.delete_function_url_config(FunctionName=target)
        with expect_error("ResourceNotFoundException", 404, NO_FUNCTION):
            lam.create_function_url_config(FunctionName=name, Qualifier="nope", AuthType="NONE")
        with expect_error("ResourceNotFoundException", 404, NO_RESOURCE):
            lam.get_function_url_config(FunctionName=name, Qualifier="nope")
        with expect_error("ResourceNotFoundException", 404, NO_FUNCTION):
            lam.list_function_url_configs(FunctionName="does-not-exist")
        # the function exists, its URL config does not
        with expect_error("ResourceNotFoundException", 404, NO_RESOURCE):
            lam.update_function_url_config(FunctionName=name, AuthType="NONE")
        with expect_error("ResourceNotFoundException", 404, NO_RESOURCE):
            lam.delete_function_url_config(FunctionName=name)

    def test_derived_qualifier_must_match(self, lam, aliased):
        name = aliased
        msg = "The derived qualifier from the function name does not match the specified qualifier."
        with expect_error("InvalidParameterValueException", 400, msg):
            lam.create_function_url_config(FunctionName=f"{name}:live", Qualifier="other",
                                           AuthType="NONE")

    def test_other_region(self, server, fn):
        name = fn[0]
        west = server.client("lambda", region="us-west-2")
        with expect_error("ResourceNotFoundException", 404,
                          "Functions from 'us-east-1' are not reachable in this region ('us-west-2')"):
            west.get_function_url_config(FunctionName=fn_arn(name))

    def test_bad_enums_and_missing_auth_type(self, lam_nv, fn):
        name = fn[0]
        with expect_error("ValidationException", 400, validation_message(
                "Value 'UNKNOWN' at 'invokeMode' failed to satisfy constraint: Member must satisfy "
                "enum value set: [RESPONSE_STREAM, BUFFERED]")):
            lam_nv.create_function_url_config(FunctionName=name, AuthType="NONE", InvokeMode="UNKNOWN")
        with expect_error("ValidationException", 400, validation_message(
                "Value 'OPEN' at 'authType' failed to satisfy constraint: Member must satisfy enum "
                "value set: [AWS_IAM, NONE]")):
            lam_nv.create_function_url_config(FunctionName=name, AuthType="OPEN")
        with expect_error("ValidationException", 400, validation_message(
                "Value null at 'authType' failed to satisfy constraint: Member must not be null")):
            lam_nv.create_function_url_config(FunctionName=name)
        # nothing was created by the refused calls
        with expect_error("ResourceNotFoundException", 404, NO_RESOURCE):
            lam_nv.get_function_url_config(FunctionName=name)

    def test_malformed_cors_changes_nothing(self, lam_nv, server, fn):
        name = fn[0]
        lam_nv.create_function_url_config(FunctionName=name, AuthType="NONE",
                                          Cors={"AllowOrigins": ["https://a.example"]})
        with expect_error("ValidationException", 400, validation_message(
                "Value '86401' at 'cors.maxAge' failed to satisfy constraint: Member must have value "
                "less than or equal to 86400")):
            lam_nv.update_function_url_config(FunctionName=name, Cors={"MaxAge": 86401})
        with expect_error("ValidationException", 400, message_contains="'cors.allowMethods'"):
            lam_nv.update_function_url_config(FunctionName=name, Cors={"AllowMethods": ["GET"] * 7})
        with expect_error("ValidationException", 400, message_contains="'cors.allowMethods'"):
            lam_nv.update_function_url_config(FunctionName=name, Cors={"AllowMethods": ["OPTIONS"]})
        with expect_error("ValidationException", 400, message_contains="'cors.allowOrigins'"):
            lam_nv.update_function_url_config(FunctionName=name, Cors={"AllowOrigins": [""]})
        # botocore cannot send a string as Cors: sent as it is
        status, headers, body = lt.http_request(f"{server.url}/2021-10-31/functions/{name}/url", "PUT",
                                                b'{"Cors": "*"}', {"Content-Type": "application/json"})
        assert status == 400, body
        assert headers["x-amzn-errortype"].startswith("InvalidRequestContentException"), headers
        assert "Cors" in json.loads(body)["message"], body
        assert lam_nv.get_function_url_config(FunctionName=name)["Cors"] == {
            "AllowOrigins": ["https://a.example"]}


class TestPermissions:
    def test_function_url_auth_type_statement_as_recorded(self, lam, fn):
        name = fn[0]
        r = lam.add_permission(FunctionName=name, StatementId="urlPermission",
                               Action="lambda:InvokeFunctionUrl", Principal="*",
                               FunctionUrlAuthType="NONE")
        assert r["ResponseMetadata"]["HTTPStatusCode"] == 201
        statement = {"Sid": "urlPermission", "Effect": "Allow", "Principal": "*",
                     "Action": "lambda:InvokeFunctionUrl", "Resource": fn_arn(name),
                     "Condition": {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}}}
        assert json.loads(r["Statement"]) == statement
        policy = json.loads(lam.get_policy(FunctionName=name)["Policy"])
        assert policy["Statement"] == [statement]

    def test_invoked_via_function_url(self, lam, fn):
        name = fn[0]
        r = lam.add_permission(FunctionName=name, StatementId="viaUrl", Action="lambda:InvokeFunction",
                               Principal="*", InvokedViaFunctionUrl=True)
        st = json.loads(r["Statement"])
        assert st["Condition"] == {"Bool": {"lambda:InvokedViaFunctionUrl": "true"}}
        with expect_error("InvalidParameterValueException", 400, message_contains="InvokedViaFunctionUrl"):
            lam.add_permission(FunctionName=name, StatementId="bad", Action="lambda:GetFunction",
                               Principal="*", InvokedViaFunctionUrl=True)

    def test_unknown_function_url_auth_type(self, lam_nv, fn):
        name = fn[0]
        with expect_error("ValidationException", 400, validation_message(
                "Value 'OPEN' at 'functionUrlAuthType' failed to satisfy constraint: Member must "
                "satisfy enum value set: [AWS_IAM, NONE]")):
            lam_nv.add_permission(FunctionName=name, StatementId="s", Action="lambda:InvokeFunctionUrl",
                                  Principal="*", FunctionUrlAuthType="OPEN")


def test_urls_survive_a_restart(tmp_path):
    data = tmp_path / "data"
    srv = lt.LaminaServer(data_dir=data, log_path=tmp_path / "a.log").start()
    try:
        lam = srv.client("lambda")
        name = lt.unique("url")
        lt.create_function(lam, name)
        made = lam.create_function_url_config(FunctionName=name, AuthType="AWS_IAM",
                                              InvokeMode="RESPONSE_STREAM", Cors={"MaxAge": 5})
    finally:
        srv.stop()
    srv = lt.LaminaServer(data_dir=data, log_path=tmp_path / "b.log").start()
    try:
        got = srv.client("lambda").get_function_url_config(FunctionName=name)
        # the id survives; the port is the one this server listens on
        assert URL_RE.match(got["FunctionUrl"]).group(1) == URL_RE.match(made["FunctionUrl"]).group(1)
        assert (got["AuthType"], got["InvokeMode"], got["Cors"]) == ("AWS_IAM", "RESPONSE_STREAM",
                                                                     {"MaxAge": 5})
        assert got["CreationTime"] == made["CreationTime"]
    finally:
        srv.stop()


@pytest.mark.cli
def test_aws_cli_round_trip(cli, lam, fn):
    name = fn[0]
    made = cli.json("lambda", "create-function-url-config", "--function-name", name,
                    "--auth-type", "NONE", "--cors", "AllowOrigins=https://example.com,MaxAge=30")
    assert URL_RE.match(made["FunctionUrl"])
    assert made["Cors"] == {"AllowOrigins": ["https://example.com"], "MaxAge": 30}
    got = cli.json("lambda", "get-function-url-config", "--function-name", name)
    assert got["FunctionUrl"] == made["FunctionUrl"] and got["InvokeMode"] == "BUFFERED"
    listed = cli.json("lambda", "list-function-url-configs", "--function-name", name)
    assert [r["FunctionUrl"] for r in listed["FunctionUrlConfigs"]] == [made["FunctionUrl"]]
    cli.run("lambda", "delete-function-url-config", "--function-name", name)
    p = cli.run("lambda", "get-function-url-config", "--function-name", name, check=False)
    assert p.returncode != 0 and "ResourceNotFoundException" in p.stderr


# --------------------------------------------------------------------------------------
# Requests to the URLs (BUFFERED)
# --------------------------------------------------------------------------------------

URL_HANDLER = r'''
import base64, json

def handler(event, context):
    mode = (event.get("queryStringParameters") or {}).get("mode", "echo")
    if mode == "echo":
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
                "body": json.dumps({"event": event, "request_id": context.aws_request_id})}
    if mode == "dict":
        return {"hello": "world"}
    if mode == "string":
        return "hello"
    if mode == "list":
        return ["hello", 3, True]
    if mode == "number":
        return 3.1
    if mode == "teapot":
        return {"statusCode": "418", "headers": {"X-Test": "yes", "Access-Control-Allow-Origin": "https://evil.example"},
                "cookies": ["a=1; Path=/", "b=2"], "body": "teapot"}
    if mode == "binary":
        return {"statusCode": 200, "isBase64Encoded": True, "headers": {"Content-Type": "application/octet-stream"},
                "body": base64.b64encode(b"\x00\x01\xff").decode()}
    if mode == "bad-status":
        return {"statusCode": "abc", "body": "x"}
    raise RuntimeError("boom")
'''


def public_permission(lam, name, qualifier=None, auth="NONE"):
    kwargs = {"Qualifier": qualifier} if qualifier else {}
    lam.add_permission(FunctionName=name, StatementId=lt.unique("url"), Action="lambda:InvokeFunctionUrl",
                       Principal="*", FunctionUrlAuthType=auth, **kwargs)


@pytest.fixture
def url_fn(lam):
    name = lt.unique("urlfn")
    lt.create_function(lam, name, zip_bytes=lt.make_zip({"handler.py": URL_HANDLER}))
    return name


def host_of(url: str) -> str:
    return url.split("//", 1)[1].rstrip("/")


def call(server, url: str, path: str = "/", method: str = "GET", body: bytes | None = None,
         headers: dict | None = None):
    """A request to a function URL: to 127.0.0.1 with the URL's Host, as curl and browsers send it."""
    h = {"Host": host_of(url)}
    h.update(headers or {})
    return lt.http_request(f"http://127.0.0.1:{server.port}{path}", method=method, body=body, headers=h)


class TestInvokeUrl:
    def test_results_become_responses_as_aws_sends_them(self, lam, server, url_fn):
        url = lam.create_function_url_config(FunctionName=url_fn, AuthType="NONE")["FunctionUrl"]
        public_permission(lam, url_fn)
        # test_lambda_url_invocation[*]: value -> (status, content-type, body)
        cases = {"dict": b'{"hello":"world"}', "string": b"hello", "list": b'["hello",3,true]',
                 "number": b"3.1"}
        for mode, body in cases.items():
            status, headers, got = call(server, url, f"/?mode={mode}")
            assert (status, headers["content-type"], got) == (200, "application/json", body), mode
            assert int(headers["content-length"]) == len(body)
        status, headers, got = call(server, url, "/?mode=teapot")
        assert (status, got) == (418, b"teapot")
        assert headers["x-test"] == "yes"
        status, headers, got = call(server, url, "/?mode=binary")
        assert (status, headers["content-type"], got) == (200, "application/octet-stream", b"\x00\x01\xff")

    def test_cookies_become_set_cookie_headers(self, lam, server, url_fn):
        url = lam.create_function_url_config(FunctionName=url_fn, AuthType="NONE")["FunctionUrl"]
        public_permission(lam, url_fn)
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        conn.request("GET", "/?mode=teapot", headers={"Host": host_of(url)})
        r = conn.getresponse()
        r.read()
        assert r.headers.get_all("Set-Cookie") == ["a=1; Path=/", "b=2"]
        conn.close()

    def test_paths_that_are_not_utf8_reach_the_function(self, lam, server, url_fn):
        url = lam.create_function_url_config(FunctionName=url_fn, AuthType="NONE")["FunctionUrl"]
        public_permission(lam, url_fn)
        import socket
        for raw_path, want in ((b"/caf%E9/%FF", "/caf%E9/%FF"), (b"/caf\xe9", "/caf\ufffd")):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
            sock.sendall(b"GET " + raw_path + b" HTTP/1.1\r\nHost: " + host_of(url).encode() +
                         b"\r\nConnection: close\r\n\r\n")
            answer = b""
            while True:
                piece = sock.recv(65536)
                if not piece:
                    break
                answer += piece
            sock.close()
            head, _, body = answer.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200"), answer[:300]
            # as sent: %-escapes stay; a raw byte that is not UTF-8 arrives replaced, not lost
            assert json.loads(body)["event"]["rawPath"] == want

    def test_the_event_is_payload_format_2(self, lam, server, url_fn):
        url = lam.create_function_url_config(FunctionName=url_fn, AuthType="NONE")["FunctionUrl"]
        public_permission(lam, url_fn)
        url_id = URL_RE.match(url).group(1)
        status, headers, got = call(server, url, "/pa2%Fth/1?q=query&multiQuery=foo&multiQuery=%2Fbar",
                                    method="POST", body=b'{"foo": "bar"}',
                                    headers={"Content-Type": "application/json", "User-Agent": "test/echo",
                                             "Extra-Headers": "With WeiRd CapS", "Cookie": "c1=v1; c2=v2"})
        assert status == 200, got
        reply = json.loads(got)
        event = reply["event"]
        assert event["version"] == "2.0" and event["routeKey"] == "$default"
        assert event["rawPath"] == "/pa2%Fth/1"
        assert event["rawQueryString"] == "q=query&multiQuery=foo&multiQuery=%2Fbar"
        assert event["queryStringParameters"] == {"q": "query", "multiQuery": "foo,/bar"}
        assert event["headers"]["extra-headers"] == "With WeiRd CapS"
        assert event["headers"]["host"] == host_of(url)
        assert event["headers"]["x-forwarded-for"] == "127.0.0.1"
        assert event["cookies"] == ["c1=v1", "c2=v2"]
        assert event["body"] == '{"foo": "bar"}' and event["isBase64Encoded"] is False
        rc = event["requestContext"]
        assert rc["apiId"] == url_id and rc["domainPrefix"] == url_id
        assert rc["accountId"] == lt.ACCOUNT
        assert rc["http"] == {"method": "POST", "path": "/pa2%Fth/1", "protocol": "HTTP/1.1",
                              "sourceIp": "127.0.0.1", "userAgent": "test/echo"}
        assert rc["stage"] == "$default" and rc["routeKey"] == "$default"
        assert abs(rc["timeEpoch"] / 1000 - datetime.datetime.now().timestamp()) < 60
        # the response's request id is the invocation's (test_request_id_invoke_url)
        assert headers["x-amzn-requestid"] == reply["request_id"] == rc["requestId"]

    def test_binary_bodies_arrive_base64(self, lam, server, url_fn):
        url = lam.create_function_url_config(FunctionName=url_fn, AuthType="NONE")["FunctionUrl"]
        public_permission(lam, url_fn)
        form = b"--xyz\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\n\xff\x00\r\n--xyz--\r\n"
        status, _, got = call(server, url, "/upload", method="POST", body=form,
                              headers={"Content-Type": "multipart/form-data; boundary=xyz"})
        event = json.loads(got)["event"]
        assert event["isBase64Encoded"] is True
        assert base64.b64decode(event["body"]) == form

    def test_the_path_form_reaches_the_same_url(self, lam, server, url_fn):
        url = lam.create_function_url_config(FunctionName=url_fn, AuthType="NONE")["FunctionUrl"]
        public_permission(lam, url_fn)
        url_id = URL_RE.match(url).group(1)
        status, _, got = lt.http_request(f"http://127.0.0.1:{server.port}/_lamina/urls/{url_id}/a/b?x=1")
        assert status == 200
        event = json.loads(got)["event"]
        assert event["rawPath"] == "/a/b" and event["queryStringParameters"] == {"x": "1"}
        status, _, got = lt.http_request(f"http://127.0.0.1:{server.port}/_lamina/urls/{url_id}?mode=string")
        assert (status, got) == (200, b"hello")

    def test_function_errors_and_bad_results_are_502(self, lam, server, url_fn):
        url = lam.create_function_url_config(FunctionName=url_fn, AuthType="NONE")["FunctionUrl"]
        public_permission(lam, url_fn)
        for mode in ("raise", "bad-status"):
            status, _, got = call(server, url, f"/?mode={mode}")
            assert (status, got) == (502, b"Internal Server Error"), mode

    def test_auth_none_needs_the_public_statement(self, lam, server, url_fn):
        url = lam.create_function_url_config(FunctionName=url_fn, AuthType="NONE")["FunctionUrl"]
        status, headers, got = call(server, url, "/?mode=string")
        assert status == 403
        assert headers["x-amzn-errortype"] == "AccessDeniedException"
        assert json.loads(got) == {"Message": "Forbidden. For troubleshooting Function URL authorization "
                                              "issues, see: https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html"}
        # a statement for the other auth type does not open a NONE URL
        public_permission(lam, url_fn, auth="AWS_IAM")
        assert call(server, url, "/?mode=string")[0] == 403
        public_permission(lam, url_fn)
        assert call(server, url, "/?mode=string")[:3:2] == (200, b"hello")

    def test_a_host_naming_no_url_is_403_with_null_message(self, server):
        status, headers, got = lt.http_request(
            f"http://127.0.0.1:{server.port}/", headers={"Host": "0" * 32 + ".lambda-url.us-east-1.localhost"})
        assert status == 403
        assert headers["content-type"] == "application/json"
        assert headers["x-amzn-errortype"] == "AccessDeniedException"
        assert json.loads(got) == {"Message": None}

    def test_aws_iam_needs_a_signature(self, lam, server, url_fn):
        url = lam.create_function_url_config(FunctionName=url_fn, AuthType="AWS_IAM")["FunctionUrl"]
        assert call(server, url, "/?mode=string")[0] == 403  # unsigned
        import botocore.auth
        import botocore.awsrequest
        import botocore.credentials
        req = botocore.awsrequest.AWSRequest(method="GET", url=f"http://{host_of(url)}/?mode=echo")
        botocore.auth.SigV4Auth(botocore.credentials.Credentials("test", "test"), "lambda",
                                lt.REGION).add_auth(req)
        signed = {k: v for k, v in req.headers.items()}
        status, _, got = call(server, url, "/?mode=echo", headers=signed)
        assert status == 200, got
        iam = json.loads(got)["event"]["requestContext"]["authorizer"]["iam"]
        assert iam["accessKey"] == "test"

    def test_alias_urls_run_the_alias_version(self, lam, server, url_fn):
        lam.publish_version(FunctionName=url_fn)
        lam.create_alias(FunctionName=url_fn, Name="live", FunctionVersion="1")
        url = lam.create_function_url_config(FunctionName=url_fn, Qualifier="live",
                                             AuthType="NONE")["FunctionUrl"]
        public_permission(lam, url_fn)  # the unqualified function's policy does not open the alias
        assert call(server, url, "/?mode=string")[0] == 403
        public_permission(lam, url_fn, qualifier="live")
        assert call(server, url, "/?mode=string")[:3:2] == (200, b"hello")
        lam.delete_alias(FunctionName=url_fn, Name="live")
        status, _, got = call(server, url, "/?mode=string")
        assert status == 403 and json.loads(got) == {"Message": None}

    def test_cors_preflight_and_response_headers(self, lam, server, url_fn):
        cors = {"AllowOrigins": ["https://app.example"], "AllowMethods": ["GET", "POST"],
                "AllowHeaders": ["x-custom"], "ExposeHeaders": ["x-test"], "MaxAge": 300,
                "AllowCredentials": True}
        url = lam.create_function_url_config(FunctionName=url_fn, AuthType="NONE", Cors=cors)["FunctionUrl"]
        public_permission(lam, url_fn)
        status, headers, _ = call(server, url, "/", method="OPTIONS",
                                  headers={"Origin": "https://app.example",
                                           "Access-Control-Request-Method": "POST"})
        assert status == 200
        assert headers["access-control-allow-origin"] == "https://app.example"
        assert headers["access-control-allow-methods"] == "GET,POST"
        assert headers["access-control-allow-headers"] == "x-custom"
        assert headers["access-control-max-age"] == "300"
        assert headers["access-control-allow-credentials"] == "true"
        # the function's own Access-Control-Allow-Origin is replaced by the config's
        status, headers, _ = call(server, url, "/?mode=teapot", headers={"Origin": "https://app.example"})
        assert status == 418
        assert headers["access-control-allow-origin"] == "https://app.example"
        assert headers["access-control-expose-headers"] == "x-test"
        # another origin gets no CORS headers from the config
        status, headers, _ = call(server, url, "/", method="OPTIONS",
                                  headers={"Origin": "https://evil.example",
                                           "Access-Control-Request-Method": "POST"})
        assert "access-control-allow-origin" not in headers

    def test_reserved_concurrency_zero_turns_the_url_off(self, lam, server, url_fn):
        url = lam.create_function_url_config(FunctionName=url_fn, AuthType="NONE")["FunctionUrl"]
        public_permission(lam, url_fn)
        lam.put_function_concurrency(FunctionName=url_fn, ReservedConcurrentExecutions=0)
        status, headers, got = call(server, url, "/?mode=string")
        assert status == 429, got
        assert headers["x-amzn-errortype"] == "TooManyRequestsException"
        lam.delete_function_concurrency(FunctionName=url_fn)
        assert call(server, url, "/?mode=string")[:3:2] == (200, b"hello")


@pytest.mark.skipif(not shutil.which("curl"), reason="curl not installed")
class TestCurl:
    def test_curl_reaches_a_url_by_its_name(self, lam, server, url_fn):
        """curl resolves *.localhost to loopback itself: the URL as handed out works as is."""
        url = lam.create_function_url_config(FunctionName=url_fn, AuthType="NONE")["FunctionUrl"]
        public_permission(lam, url_fn)
        p = subprocess.run(["curl", "-sS", "--max-time", "20", "--noproxy", "*", "-w", "\n%{http_code}",
                            url + "hello?mode=echo"], capture_output=True, text=True, timeout=30)
        body, status = p.stdout.rsplit("\n", 1)
        assert status == "200", p.stderr
        assert json.loads(body)["event"]["rawPath"] == "/hello"

    def test_curl_aws_sigv4_signs_for_aws_iam(self, lam, server, url_fn):
        url = lam.create_function_url_config(FunctionName=url_fn, AuthType="AWS_IAM")["FunctionUrl"]
        base = ["curl", "-sS", "--max-time", "20", "--noproxy", "*", "-o", "/dev/null", "-w", "%{http_code}"]
        unsigned = subprocess.run(base + [url + "?mode=string"], capture_output=True, text=True, timeout=30)
        assert unsigned.stdout == "403"
        signed = subprocess.run(base + ["--aws-sigv4", f"aws:amz:{lt.REGION}:lambda", "--user", "test:test",
                                        url + "?mode=string"], capture_output=True, text=True, timeout=30)
        assert signed.stdout == "200", signed.stderr
