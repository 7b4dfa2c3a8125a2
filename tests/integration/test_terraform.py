"""Terraform's AWS provider (hashicorp/aws, from a local filesystem mirror: no network) against
lamina: a function, an alias and their function URLs (aws_lambda_function_url, with CORS) and the
public permission (aws_lambda_permission with function_url_auth_type). apply creates them, the URL
answers with the function's answer, a plan right after shows no changes (a diff there means a
field lamina renders differs from what the provider read back on create), destroy removes them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

import lamina_testlib as lt
import oci_push as oci
from lamina_testlib import expect_error

TERRAFORM = os.environ.get("LAMINA_TERRAFORM", shutil.which("terraform") or "/usr/local/bin/terraform")
MIRROR = Path(os.environ.get("LAMINA_TF_MIRROR", "/opt/tf-plugins"))

# The provider pointed at lamina: the head of every configuration here.
PROVIDER_TF = r'''
terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}

variable "endpoint" { type = string }
variable "name" { type = string }
variable "zip" { type = string }

provider "aws" {
  region                      = "us-east-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  endpoints {
    lambda = var.endpoint
    iam    = var.endpoint
    sts    = var.endpoint
  }
}
'''

MAIN_TF = PROVIDER_TF + r'''
resource "aws_lambda_function" "fn" {
  function_name    = var.name
  role             = "arn:aws:iam::123456789012:role/lambda-role"
  handler          = "handler.handler"
  runtime          = "python3.12"
  filename         = var.zip
  source_code_hash = filebase64sha256(var.zip)
  publish          = true
}

resource "aws_lambda_alias" "live" {
  name             = "live"
  function_name    = aws_lambda_function.fn.function_name
  function_version = aws_lambda_function.fn.version
}

resource "aws_lambda_function_url" "url" {
  function_name      = aws_lambda_function.fn.function_name
  authorization_type = "NONE"
  cors {
    allow_credentials = true
    allow_origins     = ["https://example.com"]
    allow_methods     = ["GET", "POST"]
    allow_headers     = ["x-custom"]
    expose_headers    = ["x-id"]
    max_age           = 60
  }
}

resource "aws_lambda_function_url" "live" {
  function_name      = aws_lambda_function.fn.function_name
  qualifier          = aws_lambda_alias.live.name
  authorization_type = "AWS_IAM"
  invoke_mode        = "BUFFERED"
}

resource "aws_lambda_permission" "public_url" {
  statement_id           = "public-url"
  action                 = "lambda:InvokeFunctionUrl"
  function_name          = aws_lambda_function.fn.function_name
  principal              = "*"
  function_url_auth_type = "NONE"
}

output "url" { value = aws_lambda_function_url.url.function_url }
output "url_id" { value = aws_lambda_function_url.url.url_id }
output "live_url" { value = aws_lambda_function_url.live.function_url }
'''

HANDLER = r'''
import json

def handler(event, context):
    return {"statusCode": 200, "headers": {"Content-Type": "application/json", "X-Id": "7"},
            "body": json.dumps({"from": "terraform", "path": event["rawPath"]})}
'''


# A queue feeding a function through an event source mapping; the function
# relays each event it gets to the "out" queue, where the test reads it.
QUEUES_TF = PROVIDER_TF.replace("    sts    = var.endpoint\n",
                                "    sts    = var.endpoint\n    sqs    = var.endpoint\n") + r'''
resource "aws_sqs_queue" "dlq" {
  name = "${var.name}-dlq"
}

resource "aws_sqs_queue" "jobs" {
  name                       = "${var.name}-jobs"
  visibility_timeout_seconds = 20
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = 4
  })
  tags = { team = "core" }
}

resource "aws_sqs_queue" "out" {
  name = "${var.name}-out"
}

resource "aws_lambda_function" "fn" {
  function_name    = var.name
  role             = "arn:aws:iam::123456789012:role/lambda-role"
  handler          = "handler.handler"
  runtime          = "python3.12"
  filename         = var.zip
  source_code_hash = filebase64sha256(var.zip)
  environment {
    variables = { OUT_URL = aws_sqs_queue.out.url }
  }
}

resource "aws_lambda_event_source_mapping" "jobs" {
  event_source_arn = aws_sqs_queue.jobs.arn
  function_name    = aws_lambda_function.fn.arn
  batch_size       = 5
}

output "jobs_url" { value = aws_sqs_queue.jobs.url }
output "out_url" { value = aws_sqs_queue.out.url }
output "uuid" { value = aws_lambda_event_source_mapping.jobs.uuid }
'''

RELAY = r'''
import json, os, urllib.parse, urllib.request

def handler(event, context):
    form = urllib.parse.urlencode({"Action": "SendMessage", "Version": "2012-11-05",
                                   "MessageBody": json.dumps(event)}).encode()
    req = urllib.request.Request(os.environ["OUT_URL"], data=form,
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    urllib.request.urlopen(req, timeout=5).read()
    return {}
'''


# A container-image function: the image pushed to lamina's registry by the test, its
# ImageConfig set by Terraform.
IMAGE_TF = PROVIDER_TF + r'''
variable "image_uri" { type = string }

resource "aws_lambda_function" "fn" {
  function_name = var.name
  role          = "arn:aws:iam::123456789012:role/lambda-role"
  package_type  = "Image"
  image_uri     = var.image_uri
  image_config {
    entry_point       = ["/bin/bootstrap", "--from-terraform"]
    command           = ["tf.handler"]
    working_directory = "/data"
  }
  environment {
    variables = { MY_VAR = "from-terraform" }
  }
}

output "arn" { value = aws_lambda_function.fn.arn }
output "image_uri" { value = aws_lambda_function.fn.image_uri }
'''


def make_tf(server, tmp_path, main_tf: str, handler: str, extra_vars: dict | None = None):
    if not (os.path.isfile(TERRAFORM) and os.access(TERRAFORM, os.X_OK)):
        pytest.skip(f"terraform not found ({TERRAFORM})")
    if not (MIRROR / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
        pytest.skip(f"no hashicorp/aws provider in the filesystem mirror {MIRROR}")
    work = tmp_path / "tf"
    work.mkdir()
    (work / "main.tf").write_text(main_tf)
    (work / "fn.zip").write_bytes(lt.make_zip({"handler.py": handler}))
    rc = tmp_path / "terraformrc"
    rc.write_text('provider_installation {\n  filesystem_mirror {\n    path = "%s"\n  }\n}\n' % MIRROR)
    env = dict(os.environ, TF_CLI_CONFIG_FILE=str(rc), TF_IN_AUTOMATION="1", TF_INPUT="0",
               CHECKPOINT_DISABLE="1", NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost",
               TF_VAR_endpoint=server.url, TF_VAR_name=lt.unique("tf"), TF_VAR_zip=str(work / "fn.zip"),
               **{f"TF_VAR_{k}": v for k, v in (extra_vars or {}).items()})
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "AWS_PROFILE"):
        env.pop(var, None)

    def run(*args: str, ok=(0,), timeout: float = 120) -> subprocess.CompletedProcess:
        p = subprocess.run([TERRAFORM, *args, "-no-color"], cwd=work, env=env, capture_output=True, text=True,
                           timeout=timeout)
        assert p.returncode in ok, f"terraform {' '.join(args)} exited {p.returncode}\n{p.stdout}\n{p.stderr}"
        return p

    run("init", "-input=false")
    run.name = env["TF_VAR_name"]
    yield run
    # leave nothing behind when a step failed half-way
    subprocess.run([TERRAFORM, "destroy", "-auto-approve", "-input=false", "-no-color"], cwd=work, env=env,
                   capture_output=True, timeout=120)


@pytest.fixture
def tf(server, tmp_path):
    yield from make_tf(server, tmp_path, MAIN_TF, HANDLER)


@pytest.fixture
def tf_queues(server, tmp_path):
    yield from make_tf(server, tmp_path, QUEUES_TF, RELAY)


@pytest.fixture
def tf_image(server, tmp_path):
    """An image built here (image_fixtures/bootstrap.c, static, as test_image_functions'),
    pushed to lamina's registry with the raw OCI client, then Terraform on IMAGE_TF."""
    if not oci.registry_available(server.url):
        pytest.skip("lamina's image registry (/v2/) is not in this build")
    if not shutil.which("gcc"):
        pytest.skip("gcc is needed to build the test image's static runtime")
    binary = tmp_path / "bootstrap"
    r = subprocess.run(["gcc", "-static", "-O1", "-o", str(binary),
                        str(Path(__file__).parent / "image_fixtures" / "bootstrap.c")],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"gcc -static failed (libc6-dev's libc.a missing?): {r.stderr[-300:]}")
    repo = lt.unique("tfimg").lower()
    lt.make_client(server.port, "ecr").create_repository(repositoryName=repo)
    layer = oci.tar_layer([("bin", "dir", None, 0o755),
                           ("bin/bootstrap", "file", binary.read_bytes(), 0o755),
                           ("data", "dir", None, 0o755)])
    digest = oci.push_image(server.url, repo, "v1", [layer],
                            oci.image_config(entrypoint=["/bin/bootstrap"], cmd=["handler.main"],
                                             env=["PATH=/bin", "MY_VAR=from-image"]),
                            layer_types=[oci.OCI_LAYER_GZIP])
    uri = f"{lt.ACCOUNT}.dkr.ecr.{lt.REGION}.amazonaws.com/{repo}:v1"
    for run in make_tf(server, tmp_path, IMAGE_TF, HANDLER, {"image_uri": uri}):
        run.image_uri, run.digest = uri, digest
        yield run


@pytest.mark.timeout_s(600)
def test_image_function_created_invoked_planned_and_destroyed(tf_image, lam):
    tf = tf_image
    tf("apply", "-auto-approve", "-input=false", timeout=240)
    out = {k: v["value"] for k, v in json.loads(tf("output", "-json").stdout).items()}
    name = tf.name
    assert out["image_uri"] == tf.image_uri

    got = lam.get_function(FunctionName=name)
    cfg = got["Configuration"]
    assert cfg["PackageType"] == "Image" and cfg["CodeSha256"] == tf.digest[len("sha256:"):]
    assert cfg["ImageConfigResponse"] == {"ImageConfig": {
        "EntryPoint": ["/bin/bootstrap", "--from-terraform"], "Command": ["tf.handler"],
        "WorkingDirectory": "/data"}}
    assert got["Code"]["ImageUri"] == tf.image_uri
    assert got["Code"]["ResolvedImageUri"] == tf.image_uri.rsplit(":", 1)[0] + "@" + tf.digest

    r = lam.invoke(FunctionName=name, Payload=b"{}")
    answer = json.loads(r["Payload"].read())
    assert "FunctionError" not in r, answer
    assert answer["argv"] == "/bin/bootstrap --from-terraform tf.handler"
    assert answer["cwd"] == "/data" and answer["MY_VAR"] == "from-terraform"

    # what lamina answers reads back as what was applied: no diff
    plan = tf("plan", "-detailed-exitcode", "-input=false", ok=(0, 2), timeout=240)
    assert plan.returncode == 0, f"terraform plan after apply shows changes:\n{plan.stdout}"

    tf("destroy", "-auto-approve", "-input=false", timeout=240)
    with expect_error("ResourceNotFoundException", 404):
        lam.get_function(FunctionName=name)


@pytest.mark.timeout_s(600)
def test_function_url_created_planned_and_destroyed(tf, lam, server):
    tf("apply", "-auto-approve", "-input=false", timeout=240)
    out = {k: v["value"] for k, v in json.loads(tf("output", "-json").stdout).items()}
    name = tf.name

    got = lam.get_function_url_config(FunctionName=name)
    assert got["FunctionUrl"] == out["url"] and out["url"].startswith(f"http://{out['url_id']}.lambda-url.")
    # the provider's cors lists are sets: it sends them in its own order
    cors = {k: sorted(v) if isinstance(v, list) else v for k, v in got["Cors"].items()}
    assert cors == {"AllowCredentials": True, "AllowOrigins": ["https://example.com"],
                    "AllowMethods": ["GET", "POST"], "AllowHeaders": ["x-custom"], "ExposeHeaders": ["x-id"],
                    "MaxAge": 60}
    live = lam.get_function_url_config(FunctionName=name, Qualifier="live")
    assert (live["FunctionUrl"], live["AuthType"]) == (out["live_url"], "AWS_IAM")
    policy = json.loads(lam.get_policy(FunctionName=name)["Policy"])
    public = [s for s in policy["Statement"] if s["Sid"] == "public-url"]
    assert public and public[0]["Condition"] == {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}}

    # the URL answers with the function's answer, CORS from the config
    host = out["url"].split("//", 1)[1].rstrip("/")
    status, headers, body = lt.http_request(f"http://127.0.0.1:{server.port}/hello", headers={
        "Host": host, "Origin": "https://example.com"})
    assert status == 200, body
    assert json.loads(body) == {"from": "terraform", "path": "/hello"}
    assert headers["access-control-allow-origin"] == "https://example.com"
    assert headers["access-control-expose-headers"] == "x-id"
    # the alias's AWS_IAM URL refuses an unsigned request
    live_host = out["live_url"].split("//", 1)[1].rstrip("/")
    assert lt.http_request(f"http://127.0.0.1:{server.port}/", headers={"Host": live_host})[0] == 403

    # what lamina answers reads back as what was applied: no diff
    plan = tf("plan", "-detailed-exitcode", "-input=false", ok=(0, 2), timeout=240)
    assert plan.returncode == 0, f"terraform plan after apply shows changes:\n{plan.stdout}"

    tf("destroy", "-auto-approve", "-input=false", timeout=240)
    with expect_error("ResourceNotFoundException", 404):
        lam.get_function(FunctionName=name)
    status, _, _ = lt.http_request(f"http://127.0.0.1:{server.port}/", headers={"Host": host})
    assert status == 403  # a URL that no longer exists


@pytest.mark.timeout_s(600)
def test_queue_and_event_source_mapping_created_planned_and_destroyed(tf_queues, lam, server):
    tf = tf_queues
    tf("apply", "-auto-approve", "-input=false", timeout=300)
    out = {k: v["value"] for k, v in json.loads(tf("output", "-json").stdout).items()}
    name = tf.name
    sqs = server.client("sqs")
    attrs = sqs.get_queue_attributes(QueueUrl=out["jobs_url"], AttributeNames=["All"])["Attributes"]
    assert attrs["VisibilityTimeout"] == "20"
    assert json.loads(attrs["RedrivePolicy"])["maxReceiveCount"] == 4
    m = lam.get_event_source_mapping(UUID=out["uuid"])
    assert m["BatchSize"] == 5 and m["FunctionArn"].endswith(f":function:{name}")

    # a message sent with boto3 reaches the function, which relays it to "out"
    sqs.send_message(QueueUrl=out["jobs_url"], MessageBody="from terraform's queue")
    got, deadline = [], time.time() + 30
    while not got and time.time() < deadline:
        for msg in sqs.receive_message(QueueUrl=out["out_url"], WaitTimeSeconds=1).get("Messages", []):
            got += [r["body"] for r in json.loads(msg["Body"])["Records"]]
    assert got == ["from terraform's queue"]

    # what lamina answers reads back as what was applied: no diff
    plan = tf("plan", "-detailed-exitcode", "-input=false", ok=(0, 2), timeout=240)
    assert plan.returncode == 0, f"terraform plan after apply shows changes:\n{plan.stdout}"

    tf("destroy", "-auto-approve", "-input=false", timeout=240)
    with expect_error("ResourceNotFoundException", 404):
        lam.get_event_source_mapping(UUID=out["uuid"])
    assert sqs.list_queues(QueueNamePrefix=name).get("QueueUrls", []) == []
