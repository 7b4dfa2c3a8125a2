"""Tenant isolation (TenancyConfig PER_TENANT) through boto3 and the aws CLI: the config as
AWS renders it on every read, immutable after creation; invocations that need X-Amz-Tenant-Id
(and refuse it on other functions); execution environments never shared across tenants but
reused within one (proved by module-level state made at init); the tenant id in the context of
Python, Node.js, Ruby and Java functions and in JSON logs; and the features AWS does not combine
with tenant isolation (SnapStart, provisioned concurrency, function URLs, event source mappings)
refused. Persistence across a restart is covered by the registry's unit test."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess

import pytest

import lamina_testlib as lt
from lamina_testlib import expect_error, validation_message

TENANCY = {"TenantIsolationMode": "PER_TENANT"}

PY_HANDLER = """import json, os, uuid
ENVIRONMENT = uuid.uuid4().hex  # made once per execution environment, at init
COUNT = 0

def handler(event, context):
    global COUNT
    COUNT += 1
    print("TENANT-SEEN " + json.dumps({"tenant": context.tenant_id, "env": ENVIRONMENT}))
    return {"env": ENVIRONMENT, "count": COUNT, "tenant": context.tenant_id}
"""

NODE_HANDLER = """const ENVIRONMENT = require('crypto').randomUUID();
let count = 0;
exports.handler = async (event, context) => {
  count += 1;
  console.log('node tenant', context.tenantId);
  return { env: ENVIRONMENT, count, tenant: context.tenantId === undefined ? null : context.tenantId };
};
"""

RUBY_HANDLER = """require 'securerandom'
ENVIRONMENT = SecureRandom.hex(8)

def handler(event:, context:)
  { 'env' => ENVIRONMENT, 'tenant' => context.tenant_id }
end
"""

JAVA_HANDLER = """package tenancy;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import java.util.Map;

public class Handler implements RequestHandler<Map<String, Object>, String> {
    @Override
    public String handleRequest(Map<String, Object> event, Context context) {
        return "tenant=" + context.getTenantId();
    }
}
"""


def py_zip() -> bytes:
    return lt.make_zip({"handler.py": PY_HANDLER})


def create_tenant_fn(lam, name=None, **kwargs) -> str:
    name = name or lt.unique("ten")
    lt.create_function(lam, name, zip_bytes=kwargs.pop("zip_bytes", py_zip()), TenancyConfig=TENANCY,
                       **kwargs)
    return name


def invoke(lam, name, tenant=None, **kwargs) -> dict:
    if tenant is not None:
        kwargs["TenantId"] = tenant
    r = lam.invoke(FunctionName=name, Payload=b"{}", **kwargs)
    body = r["Payload"].read()
    assert "FunctionError" not in r, body
    return json.loads(body)


@pytest.fixture(scope="module")
def tenant_fn(lam):
    return create_tenant_fn(lam)


def test_tenancy_config_is_rendered_as_aws_renders_it(lam):
    name = lt.unique("ten")
    created = lam.create_function(FunctionName=name, Runtime=lt.RUNTIME, Role=lt.ROLE_ARN,
                                  Handler="handler.handler", Code={"ZipFile": py_zip()},
                                  TenancyConfig=TENANCY)
    assert created["TenancyConfig"] == TENANCY
    lt.wait_active(lam, name)
    assert lam.get_function_configuration(FunctionName=name)["TenancyConfig"] == TENANCY
    assert lam.get_function(FunctionName=name)["Configuration"]["TenancyConfig"] == TENANCY
    rows = [f for page in lam.get_paginator("list_functions").paginate() for f in page["Functions"]
            if f["FunctionName"] == name]
    assert rows and rows[0]["TenancyConfig"] == TENANCY
    published = lam.publish_version(FunctionName=name)
    assert published["TenancyConfig"] == TENANCY
    versions = lam.list_versions_by_function(FunctionName=name)["Versions"]
    assert [v.get("TenancyConfig") for v in versions] == [TENANCY, TENANCY]
    assert lam.get_function_configuration(FunctionName=name, Qualifier="1")["TenancyConfig"] == TENANCY
    # a function without tenant isolation has no TenancyConfig at all
    plain = lt.unique("plain")
    lt.create_function(lam, plain)
    lam.get_function_configuration(FunctionName=plain)
    assert "TenancyConfig" not in lt.raw_json(lam)


def test_tenancy_config_is_validated_and_nothing_is_created(lam, lam_nv):
    name = lt.unique("ten")
    base = dict(FunctionName=name, Runtime=lt.RUNTIME, Role=lt.ROLE_ARN, Handler="handler.handler",
                Code={"ZipFile": py_zip()})
    with expect_error("ValidationException", 400, validation_message(
            "Value 'SHARED' at 'tenancyConfig.tenantIsolationMode' failed to satisfy constraint: "
            "Member must satisfy enum value set: [PER_TENANT]")):
        lam_nv.create_function(**base, TenancyConfig={"TenantIsolationMode": "SHARED"})
    with expect_error("ValidationException", 400, validation_message(
            "Value null at 'tenancyConfig.tenantIsolationMode' failed to satisfy constraint: "
            "Member must not be null")):
        lam_nv.create_function(**base, TenancyConfig={})
    with expect_error("ResourceNotFoundException", 404):
        lam.get_function(FunctionName=name)


def test_environments_are_never_shared_across_tenants_but_reused_within_one(lam, tenant_fn):
    seen = {"blue": [], "green": []}
    for tenant in ["blue", "green", "blue", "green", "blue"]:
        out = invoke(lam, tenant_fn, tenant)
        assert out["tenant"] == tenant
        seen[tenant].append(out)
    blue_envs = {o["env"] for o in seen["blue"]}
    green_envs = {o["env"] for o in seen["green"]}
    assert len(blue_envs) == 1 and len(green_envs) == 1, seen
    assert blue_envs.isdisjoint(green_envs), seen
    # warm reuse within a tenant: the module's counter went on
    assert [o["count"] for o in seen["blue"]] == [1, 2, 3]
    assert [o["count"] for o in seen["green"]] == [1, 2]
    # a third tenant, whose id uses every kind of character the model allows, gets its own
    odd = "Tenant_1.a:b/c=d+e-f@g h"
    out = invoke(lam, tenant_fn, odd)
    assert out["tenant"] == odd and out["count"] == 1
    assert out["env"] not in blue_envs | green_envs


def test_concurrent_tenants_never_share_an_environment(lam, tenant_fn):
    from concurrent.futures import ThreadPoolExecutor
    tenants = [f"t{i % 3}" for i in range(9)]
    with ThreadPoolExecutor(4) as pool:
        outs = list(pool.map(lambda t: invoke(lam, tenant_fn, t), tenants))
    owner = {}
    for t, o in zip(tenants, outs):
        assert o["tenant"] == t
        assert owner.setdefault(o["env"], t) == t, f"environment {o['env']} served {owner[o['env']]} and {t}"


def test_node_context_tenant_id(lam):
    if shutil.which("node") is None:
        pytest.skip("no node on this machine")
    name = create_tenant_fn(lam, zip_bytes=lt.make_zip({"index.js": NODE_HANDLER}), Runtime="nodejs22.x",
                            Handler="index.handler")
    a1, b1, a2 = (invoke(lam, name, t) for t in ["blue", "green", "blue"])
    assert (a1["tenant"], b1["tenant"], a2["tenant"]) == ("blue", "green", "blue")
    assert a1["env"] == a2["env"] != b1["env"]
    assert a2["count"] == 2 and b1["count"] == 1
    plain = lt.unique("plain")
    lt.create_function(lam, plain, zip_bytes=lt.make_zip({"index.js": NODE_HANDLER}), Runtime="nodejs22.x",
                       Handler="index.handler")
    assert invoke(lam, plain)["tenant"] is None


def test_ruby_context_tenant_id(lam):
    if shutil.which("ruby") is None:
        pytest.skip("no ruby on this machine")
    name = create_tenant_fn(lam, zip_bytes=lt.make_zip({"handler.rb": RUBY_HANDLER}), Runtime="ruby3.3",
                            Handler="handler.handler")
    a1, b1, a2 = (invoke(lam, name, t) for t in ["blue", "green", "blue"])
    assert (a1["tenant"], b1["tenant"], a2["tenant"]) == ("blue", "green", "blue")
    assert a1["env"] == a2["env"] != b1["env"]


def test_java_context_tenant_id(lam, tmp_path):
    javac = shutil.which("javac")
    core = lt.REPO / "runtimes" / "java" / "lamina-java-core.jar"
    if javac is None or not core.is_file():
        pytest.skip("no javac, or lamina's Java interfaces jar is not built")
    src = tmp_path / "src" / "tenancy" / "Handler.java"
    src.parent.mkdir(parents=True)
    src.write_text(JAVA_HANDLER)
    out = tmp_path / "classes"
    subprocess.run([javac, "--release", "11", "-cp", str(core), "-d", str(out), str(src)], check=True,
                   timeout=120)
    code = lt.make_zip({"tenancy/Handler.class": (out / "tenancy" / "Handler.class").read_bytes()})
    name = create_tenant_fn(lam, zip_bytes=code, Runtime="java17", Handler="tenancy.Handler::handleRequest",
                            Timeout=30)
    assert invoke(lam, name, "blue") == "tenant=blue"


def test_invocations_need_the_tenant_id_exactly_when_the_function_is_isolated(lam, lam_nv, tenant_fn):
    with expect_error("InvalidParameterValueException", 400, message_contains="tenant"):
        lam.invoke(FunctionName=tenant_fn, Payload=b"{}")
    with expect_error("InvalidParameterValueException", 400, message_contains="tenant"):
        lam.invoke(FunctionName=tenant_fn, Payload=b"{}", InvocationType="Event")
    with expect_error("InvalidParameterValueException", 400, message_contains="tenant"):
        lam.invoke(FunctionName=tenant_fn, Payload=b"{}", InvocationType="DryRun")
    with expect_error("InvalidParameterValueException", 400, message_contains="tenant"):
        lam.invoke_with_response_stream(FunctionName=tenant_fn, Payload=b"{}")
    # the legacy InvokeAsync cannot carry a tenant id
    with expect_error("InvalidParameterValueException", 400, message_contains="tenant"):
        lam.invoke_async(FunctionName=tenant_fn, InvokeArgs=b"{}")
    plain = lt.unique("plain")
    lt.create_function(lam, plain)
    with expect_error("InvalidParameterValueException", 400, message_contains="tenant isolation"):
        lam.invoke(FunctionName=plain, Payload=b"{}", TenantId="blue")
    with expect_error("InvalidParameterValueException", 400, message_contains="tenant isolation"):
        lam.invoke_with_response_stream(FunctionName=plain, Payload=b"{}", TenantId="blue")
    pattern = r"[a-zA-Z0-9\._:\/=+\-@ ]+"
    with expect_error("ValidationException", 400, validation_message(
            f"Value 'bad#id' at 'tenantId' failed to satisfy constraint: "
            f"Member must satisfy regular expression pattern: {pattern}")):
        lam_nv.invoke(FunctionName=tenant_fn, Payload=b"{}", TenantId="bad#id")
    long_id = "x" * 257
    with expect_error("ValidationException", 400, validation_message(
            f"Value '{long_id}' at 'tenantId' failed to satisfy constraint: "
            "Member must have length less than or equal to 256")):
        lam_nv.invoke(FunctionName=tenant_fn, Payload=b"{}", TenantId=long_id)
    assert invoke(lam, tenant_fn, "x" * 256)["tenant"] == "x" * 256
    r = lam.invoke(FunctionName=tenant_fn, Payload=b"{}", InvocationType="DryRun", TenantId="blue")
    assert r["StatusCode"] == 204


def test_streaming_and_async_invocations_carry_the_tenant(server, lam, tenant_fn):
    resp = lam.invoke_with_response_stream(FunctionName=tenant_fn, Payload=b"{}", TenantId="streamer")
    payload = b"".join(e["PayloadChunk"]["Payload"] for e in resp["EventStream"] if "PayloadChunk" in e)
    assert json.loads(payload)["tenant"] == "streamer"
    r = lam.invoke(FunctionName=tenant_fn, Payload=b"{}", InvocationType="Event", TenantId="async-tenant")
    assert r["StatusCode"] == 202
    logs = server.client("logs")

    def seen():
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{tenant_fn}",
                                        filterPattern='"async-tenant"')["events"]
        return [e for e in events if "TENANT-SEEN" in e["message"]]
    got = lt.wait_for(seen, timeout=20)
    assert got, "the Event invocation ran with its tenant"
    assert json.loads(got[0]["message"].split("TENANT-SEEN ", 1)[1].strip())["tenant"] == "async-tenant"


LOGGING_PY = """import logging
logging.getLogger().setLevel(logging.INFO)

def handler(event, context):
    logging.info("from python")
    return {}
"""

LOGGING_NODE = """exports.handler = async () => { console.log('from node'); return {}; };
"""


def json_log(r) -> list:
    return [json.loads(line) for line in base64.b64decode(r["LogResult"]).decode().splitlines()
            if line.startswith("{")]


def test_json_logs_carry_the_tenant(lam):
    name = create_tenant_fn(lam, zip_bytes=lt.make_zip({"handler.py": LOGGING_PY}),
                            LoggingConfig={"LogFormat": "JSON"})
    records = json_log(lam.invoke(FunctionName=name, Payload=b"{}", TenantId="blue", LogType="Tail"))
    by_type = {rec.get("type"): rec for rec in records}
    assert by_type["platform.start"]["record"]["tenantId"] == "blue", records
    assert by_type["platform.report"]["record"]["tenantId"] == "blue", records
    app = [rec for rec in records if rec.get("message") == "from python"]
    assert app and app[0]["tenantId"] == "blue" and app[0]["requestId"], records
    if shutil.which("node") is None:
        return
    node = create_tenant_fn(lam, zip_bytes=lt.make_zip({"index.js": LOGGING_NODE}), Runtime="nodejs22.x",
                            Handler="index.handler", LoggingConfig={"LogFormat": "JSON"})
    records = json_log(lam.invoke(FunctionName=node, Payload=b"{}", TenantId="green", LogType="Tail"))
    app = [rec for rec in records if rec.get("message") == "from node"]
    assert app and app[0]["tenantId"] == "green", records
    assert list(app[0])[:4] == ["timestamp", "level", "requestId", "tenantId"], app[0]


def test_tenancy_cannot_change_after_creation(server, lam, tenant_fn):
    # not in UpdateFunctionConfiguration's model: sent raw, it is refused, not ignored
    status, headers, body = lt.http_request(
        f"{server.url}/2015-03-31/functions/{tenant_fn}/configuration", method="PUT",
        body=json.dumps({"TenancyConfig": TENANCY}).encode(),
        headers={"Content-Type": "application/json"})
    assert status == 400, body
    assert headers["x-amzn-errortype"].startswith("InvalidParameterValueException")
    assert b"TenancyConfig" in body
    plain = lt.unique("plain")
    lt.create_function(lam, plain)
    status, headers, body = lt.http_request(
        f"{server.url}/2015-03-31/functions/{plain}/configuration", method="PUT",
        body=json.dumps({"TenancyConfig": TENANCY}).encode(), headers={"Content-Type": "application/json"})
    assert status == 400, body
    lam.get_function_configuration(FunctionName=plain)
    assert "TenancyConfig" not in lt.raw_json(lam)
    # ordinary updates keep it
    lam.update_function_configuration(FunctionName=tenant_fn, Description="still isolated")
    lt.wait_updated(lam, tenant_fn)
    cfg = lam.get_function_configuration(FunctionName=tenant_fn)
    assert cfg["TenancyConfig"] == TENANCY and cfg["Description"] == "still isolated"


def test_features_aws_does_not_combine_with_tenant_isolation_are_refused(server, lam, lam_nv, tenant_fn):
    name = lt.unique("ten")
    with expect_error("InvalidParameterValueException", 400, message_contains="SnapStart"):
        lam.create_function(FunctionName=name, Runtime=lt.RUNTIME, Role=lt.ROLE_ARN, Handler="handler.handler",
                            Code={"ZipFile": py_zip()}, TenancyConfig=TENANCY,
                            SnapStart={"ApplyOn": "PublishedVersions"})
    with expect_error("ResourceNotFoundException", 404):
        lam.get_function(FunctionName=name)
    with expect_error("InvalidParameterValueException", 400, message_contains="SnapStart"):
        lam.update_function_configuration(FunctionName=tenant_fn, SnapStart={"ApplyOn": "PublishedVersions"})
    version = lam.publish_version(FunctionName=tenant_fn)["Version"]
    with expect_error("InvalidParameterValueException", 400, message_contains="Provisioned concurrency"):
        lam.put_provisioned_concurrency_config(FunctionName=tenant_fn, Qualifier=version,
                                               ProvisionedConcurrentExecutions=1)
    assert lam.list_provisioned_concurrency_configs(FunctionName=tenant_fn)["ProvisionedConcurrencyConfigs"] == []
    with expect_error("InvalidParameterValueException", 400, message_contains="Function URLs"):
        lam.create_function_url_config(FunctionName=tenant_fn, AuthType="NONE")
    assert lam.list_function_url_configs(FunctionName=tenant_fn)["FunctionUrlConfigs"] == []
    sqs = server.client("sqs")
    queue_url = sqs.create_queue(QueueName=lt.unique("tenq"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    with expect_error("InvalidParameterValueException", 400, message_contains="Event source mappings"):
        lam.create_event_source_mapping(FunctionName=tenant_fn, EventSourceArn=queue_arn)
    assert lam.list_event_source_mappings(FunctionName=tenant_fn)["EventSourceMappings"] == []
    # a mapping of another function cannot be moved onto the isolated one either
    plain = lt.unique("plain")
    lt.create_function(lam, plain)
    mapping = lam.create_event_source_mapping(FunctionName=plain, EventSourceArn=queue_arn, Enabled=False)
    try:
        with expect_error("InvalidParameterValueException", 400, message_contains="Event source mappings"):
            lam.update_event_source_mapping(UUID=mapping["UUID"], FunctionName=tenant_fn)
        assert lam.get_event_source_mapping(UUID=mapping["UUID"])["FunctionArn"] == lt.fn_arn(plain)
    finally:
        lam.delete_event_source_mapping(UUID=mapping["UUID"])


def test_aws_cli_creates_and_invokes_with_a_tenant(cli, tmp_path):
    zip_path = tmp_path / "fn.zip"
    zip_path.write_bytes(py_zip())
    name = lt.unique("tencli")
    created = cli.json("lambda", "create-function", "--function-name", name, "--runtime", lt.RUNTIME,
                       "--role", lt.ROLE_ARN, "--handler", "handler.handler", "--zip-file", f"fileb://{zip_path}",
                       "--tenancy-config", '{"TenantIsolationMode": "PER_TENANT"}')
    assert created["TenancyConfig"] == TENANCY
    out = tmp_path / "out.json"
    envs = {}
    for tenant in ["blue", "green", "blue"]:
        meta = cli.json("lambda", "invoke", "--function-name", name, "--tenant-id", tenant, str(out))
        assert meta["StatusCode"] == 200 and "FunctionError" not in meta
        body = json.loads(out.read_text())
        assert body["tenant"] == tenant
        envs.setdefault(tenant, set()).add(body["env"])
    assert len(envs["blue"]) == 1 and envs["blue"].isdisjoint(envs["green"])
    p = cli.run("lambda", "invoke", "--function-name", name, str(out), check=False)
    assert p.returncode != 0 and "InvalidParameterValueException" in p.stderr
    meta = cli.json("lambda", "invoke", "--function-name", name, "--tenant-id", "blue",
                    "--invocation-type", "Event", str(out))
    assert meta["StatusCode"] == 202


SAM_TEMPLATE = """Transform: AWS::Serverless-2016-10-31
Resources:
  Saas:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: {name}
      Runtime: python3.12
      Handler: index.handler
      InlineCode: |
        def handler(event, context):
            return {{"tenant": context.tenant_id}}
{tenancy}"""


def test_sam_template_creates_a_tenant_isolated_function_and_refuses_to_change_it(server, lam, tmp_path):
    name = lt.unique("tensam")
    stack = lt.unique("tenstack")
    template = tmp_path / "template.yaml"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAMINA_", "AWS_"))}
    env.update({"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": lt.REGION})

    def deploy():
        return subprocess.run([str(lt.lamina_bin()), "deploy", str(template), "--endpoint", server.url,
                               "--stack-name", stack], capture_output=True, text=True, timeout=120, env=env,
                              stdin=subprocess.DEVNULL)
    template.write_text(SAM_TEMPLATE.format(
        name=name, tenancy="      TenancyConfig:\n        TenantIsolationMode: PER_TENANT\n"))
    first = deploy()
    assert first.returncode == 0, first.stderr
    assert lam.get_function_configuration(FunctionName=name)["TenancyConfig"] == TENANCY
    assert invoke(lam, name, "blue") == {"tenant": "blue"}
    # CloudFormation would replace the function; lamina refuses the change instead
    template.write_text(SAM_TEMPLATE.format(name=name, tenancy=""))
    second = deploy()
    assert second.returncode != 0
    assert "TenancyConfig" in second.stderr, second.stderr
    assert lam.get_function_configuration(FunctionName=name)["TenancyConfig"] == TENANCY
    subprocess.run([str(lt.lamina_bin()), "delete", "--stack-name", stack, "--endpoint", server.url],
                   capture_output=True, text=True, timeout=120, env=env, stdin=subprocess.DEVNULL)
