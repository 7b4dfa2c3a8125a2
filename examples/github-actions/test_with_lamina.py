"""A pytest + boto3 test of a Lambda function against a running lamina.

    LAMINA_ENDPOINT=http://127.0.0.1:9001 python3 -m pytest -q test_with_lamina.py

Deploys function/handler.py (zipped in memory), invokes it, publishes a
version behind an alias, and checks an unhandled error; everything it
creates is deleted afterwards. Used by lamina-ci.yml in GitHub Actions.
"""
import io
import json
import os
import uuid
import zipfile
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

ENDPOINT = os.environ.get("LAMINA_ENDPOINT", "http://127.0.0.1:9001")
HANDLER_DIR = Path(__file__).resolve().parent / "function"


@pytest.fixture(scope="module")
def lam():
    return boto3.client(
        "lambda", endpoint_url=ENDPOINT, region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
        # one attempt, bounded waits: a CI job must fail fast, not hang
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=60,
                      proxies={}))


def zip_dir(folder: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted(folder.rglob("*.py")):
            z.write(f, f.relative_to(folder).as_posix())
    return buf.getvalue()


@pytest.fixture(scope="module")
def function(lam):
    name = f"ci-hello-{uuid.uuid4().hex[:8]}"
    lam.create_function(FunctionName=name, Runtime="python3.12", Handler="handler.handler",
                        Role="arn:aws:iam::123456789012:role/lambda-role",
                        Code={"ZipFile": zip_dir(HANDLER_DIR)}, Timeout=10)
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    yield name
    lam.delete_function(FunctionName=name)


def invoke(lam, name, event):
    r = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    return r, json.loads(r["Payload"].read())


def test_invoke_returns_the_greeting(lam, function):
    r, out = invoke(lam, function, {"name": "ci"})
    assert r["StatusCode"] == 200 and "FunctionError" not in r
    assert out["greeting"] == "hello, ci"
    assert out["requestId"] == r["ResponseMetadata"]["RequestId"]


def test_a_published_version_behind_an_alias(lam, function):
    version = lam.publish_version(FunctionName=function, Description="ci")["Version"]
    lam.create_alias(FunctionName=function, Name="live", FunctionVersion=version)
    r, out = invoke(lam, f"{function}:live", {})
    assert r["ExecutedVersion"] == version
    assert out["greeting"] == "hello, world"


def test_an_unhandled_error_is_reported(lam, function):
    r, out = invoke(lam, function, {"name": "boom"})
    assert r["StatusCode"] == 200 and r["FunctionError"] == "Unhandled"
    assert out["errorType"] == "ValueError" and out["errorMessage"] == "no booms here"
