"""Reserved concurrency, the account's pool, the scaling rate and throttling,
driven with boto3 and the aws CLI against live servers (small limits through
lamina serve's flags so that every rule can be reached with a few invokes)."""
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

import lamina_testlib as lt
from lamina_testlib import expect_error

ROLE = "arn:aws:iam::123456789012:role/lambda-role"

# The tutorial's concurrency_test.py
SLEEPER = """
import json
import time

def lambda_handler(event, context):
    duration = event.get('duration', 10)
    print(f"Starting execution, will run for {duration} seconds")
    time.sleep(duration)
    print("Execution complete")
    return {'statusCode': 200,
            'body': json.dumps({'message': f'Completed after {duration} seconds', 'requestId': context.aws_request_id})}
"""


def create(lam, name=None, **kw):
    name = name or lt.unique("conc")
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="concurrency_test.lambda_handler",
                        Timeout=30, Code={"ZipFile": lt.make_zip({"concurrency_test.py": SLEEPER})}, **kw)
    return name


def invoke_outcome(lam, name, duration, **kw):
    """('ok', version) or ('throttled', Reason)."""
    try:
        r = lam.invoke(FunctionName=name, Payload=json.dumps({"duration": duration}).encode(), **kw)
        r["Payload"].read()
        assert "FunctionError" not in r
        return ("ok", r["ExecutedVersion"])
    except ClientError as e:
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 429
        assert e.response["Error"]["Code"] == "TooManyRequestsException"
        assert e.response["Error"]["Message"] == "Rate Exceeded."
        return ("throttled", e.response["Reason"])


def parallel(lam, name, n, duration, **kw):
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda _: invoke_outcome(lam, name, duration, **kw), range(n)))


@pytest.fixture
def small(tmp_path):
    """A server whose account may run 5 executions, 1 of them kept unreserved."""
    srv = lt.LaminaServer(data_dir=tmp_path / "data", log_path=tmp_path / "server.log",
                          extra_args=["--account-concurrency", "5", "--min-unreserved", "1"])
    srv.start()
    yield srv
    srv.stop()


def test_function_concurrency_api(server):
    lam = server.client("lambda")
    name = create(lam)
    before = lam.get_account_settings()["AccountLimit"]
    assert lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=3)["ReservedConcurrentExecutions"] == 3
    assert lam.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 3
    assert lam.get_function(FunctionName=name)["Concurrency"] == {"ReservedConcurrentExecutions": 3}
    after = lam.get_account_settings()["AccountLimit"]
    assert after["ConcurrentExecutions"] == 1000
    assert after["UnreservedConcurrentExecutions"] == before["UnreservedConcurrentExecutions"] - 3
    assert lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)["ReservedConcurrentExecutions"] == 0
    lam.delete_function_concurrency(FunctionName=name)
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=name)
    assert "Concurrency" not in lam.get_function(FunctionName=name)
    assert lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == before["UnreservedConcurrentExecutions"]

    with expect_error("InvalidParameterValueException", 400,
                      "This operation is permitted on Lambda functions only. Aliases and versions do not support "
                      "this operation. Please specify either a function name or an unqualified function ARN."):
        lam.put_function_concurrency(FunctionName=f"arn:aws:lambda:us-east-1:123456789012:function:{name}:1",
                                     ReservedConcurrentExecutions=1)
    missing = "arn:aws:lambda:us-east-1:123456789012:function:doesnotexist:$LATEST"
    with expect_error("ResourceNotFoundException", 404, f"Function not found: {missing}"):
        lam.put_function_concurrency(FunctionName="doesnotexist", ReservedConcurrentExecutions=1)
    with expect_error("ResourceNotFoundException", 404, f"Function not found: {missing}"):  # before the value
        server.client("lambda", validate=False).put_function_concurrency(FunctionName="doesnotexist",
                                                                         ReservedConcurrentExecutions=-1)
    with expect_error("ValidationException", 400, message_contains="greater than or equal to 0"):
        server.client("lambda", validate=False).put_function_concurrency(FunctionName=name,
                                                                         ReservedConcurrentExecutions=-1)
    for too_many in (901, 5000):
        with expect_error("InvalidParameterValueException", 400,
                          "Specified ReservedConcurrentExecutions for function decreases account's "
                          "UnreservedConcurrentExecution below its minimum value of [100]."):
            lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=too_many)
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=name)  # unchanged


def test_tutorial_concurrency_exercise_with_the_aws_cli(cli, lam, tmp_path):
    """Reserved concurrency 3, ten parallel `aws lambda invoke`s: three run,
    seven get TooManyRequestsException; after delete-function-concurrency all run."""
    (tmp_path / "concurrency_test.py").write_text(SLEEPER)
    zip_path = tmp_path / "concurrency-test.zip"
    zip_path.write_bytes(lt.make_zip({"concurrency_test.py": SLEEPER}))
    name = lt.unique("ConcurrencyTest")
    cli.json("lambda", "create-function", "--function-name", name, "--runtime", "python3.12",
             "--role", ROLE, "--handler", "concurrency_test.lambda_handler", "--timeout", "30",
             "--zip-file", f"fileb://{zip_path}")
    out = cli.json("lambda", "put-function-concurrency", "--function-name", name,
                   "--reserved-concurrent-executions", "3")
    assert out == {"ReservedConcurrentExecutions": 3}

    def one(i):
        p = cli.run("lambda", "invoke", "--function-name", name, "--invocation-type", "RequestResponse",
                    "--payload", '{"duration": 10}',
                    str(tmp_path / f"response-{i}.json"), check=False, timeout=60)
        return p

    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(one, range(10)))
    ok = [r for r in results if r.returncode == 0]
    throttled = [r for r in results if r.returncode != 0]
    assert len(ok) == 3, [r.stderr for r in results]
    assert len(throttled) == 7
    for r in throttled:
        assert "TooManyRequestsException" in r.stderr and "Rate Exceeded." in r.stderr
    for r in ok:
        assert json.loads(r.stdout)["StatusCode"] == 200
    bodies = [json.loads((tmp_path / f"response-{i}.json").read_text()) for i in range(10)
              if (tmp_path / f"response-{i}.json").exists()]
    assert sum(1 for b in bodies if b.get("statusCode") == 200) == 3

    # Step 4: the exercise's two CloudWatch calls
    from datetime import datetime, timedelta, timezone
    now = datetime.now(timezone.utc)
    window = ["--start-time", (now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S"),
              "--end-time", (now + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S"), "--period", "60"]
    conc = cli.json("cloudwatch", "get-metric-statistics", "--namespace", "AWS/Lambda", "--metric-name",
                    "ConcurrentExecutions", "--dimensions", f"Name=FunctionName,Value={name}", *window,
                    "--statistics", "Maximum")
    assert max(p["Maximum"] for p in conc["Datapoints"]) == 3
    thr = cli.json("cloudwatch", "get-metric-statistics", "--namespace", "AWS/Lambda", "--metric-name", "Throttles",
                   "--dimensions", f"Name=FunctionName,Value={name}", *window, "--statistics", "Sum")
    assert sum(p["Sum"] for p in thr["Datapoints"]) == 7

    cli.run("lambda", "delete-function-concurrency", "--function-name", name)
    with ThreadPoolExecutor(5) as pool:
        again = list(pool.map(lambda i: cli.run("lambda", "invoke", "--function-name", name,
                                                "--payload", '{"duration": 1}', str(tmp_path / f"again-{i}.json"),
                                                check=False, timeout=60), range(5)))
    assert all(r.returncode == 0 for r in again), [r.stderr for r in again]


def test_zero_reserved_concurrency_throttles_every_invocation(server):
    lam = server.client("lambda")
    name = create(lam)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    assert invoke_outcome(lam, name, 0) == ("throttled", "ReservedFunctionConcurrentInvocationLimitExceeded")
    # an Event invocation is never refused for capacity
    assert lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")["StatusCode"] == 202
    lam.delete_function_concurrency(FunctionName=name)
    assert invoke_outcome(lam, name, 0)[0] == "ok"


def test_the_account_pool_is_shared_by_unreserved_functions(small):
    lam = small.client("lambda")
    settings = lam.get_account_settings()["AccountLimit"]
    assert settings["ConcurrentExecutions"] == 5 and settings["UnreservedConcurrentExecutions"] == 5
    reserved, shared_a, shared_b = create(lam), create(lam), create(lam)
    lam.put_function_concurrency(FunctionName=reserved, ReservedConcurrentExecutions=2)
    assert lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 3
    with expect_error("InvalidParameterValueException", 400,
                      "Specified ReservedConcurrentExecutions for function decreases account's "
                      "UnreservedConcurrentExecution below its minimum value of [1]."):
        lam.put_function_concurrency(FunctionName=shared_a, ReservedConcurrentExecutions=3)
    # three executions fill the unreserved pool, whichever functions they belong to
    with ThreadPoolExecutor(6) as pool:
        held = [pool.submit(invoke_outcome, lam, shared_a if i % 2 else shared_b, 2) for i in range(3)]
        time.sleep(0.8)
        assert invoke_outcome(lam, shared_a, 0) == ("throttled", "ConcurrentInvocationLimitExceeded")
        # the reserved function still has its own two
        mine = [pool.submit(invoke_outcome, lam, reserved, 1) for _ in range(2)]
        assert [f.result()[0] for f in mine] == ["ok", "ok"]
        assert [f.result()[0] for f in held] == ["ok", "ok", "ok"]
    assert invoke_outcome(lam, shared_a, 0)[0] == "ok"  # capacity came back


def test_reservations_survive_a_restart(tmp_path):
    data = tmp_path / "data"
    args = ["--account-concurrency", "50", "--min-unreserved", "10"]
    srv = lt.LaminaServer(data_dir=data, log_path=tmp_path / "a.log", extra_args=args).start()
    try:
        lam = srv.client("lambda")
        name = create(lam)
        lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=40)
    finally:
        srv.stop()
    srv = lt.LaminaServer(data_dir=data, log_path=tmp_path / "b.log", extra_args=args).start()
    try:
        lam = srv.client("lambda")
        assert lam.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 40
        assert lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 10
        other = create(lam)
        with expect_error("InvalidParameterValueException", 400, message_contains="minimum value of [10]"):
            lam.put_function_concurrency(FunctionName=other, ReservedConcurrentExecutions=1)
        lam.delete_function(FunctionName=name)  # a deleted function's reservation goes back to the pool
        assert lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 50
    finally:
        srv.stop()


def test_per_function_scaling_rate_limits_new_environments(tmp_path):
    srv = lt.LaminaServer(data_dir=tmp_path / "data", log_path=tmp_path / "server.log",
                          extra_args=["--scaling-rate", "2"]).start()
    try:
        lam = srv.client("lambda")
        name, other = create(lam), create(lam)
        outcomes = parallel(lam, name, 3, 2)
        assert sorted(outcomes) == [("ok", "$LATEST"), ("ok", "$LATEST"),
                                    ("throttled", "FunctionInvocationRateLimitExceeded")]
        assert invoke_outcome(lam, other, 0)[0] == "ok"  # each function scales on its own
        assert invoke_outcome(lam, name, 0)[0] == "ok"   # a warm environment needs no new one
        # the bucket refills in real time: 2 per 10 s, so one new environment after 5 s
        time.sleep(5.2)
        outcomes = parallel(lam, name, 4, 1.5)  # two warm ones, one new, one refused
        assert sorted(o[0] for o in outcomes) == ["ok", "ok", "ok", "throttled"], outcomes
    finally:
        srv.stop()


def test_regional_burst_scaling(tmp_path):
    srv = lt.LaminaServer(data_dir=tmp_path / "data", log_path=tmp_path / "server.log",
                          extra_args=["--scaling", "regional-burst", "--burst", "2", "--burst-rate", "1"]).start()
    try:
        lam = srv.client("lambda")
        a, b, c = create(lam), create(lam), create(lam)
        assert invoke_outcome(lam, a, 0)[0] == "ok"
        assert invoke_outcome(lam, b, 0)[0] == "ok"
        # the burst is the region's, not each function's
        assert invoke_outcome(lam, c, 0) == ("throttled", "FunctionInvocationRateLimitExceeded")
        assert invoke_outcome(lam, a, 0)[0] == "ok"  # warm
    finally:
        srv.stop()


def test_bad_capacity_flags_are_refused(tmp_path):
    import subprocess
    p = subprocess.run([str(lt.lamina_bin()), "serve", "--port", "0", "--ephemeral", "--account-concurrency", "10",
                        "--min-unreserved", "20"], capture_output=True, text=True, timeout=20)
    assert p.returncode == 2 and "--min-unreserved" in p.stderr
    p = subprocess.run([str(lt.lamina_bin()), "serve", "--port", "0", "--ephemeral", "--scaling", "fast"],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode != 0 and "--scaling" in p.stderr
