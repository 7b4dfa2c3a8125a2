"""Event invocations: stored before the 202, retried on function errors
(MaximumRetryAttempts, delays shortened with --async-retry-delay), waiting
out throttles, delivered to Lambda destinations as AWS's invocation record,
and kept across a restart. Driven with boto3; what functions received is read
from their log streams on disk."""
import json
import time
from datetime import datetime, timedelta, timezone

import pytest

import lamina_testlib as lt
from lamina_testlib import log_lines, wait_for
from lamina_testlib import expect_error

ROLE = "arn:aws:iam::123456789012:role/lambda-role"
ARN = "arn:aws:lambda:us-east-1:123456789012:function:"

RECORDER = """
import json
def handler(event, context):
    print("RECEIVED " + json.dumps(event))
    return {"ok": True}
"""

FLAKY = """
import json
def handler(event, context):
    print("ATTEMPT " + json.dumps(event))
    if event.get("fail"):
        raise ValueError("failing on purpose")
    return {"echo": event}
"""


def create(lam, source, **kw):
    name = lt.unique("async")
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="handler.handler", Timeout=10,
                        Code={"ZipFile": lt.make_zip({"handler.py": source})}, **kw)
    return name


@pytest.fixture
def fast(tmp_path):
    srv = lt.LaminaServer(data_dir=tmp_path / "data", log_path=tmp_path / "server.log",
                          extra_args=["--async-retry-delay", "0.5"])
    srv.start()
    srv.data = tmp_path / "data"
    yield srv
    srv.stop()


def test_failed_event_is_retried_then_sent_to_the_on_failure_destination(fast):
    lam = fast.client("lambda")
    failures, flaky = create(lam, RECORDER), create(lam, FLAKY)
    lam.put_function_event_invoke_config(FunctionName=flaky, MaximumRetryAttempts=1,
                                         DestinationConfig={"OnFailure": {"Destination": ARN + failures}})
    r = lam.invoke(FunctionName=flaky, InvocationType="Event", Payload=b'{"fail": true, "n": 1}')
    assert r["StatusCode"] == 202
    request_id = r["ResponseMetadata"]["RequestId"]
    records = wait_for(lambda: log_lines(fast.data, failures, "RECEIVED "))
    assert len(records) == 1, records
    rec = records[0]
    assert rec["version"] == "1.0" and rec["timestamp"].endswith("Z")
    assert rec["requestContext"] == {"requestId": request_id, "functionArn": ARN + flaky + ":$LATEST",
                                     "condition": "RetriesExhausted", "approximateInvokeCount": 2}
    assert rec["requestPayload"] == {"fail": True, "n": 1}
    assert rec["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert rec["responsePayload"]["errorType"] == "ValueError"
    assert len(log_lines(fast.data, flaky, "ATTEMPT ")) == 2  # the first try and one retry


def test_default_retries_are_two(fast):
    lam = fast.client("lambda")
    flaky = create(lam, FLAKY)
    lam.invoke(FunctionName=flaky, InvocationType="Event", Payload=b'{"fail": true}')
    attempts = wait_for(lambda: len(log_lines(fast.data, flaky, "ATTEMPT ")) >= 3 and
                        log_lines(fast.data, flaky, "ATTEMPT "))
    assert len(attempts) == 3
    time.sleep(1.5)
    assert len(log_lines(fast.data, flaky, "ATTEMPT ")) == 3  # and no more
    # with no OnFailure destination it is dropped, and counted as such
    cw = fast.client("cloudwatch")
    now = datetime.now(timezone.utc)

    def total(metric):
        pts = cw.get_metric_statistics(Namespace="AWS/Lambda", MetricName=metric,
                                       Dimensions=[{"Name": "FunctionName", "Value": flaky}],
                                       StartTime=now - timedelta(minutes=5), EndTime=now + timedelta(minutes=1),
                                       Period=60, Statistics=["Sum"])["Datapoints"]
        return sum(p["Sum"] for p in pts)

    assert total("AsyncEventsReceived") == 1
    assert total("AsyncEventsDropped") == 1
    assert total("Invocations") == 3 and total("Errors") == 3


def test_success_goes_to_the_on_success_destination_of_the_alias(fast):
    lam = fast.client("lambda")
    successes, flaky = create(lam, RECORDER), create(lam, FLAKY)
    lam.publish_version(FunctionName=flaky)
    lam.create_alias(FunctionName=flaky, Name="live", FunctionVersion="1")
    lam.put_function_event_invoke_config(FunctionName=flaky, Qualifier="live",
                                         DestinationConfig={"OnSuccess": {"Destination": ARN + successes}})
    r = lam.invoke(FunctionName=flaky, Qualifier="live", InvocationType="Event", Payload=b'{"n": 7}')
    rec = wait_for(lambda: log_lines(fast.data, successes, "RECEIVED "))[0]
    assert rec["requestContext"]["condition"] == "Success"
    assert rec["requestContext"]["functionArn"] == ARN + flaky + ":live"
    assert rec["requestContext"]["requestId"] == r["ResponseMetadata"]["RequestId"]
    assert rec["requestContext"]["approximateInvokeCount"] == 1
    assert rec["responseContext"] == {"statusCode": 200, "executedVersion": "1"}
    assert rec["responsePayload"] == {"echo": {"n": 7}}


def test_zero_reserved_concurrency_sends_events_to_the_failure_destination_unrun(fast):
    lam = fast.client("lambda")
    failures, fn = create(lam, RECORDER), create(lam, FLAKY)
    lam.put_function_concurrency(FunctionName=fn, ReservedConcurrentExecutions=0)
    lam.put_function_event_invoke_config(FunctionName=fn, DestinationConfig={"OnFailure": {"Destination": ARN + failures}})
    lam.invoke(FunctionName=fn, InvocationType="Event", Payload=b'{"n": 1}')
    rec = wait_for(lambda: log_lines(fast.data, failures, "RECEIVED "))[0]
    assert rec["requestContext"]["condition"] == "ZeroReservedConcurrency"
    assert rec["requestContext"]["approximateInvokeCount"] == 0
    assert rec["requestPayload"] == {"n": 1} and "responseContext" not in rec
    assert log_lines(fast.data, fn, "ATTEMPT ") == []


def test_throttled_events_wait_for_capacity(fast):
    lam = fast.client("lambda")
    src = "import time, json\ndef handler(e, c):\n    print('RAN ' + json.dumps(e))\n    time.sleep(1)\n    return 1\n"
    fn = create(lam, src)
    lam.put_function_concurrency(FunctionName=fn, ReservedConcurrentExecutions=1)
    for n in range(3):
        assert lam.invoke(FunctionName=fn, InvocationType="Event", Payload=json.dumps({"n": n}).encode())["StatusCode"] == 202
    ran = wait_for(lambda: len(log_lines(fast.data, fn, "RAN ")) == 3 and log_lines(fast.data, fn, "RAN "), timeout=40)
    assert sorted(e["n"] for e in ran) == [0, 1, 2]


def test_queued_events_survive_a_restart(tmp_path):
    data = tmp_path / "data"
    srv = lt.LaminaServer(data_dir=data, log_path=tmp_path / "a.log").start()
    try:
        lam = srv.client("lambda")
        src = ("import json, time\ndef handler(e, c):\n    print('RAN ' + json.dumps(e))\n"
               "    time.sleep(e.get('sleep', 0))\n    return 1\n")
        fn = create(lam, src)
        lam.put_function_concurrency(FunctionName=fn, ReservedConcurrentExecutions=1)
        # the first event holds the function's only slot; the second waits in the queue
        lam.invoke(FunctionName=fn, InvocationType="Event", Payload=b'{"sleep": 3}')
        time.sleep(1.0)  # running (its log is written when it ends)
        lam.invoke(FunctionName=fn, InvocationType="Event", Payload=b'{"kept": true}')
        time.sleep(0.3)
        assert log_lines(data, fn, "RAN ") == []  # neither has finished
    finally:
        srv.kill9()  # SIGKILL: nothing is flushed at exit
    srv = lt.LaminaServer(data_dir=data, log_path=tmp_path / "b.log").start()
    try:
        ran = wait_for(lambda: {"kept": True} in log_lines(data, fn, "RAN ") and log_lines(data, fn, "RAN "))
        assert ran, log_lines(data, fn, "RAN ")
    finally:
        srv.stop()


def test_destinations_other_than_lambda_and_sqs_are_refused_until_emulated(server):
    lam = server.client("lambda")
    fn = create(lam, RECORDER)
    with expect_error("InvalidParameterValueException", 400, message_contains="lamina does not emulate Amazon SNS yet"):
        lam.put_function_event_invoke_config(
            FunctionName=fn, DestinationConfig={"OnFailure": {"Destination": "arn:aws:sns:us-east-1:123456789012:t"}})


SELF_INVOKER = """
import json
import boto3
lam = boto3.client("lambda")
def handler(event, context):
    print("RECEIVED " + json.dumps(event))
    if event["n"] < event["stop"]:
        lam.invoke(FunctionName=context.function_name, InvocationType="Event",
                   Payload=json.dumps({"n": event["n"] + 1, "stop": event["stop"]}))
"""


@pytest.mark.parametrize("loop", ["Terminate", "Allow"])
def test_a_function_invoking_itself_asynchronously_is_stopped_after_16(fast, loop):
    """The SDK in the function passes the invocation's trace header on; the event queue counts the
    trips in its Lineage and, with RecursiveLoop Terminate (the default), stops the 17th: that
    event goes to the dead-letter queue, with the error as its attributes. Allow lets it run."""
    lam, sqs = fast.client("lambda"), fast.client("sqs")
    dlq_url = sqs.create_queue(QueueName=lt.unique("loopdlq"))["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    name = create(lam, SELF_INVOKER, DeadLetterConfig={"TargetArn": dlq_arn})
    lt.wait_active(lam, name)
    if loop == "Allow":
        lam.put_function_recursion_config(FunctionName=name, RecursiveLoop="Allow")
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"n": 0, "stop": 20}))
    if loop == "Allow":
        seen = wait_for(lambda: log_lines(fast.data, name, "RECEIVED "), 90, count=21)
        assert sorted(e["n"] for e in seen) == list(range(21))  # streams of several environments
        assert "Messages" not in sqs.receive_message(QueueUrl=dlq_url, WaitTimeSeconds=1)
        return
    dead = wait_for(lambda: sqs.receive_message(QueueUrl=dlq_url, WaitTimeSeconds=2,
                                                MessageAttributeNames=["All"]).get("Messages"), 90)
    assert dead, "the stopped event never reached the dead-letter queue"
    assert json.loads(dead[0]["Body"]) == {"n": 16, "stop": 20}
    attrs = {k: v["StringValue"] for k, v in dead[0]["MessageAttributes"].items()}
    assert attrs["ErrorMessage"] == "RecursiveInvocationException" and attrs["ErrorCode"] == "200"
    time.sleep(1)
    assert sorted(e["n"] for e in log_lines(fast.data, name, "RECEIVED ")) == list(range(16))
    log = fast.log_path.read_text()
    assert f"async.recursive_loop_stopped function={name}" in log
