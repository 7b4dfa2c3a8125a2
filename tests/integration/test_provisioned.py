"""Provisioned concurrency: configs on versions and aliases with AWS's checks,
environments really initialised ahead of any invoke, used first, spilling
over to on-demand, replaced, moved with their alias and restored after a
restart. Driven with boto3 against live servers."""
import base64
import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
from botocore.exceptions import ClientError

import lamina_testlib as lt
from lamina_testlib import expect_error

ROLE = "arn:aws:iam::123456789012:role/lambda-role"
ARN = "arn:aws:lambda:us-east-1:123456789012:function:"

HANDLER = """
import os, time, uuid
ENV_ID = uuid.uuid4().hex
INIT_AT = time.time()
VERSION_TAG = %r
def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {"env": ENV_ID, "init": os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"], "init_at": INIT_AT,
            "tag": VERSION_TAG, "version": context.function_version}
"""


def create(lam, tag="v1", source=None, **kw):
    name = lt.unique("pc")
    kw.setdefault("Timeout", 10)
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="handler.handler",
                        Code={"ZipFile": lt.make_zip({"handler.py": source or HANDLER % tag})}, **kw)
    return name


def wait_status(lam, name, qualifier, want="READY", timeout=30):
    deadline = time.time() + timeout
    while True:
        got = lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier=qualifier)
        if got["Status"] == want or time.time() > deadline:
            return got
        time.sleep(0.1)


def invoke(lam, name, qualifier=None, sleep=0):
    kw = {"Qualifier": qualifier} if qualifier else {}
    r = lam.invoke(FunctionName=name, Payload=json.dumps({"sleep": sleep}).encode(), LogType="Tail", **kw)
    out = json.loads(r["Payload"].read())
    assert "FunctionError" not in r, out
    out["log"] = base64.b64decode(r["LogResult"]).decode()
    return out


def test_provisioned_environments_are_initialised_ahead_and_used_first(server):
    lam = server.client("lambda")
    name = create(lam)
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    put_at = time.time()
    put = lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="live", ProvisionedConcurrentExecutions=2)
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert put["RequestedProvisionedConcurrentExecutions"] == 2
    assert put["AllocatedProvisionedConcurrentExecutions"] == 0 and put["AvailableProvisionedConcurrentExecutions"] == 0
    assert put["Status"] == "IN_PROGRESS" and put["LastModified"].endswith("+0000")
    ready = wait_status(lam, name, "live")
    assert ready["Status"] == "READY", ready
    assert ready["AllocatedProvisionedConcurrentExecutions"] == 2 and ready["AvailableProvisionedConcurrentExecutions"] == 2
    time.sleep(0.3)
    # two at once: both served by the pre-initialised environments, no cold start
    with ThreadPoolExecutor(2) as pool:
        outs = list(pool.map(lambda _: invoke(lam, name, "live", 0.5), range(2)))
    assert {o["init"] for o in outs} == {"provisioned-concurrency"}
    assert len({o["env"] for o in outs}) == 2
    assert all(o["init_at"] < put_at + 5 and "Init Duration" not in o["log"] for o in outs)
    # a third concurrent one spills over to an on-demand environment
    with ThreadPoolExecutor(3) as pool:
        outs = list(pool.map(lambda _: invoke(lam, name, "live", 1.0), range(3)))
    inits = sorted(o["init"] for o in outs)
    assert inits == ["on-demand", "provisioned-concurrency", "provisioned-concurrency"], inits
    spilled = next(o for o in outs if o["init"] == "on-demand")
    assert "Init Duration" in spilled["log"]
    # the version itself is not provisioned: invoking it directly is on-demand
    assert invoke(lam, name, "1")["init"] == "on-demand"
    # what CloudWatch shows of it, by function and by the alias's Resource
    cw = server.client("cloudwatch")
    start, end = datetime.now(timezone.utc) - timedelta(minutes=5), datetime.now(timezone.utc) + timedelta(minutes=1)

    def metric(metric_name, dims, stat="Sum"):
        pts = cw.get_metric_statistics(Namespace="AWS/Lambda", MetricName=metric_name, Dimensions=dims,
                                       StartTime=start, EndTime=end, Period=60, Statistics=[stat])["Datapoints"]
        return sum(p[stat] for p in pts) if stat == "Sum" else max(p[stat] for p in pts)

    fn = {"Name": "FunctionName", "Value": name}
    live = [fn, {"Name": "Resource", "Value": f"{name}:live"}]
    assert metric("ProvisionedConcurrencyInvocations", live) == 4
    assert metric("ProvisionedConcurrencySpilloverInvocations", live) == 1
    assert metric("ProvisionedConcurrencyInvocations", [fn]) == 4
    assert metric("ProvisionedConcurrentExecutions", live, "Maximum") == 2
    assert metric("ProvisionedConcurrencyUtilization", live, "Maximum") == 1.0
    assert metric("Invocations", [fn]) == 6
    listed = lam.list_provisioned_concurrency_configs(FunctionName=name)["ProvisionedConcurrencyConfigs"]
    assert [c["FunctionArn"] for c in listed] == [ARN + name + ":live"]
    assert listed[0]["Status"] == "READY"
    # deleting the config tears the environments down; invokes are on-demand again
    lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="live")
    assert lam.list_provisioned_concurrency_configs(FunctionName=name)["ProvisionedConcurrencyConfigs"] == []
    with expect_error("ProvisionedConcurrencyConfigNotFoundException", 404,
                      "No Provisioned Concurrency Config found for this function"):
        lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier="live")


def test_provisioned_concurrency_follows_its_alias(server):
    lam = server.client("lambda")
    name = create(lam, "one")
    lam.publish_version(FunctionName=name)
    lam.update_function_code(FunctionName=name, ZipFile=lt.make_zip({"handler.py": HANDLER % "two"}))
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="prod", FunctionVersion="1")
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="prod", ProvisionedConcurrentExecutions=1)
    assert wait_status(lam, name, "prod")["Status"] == "READY"
    out = invoke(lam, name, "prod")
    assert (out["tag"], out["init"]) == ("one", "provisioned-concurrency")
    lam.update_alias(FunctionName=name, Name="prod", FunctionVersion="2")
    assert wait_status(lam, name, "prod")["Status"] == "READY"
    time.sleep(0.2)
    out = invoke(lam, name, "prod")
    assert (out["tag"], out["version"], out["init"]) == ("two", "2", "provisioned-concurrency")
    lam.delete_alias(FunctionName=name, Name="prod")  # the config goes with the alias
    assert lam.list_provisioned_concurrency_configs(FunctionName=name)["ProvisionedConcurrencyConfigs"] == []


def test_provisioned_concurrency_errors(server):
    lam = server.client("lambda")
    name = create(lam)
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="a", FunctionVersion="1")
    with expect_error("InvalidParameterValueException", 400,
                      "Provisioned Concurrency Configs cannot be applied to unpublished function versions."):
        lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="$LATEST", ProvisionedConcurrentExecutions=1)
    for call in (lam.get_provisioned_concurrency_config, lam.delete_provisioned_concurrency_config):
        with expect_error("InvalidParameterValueException", 400,
                          "The function resource provided must be an alias or a published version."):
            call(FunctionName=name, Qualifier="$LATEST")
    with expect_error("ResourceNotFoundException", 404, f"Cannot find alias arn: {ARN}{name}:noalias"):
        lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="noalias", ProvisionedConcurrentExecutions=1)
    with expect_error("ResourceNotFoundException", 404, f"Function not found: {ARN}{name}:10"):
        lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier="10")
    with expect_error("ResourceNotFoundException", 404, f"Cannot find alias arn: {ARN}doesnotexist:noalias"):
        lam.get_provisioned_concurrency_config(FunctionName="doesnotexist", Qualifier="noalias")
    with expect_error("ResourceNotFoundException", 404, f"Function not found: {ARN}doesnotexist:1"):
        lam.delete_provisioned_concurrency_config(FunctionName="doesnotexist", Qualifier="1")
    with expect_error("ProvisionedConcurrencyConfigNotFoundException", 404):
        lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier="1")
    lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="1")  # nothing there: 204
    with expect_error("ValidationException", 400,
                      "1 validation error detected: Value '0' at 'provisionedConcurrentExecutions' failed to "
                      "satisfy constraint: Member must have value greater than or equal to 1"):
        server.client("lambda", validate=False).put_provisioned_concurrency_config(
            FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=0)
    # one config per version, directly or through one alias
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="a", ProvisionedConcurrentExecutions=1)
    with expect_error("ResourceConflictException", 409, "Version is pointed by a Provisioned Concurrency alias"):
        lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=1)
    lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="a")
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=1)
    with expect_error("ResourceConflictException", 409,
                      "Alias can't be used for Provisioned Concurrency configuration on an already Provisioned version"):
        lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="a", ProvisionedConcurrentExecutions=1)
    lam.delete_function(FunctionName=name)


def test_reserved_and_provisioned_concurrency_together(server):
    lam = server.client("lambda")
    name = create(lam)
    lam.publish_version(FunctionName=name)
    lam.publish_version(FunctionName=name, Description="2")  # same code: still version 1
    lam.update_function_configuration(FunctionName=name, Description="changed")
    lam.publish_version(FunctionName=name)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=2)
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=2)
    with expect_error("InvalidParameterValueException", 400,
                      "Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution "
                      "for function"):
        lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="2", ProvisionedConcurrentExecutions=1)
    with expect_error("InvalidParameterValueException", 400,
                      " ReservedConcurrentExecutions  1 should not be lower than function's total provisioned "
                      "concurrency [2]."):
        lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    assert wait_status(lam, name, "1")["Status"] == "READY"
    time.sleep(0.2)
    # the reservation is all provisioned: $LATEST cannot run
    with expect_error("TooManyRequestsException", 429):
        lam.invoke(FunctionName=name, Payload=b"{}")
    assert invoke(lam, name, "1")["init"] == "provisioned-concurrency"
    lam.delete_function(FunctionName=name)


@pytest.mark.timeout_s(90)
def test_an_init_past_its_limit_marks_the_config_failed(tmp_path):
    """Provisioned environments initialise with their own limit: --provisioned-init-timeout
    (AWS: 130 s) or the function's Timeout if longer. An init that hangs past it is stopped
    and the config goes FAILED, instead of staying IN_PROGRESS for ever."""
    srv = lt.LaminaServer(extra_args=["--provisioned-init-timeout", "2"], log_path=tmp_path / "server.log").start()
    try:
        lam = srv.client("lambda")
        slow = "import time\ntime.sleep(%s)\ndef handler(event, context):\n    return 'ok'\n"
        hung = create(lam, source=slow % 600, Timeout=3)  # limit: max(2, 3) = 3 s
        lam.publish_version(FunctionName=hung)
        put_at = time.monotonic()
        lam.put_provisioned_concurrency_config(FunctionName=hung, Qualifier="1", ProvisionedConcurrentExecutions=1)
        got = wait_status(lam, hung, "1", want="FAILED")
        failed_after = time.monotonic() - put_at
        assert got["Status"] == "FAILED", got
        assert got["StatusReason"] == "FUNCTION_ERROR_INIT_FAILURE", got
        assert got["AllocatedProvisionedConcurrentExecutions"] == 0, got
        assert failed_after >= 3 * 0.9, failed_after  # the function's Timeout (3 s), not the flag's 2 s
        assert f"provisioned.init_timeout function={hung} qualifier=1" in srv.log_tail(100000)

        # an init longer than the flag's limit but within the function's Timeout completes
        patient = create(lam, source=slow % 4 + "import os\nassert os.environ['AWS_LAMBDA_INITIALIZATION_TYPE']"
                                                 " == 'provisioned-concurrency'\n", Timeout=8)
        lam.publish_version(FunctionName=patient)
        lam.put_provisioned_concurrency_config(FunctionName=patient, Qualifier="1", ProvisionedConcurrentExecutions=1)
        got = wait_status(lam, patient, "1")
        assert got["Status"] == "READY", got
        r = lam.invoke(FunctionName=patient, Qualifier="1", Payload=b"{}", LogType="Tail")
        assert json.loads(r["Payload"].read()) == "ok" and "FunctionError" not in r
        assert "Init Duration" not in base64.b64decode(r["LogResult"]).decode()
    finally:
        srv.stop()


def test_init_failure_marks_the_config_failed(server):
    lam = server.client("lambda")
    name = create(lam, source="raise RuntimeError('broken at init')\ndef handler(e, c):\n    return 1\n")
    lam.publish_version(FunctionName=name)
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=1)
    got = wait_status(lam, name, "1", want="FAILED")
    assert got["Status"] == "FAILED", got
    assert got["StatusReason"] == "FUNCTION_ERROR_INIT_FAILURE"
    assert got["AllocatedProvisionedConcurrentExecutions"] == 0


def test_provisioned_concurrency_counts_against_the_account_pool(tmp_path):
    srv = lt.LaminaServer(data_dir=tmp_path / "data", log_path=tmp_path / "server.log",
                          extra_args=["--account-concurrency", "5", "--min-unreserved", "1"]).start()
    try:
        lam = srv.client("lambda")
        name = create(lam)
        lam.publish_version(FunctionName=name)
        with expect_error("InvalidParameterValueException", 400,
                          "Specified ConcurrentExecutions for function is greater than account's unreserved "
                          "concurrency [5]."):
            lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=6)
        with expect_error("InvalidParameterValueException", 400,
                          "Specified ConcurrentExecutions for function decreases account's "
                          "UnreservedConcurrentExecution below its minimum value of [1]."):
            lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=5)
        lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=2)
        assert lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 3
    finally:
        srv.stop()


def test_provisioned_concurrency_is_restored_after_a_restart(tmp_path):
    data = tmp_path / "data"
    srv = lt.LaminaServer(data_dir=data, log_path=tmp_path / "a.log").start()
    try:
        lam = srv.client("lambda")
        name = create(lam)
        lam.publish_version(FunctionName=name)
        lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=1)
        assert wait_status(lam, name, "1")["Status"] == "READY"
    finally:
        srv.stop()
    srv = lt.LaminaServer(data_dir=data, log_path=tmp_path / "b.log").start()
    try:
        lam = srv.client("lambda")
        got = wait_status(lam, name, "1")
        assert got["Status"] == "READY" and got["AllocatedProvisionedConcurrentExecutions"] == 1
        time.sleep(0.2)
        out = invoke(lam, name, "1")
        assert out["init"] == "provisioned-concurrency" and "Init Duration" not in out["log"]
    finally:
        srv.stop()


def test_changing_the_config_lets_invocations_in_flight_finish(server):
    lam = server.client("lambda")
    name = create(lam, "one")
    lam.publish_version(FunctionName=name)
    lam.update_function_code(FunctionName=name, ZipFile=lt.make_zip({"handler.py": HANDLER % "two"}))
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="live", ProvisionedConcurrentExecutions=1)
    assert wait_status(lam, name, "live")["Status"] == "READY"
    time.sleep(0.2)
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(invoke, lam, name, "live", 1.5)
        time.sleep(0.5)
        lam.update_alias(FunctionName=name, Name="live", FunctionVersion="2")  # the config moves to version 2
        out = running.result()
    assert (out["tag"], out["init"]) == ("one", "provisioned-concurrency")  # finished, not killed
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(invoke, lam, name, "live", 1.5)
        time.sleep(0.5)
        lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="live")
        out = running.result()
    assert out["tag"] == "two"
