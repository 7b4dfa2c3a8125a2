"""SQS event source mappings: the Lambda API's lifecycle and validation as AWS
answers them, and pollers that feed a queue's messages to a function the way
AWS's do (the SQS event record, deletes on success, retries after the
visibility timeout, redrive, ReportBatchItemFailures, FilterCriteria, FIFO
order, batching windows, MaximumConcurrency, restarts). Driven with boto3 and
the aws CLI; what functions received is read from their log streams on disk."""
import hashlib
import json
import subprocess
import threading
import time

import pytest

import lamina_testlib as lt
from lamina_testlib import log_lines, wait_for
from lamina_testlib import expect_error

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/lambda-role"
FN_ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:"
ESM_ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:event-source-mapping:"

RECORDER = """
import json, time
def handler(event, context):
    print("RECEIVED " + json.dumps(event))
    return {"ok": True}
"""

FAILING = """
import json
def handler(event, context):
    print("RECEIVED " + json.dumps(event))
    raise ValueError("failing on purpose")
"""

# Reports the records whose body starts with "fail" as failed; "malformed" in
# any body makes it answer what AWS counts as a malformed answer.
PARTIAL = """
import json
def handler(event, context):
    print("RECEIVED " + json.dumps(event))
    if any("malformed" in r["body"] for r in event["Records"]):
        return {"batchItemFailures": [{"foo": "notvalid"}]}
    return {"batchItemFailures": [{"itemIdentifier": r["messageId"]}
                                  for r in event["Records"] if r["body"].startswith("fail")]}
"""

# Sends every message it gets back to its queue (SQS's query protocol, to the
# queue URL), passing the invocation's trace header on as AWS's SDKs do inside
# Lambda (X-Amzn-Trace-Id from _X_AMZN_TRACE_ID).
LOOPER = """
import json, os, urllib.parse, urllib.request
def handler(event, context):
    print("RECEIVED " + json.dumps(event))
    for r in event["Records"]:
        form = urllib.parse.urlencode({"Action": "SendMessage", "Version": "2012-11-05",
                                       "MessageBody": r["body"]}).encode()
        req = urllib.request.Request(os.environ["QUEUE_URL"], data=form, headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Amzn-Trace-Id": os.environ["_X_AMZN_TRACE_ID"]})
        urllib.request.urlopen(req, timeout=5).read()
    return {}
"""

# Logs when it saw each record (FIFO order across environments).
STAMPER = """
import json, time
def handler(event, context):
    for r in event["Records"]:
        print("SEEN " + json.dumps([time.time_ns(), r["body"], r["attributes"]]))
    return {}
"""

SLOW = """
import json, time
def handler(event, context):
    start = time.time()
    time.sleep(0.5)
    print("SPAN " + json.dumps([start, time.time()]))
    return {}
"""


@pytest.fixture
def srv(tmp_path):
    s = lt.LaminaServer(data_dir=tmp_path / "data", log_path=tmp_path / "server.log",
                        extra_args=["--async-retry-delay", "0.2"])
    s.start()
    s.data = tmp_path / "data"
    yield s
    s.stop()


def create_function(lam, source, timeout=3, name=None):
    name = name or lt.unique("esm")
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="handler.handler",
                        Timeout=timeout, Code={"ZipFile": lt.make_zip({"handler.py": source})})
    lt.wait_active(lam, name)
    return name


def create_queue(sqs, name=None, **attributes):
    name = name or lt.unique("q")
    url = sqs.create_queue(QueueName=name, Attributes={k: str(v) for k, v in attributes.items()})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def records_seen(data, name):
    return [r for event in log_lines(data, name, "RECEIVED ") for r in event["Records"]]


def queue_counts(sqs, url):
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"])


def test_mapping_lifecycle_answers_as_aws_does(srv):
    lam, sqs = srv.client("lambda"), srv.client("sqs")
    name = create_function(lam, RECORDER)
    _, arn = create_queue(sqs)
    created = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, Tags={"team": "a"})
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 202
    raw = lt.raw_json(lam)
    uuid = raw["UUID"]
    assert set(raw) == {"BatchSize", "EventSourceArn", "EventSourceMappingArn", "FunctionArn",
                        "FunctionResponseTypes", "LastModified", "MaximumBatchingWindowInSeconds", "State",
                        "StateTransitionReason", "UUID"}
    assert raw["BatchSize"] == 10 and raw["MaximumBatchingWindowInSeconds"] == 0
    assert raw["State"] == "Creating" and raw["StateTransitionReason"] == "USER_INITIATED"
    assert raw["FunctionArn"] == FN_ARN + name and raw["EventSourceArn"] == arn
    assert raw["EventSourceMappingArn"] == ESM_ARN + uuid and raw["FunctionResponseTypes"] == []
    assert isinstance(raw["LastModified"], (int, float)) and abs(raw["LastModified"] - time.time()) < 60

    got = lam.get_event_source_mapping(UUID=uuid)
    assert got["State"] == "Enabled"
    assert lam.list_tags(Resource=ESM_ARN + uuid)["Tags"] == {"team": "a"}
    listed = lam.list_event_source_mappings(FunctionName=name)["EventSourceMappings"]
    assert [m["UUID"] for m in listed] == [uuid]
    assert [m["UUID"] for m in lam.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"]] == [uuid]

    updated = lam.update_event_source_mapping(UUID=uuid, BatchSize=5)
    assert updated["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert updated["State"] == "Updating" and updated["BatchSize"] == 5
    assert lam.update_event_source_mapping(UUID=uuid, Enabled=False)["State"] == "Disabling"
    assert lam.get_event_source_mapping(UUID=uuid)["State"] == "Disabled"
    assert lam.update_event_source_mapping(UUID=uuid, Enabled=True)["State"] == "Enabling"

    filtered = lam.update_event_source_mapping(
        UUID=uuid, FilterCriteria={"Filters": [{"Pattern": '{"body": {"k": ["v"]}}'}]},
        ScalingConfig={"MaximumConcurrency": 3}, FunctionResponseTypes=["ReportBatchItemFailures"])
    assert filtered["FilterCriteria"] == {"Filters": [{"Pattern": '{"body": {"k": ["v"]}}'}]}
    assert filtered["ScalingConfig"] == {"MaximumConcurrency": 3}
    assert filtered["FunctionResponseTypes"] == ["ReportBatchItemFailures"]

    lam.tag_resource(Resource=ESM_ARN + uuid, Tags={"env": "ci"})
    lam.untag_resource(Resource=ESM_ARN + uuid, TagKeys=["team"])
    assert lam.list_tags(Resource=ESM_ARN + uuid)["Tags"] == {"env": "ci"}

    deleted = lam.delete_event_source_mapping(UUID=uuid)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 202 and deleted["State"] == "Deleting"
    with expect_error("ResourceNotFoundException", 404, "The resource you requested does not exist."):
        lam.get_event_source_mapping(UUID=uuid)
    with expect_error("ResourceNotFoundException", 404,
                      f"Event source mapping not found: {ESM_ARN}{uuid}"):
        lam.list_tags(Resource=ESM_ARN + uuid)


def test_function_arn_echoes_the_callers_form(srv):
    lam, sqs = srv.client("lambda"), srv.client("sqs")
    name = create_function(lam, RECORDER)
    version = lam.publish_version(FunctionName=name)["Version"]
    forms = {f"{name}:$LATEST": FN_ARN + name + ":$LATEST", f"{name}:{version}": FN_ARN + name + ":" + version,
             FN_ARN + name: FN_ARN + name}
    for given, expected in forms.items():
        _, arn = create_queue(sqs)
        m = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=given, Enabled=False)
        assert m["FunctionArn"] == expected
        assert m["State"] == "Disabled"


def test_bad_mappings_get_aws_errors_and_change_nothing(srv):
    lam, sqs = srv.client("lambda"), srv.client("sqs")
    lam_nv = srv.client("lambda", validate=False)
    name = create_function(lam, RECORDER, timeout=60)
    short = create_function(lam, RECORDER)
    _, arn = create_queue(sqs)
    _, fifo = create_queue(sqs, lt.unique("f") + ".fifo", FifoQueue="true")
    missing_queue = f"arn:aws:sqs:us-east-1:{ACCOUNT}:{lt.unique('missing')}"

    with expect_error("InvalidParameterValueException", 400, "Unrecognized event source."):
        lam_nv.create_event_source_mapping(FunctionName=short)
    with expect_error("InvalidParameterValueException", 400, "Function does not exist"):
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=lt.unique("nope"))
    with expect_error("InvalidParameterValueException", 400,
                      "Unsupported DestinationConfig parameter for given event source mapping type."):
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=short,
                                        DestinationConfig={"OnFailure": {"Destination": arn}})
    with expect_error("InvalidParameterValueException", 400,
                      "Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. "
                      "SQS Error Message: The specified queue does not exist."):
        lam.create_event_source_mapping(EventSourceArn=missing_queue, FunctionName=short)
    with expect_error("InvalidParameterValueException", 400,
                      "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"):
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=short, BatchSize=100)
    with expect_error("InvalidParameterValueException", 400,
                      "Queue visibility timeout: 30 seconds is less than Function timeout: 60 seconds"):
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name)
    with expect_error("InvalidParameterValueException", 400, "Batching window is not supported for FIFO queues"):
        lam.create_event_source_mapping(EventSourceArn=fifo, FunctionName=short, MaximumBatchingWindowInSeconds=5)
    for pattern in ["null", '"simple string"', '{"eventSource": "aws:sqs"}', "[]"]:
        with expect_error("InvalidParameterValueException", 400, "Invalid filter pattern definition."):
            lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=short,
                                            FilterCriteria={"Filters": [{"Pattern": pattern}]})
    with expect_error("ValidationException", 400, message_contains="at 'batchSize' failed to satisfy constraint"):
        lam_nv.create_event_source_mapping(EventSourceArn=arn, FunctionName=short, BatchSize=0)
    with expect_error("ValidationException", 400,
                      message_contains="at 'scalingConfig.maximumConcurrency' failed to satisfy constraint"):
        lam_nv.create_event_source_mapping(EventSourceArn=arn, FunctionName=short,
                                           ScalingConfig={"MaximumConcurrency": 1})
    with expect_error("NotImplementedException", message_contains="Amazon Kinesis"):
        lam.create_event_source_mapping(EventSourceArn=f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/s",
                                        FunctionName=short, StartingPosition="LATEST")
    assert lam.list_event_source_mappings(FunctionName=short)["EventSourceMappings"] == []

    first = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=short, Enabled=False)["UUID"]
    with expect_error("ResourceConflictException", 409,
                      f'An event source mapping with SQS arn (" {arn} ") and function (" {short} ") already exists. '
                      f"Please update or delete the existing mapping with UUID {first}"):
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=short)
    with expect_error("InvalidParameterValueException", 400,
                      "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"):
        lam.update_event_source_mapping(UUID=first, BatchSize=50)
    assert lam.get_event_source_mapping(UUID=first)["BatchSize"] == 10
    for call in (lam.get_event_source_mapping, lam.delete_event_source_mapping):
        with expect_error("ResourceNotFoundException", 404, "The resource you requested does not exist."):
            call(UUID="00000000-0000-4000-8000-000000000000")


def test_messages_reach_the_function_as_aws_records_and_are_deleted(srv):
    lam, sqs = srv.client("lambda"), srv.client("sqs")
    name = create_function(lam, RECORDER)
    url, arn = create_queue(sqs)
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=10)
    sent = sqs.send_message(QueueUrl=url, MessageBody="hello esm",
                            MessageAttributes={"colour": {"DataType": "String", "StringValue": "blue"}})
    records = wait_for(lambda: records_seen(srv.data, name))
    assert len(records) == 1, records
    r = records[0]
    assert list(r) == ["messageId", "receiptHandle", "body", "attributes", "messageAttributes",
                       "md5OfMessageAttributes", "md5OfBody", "eventSource", "eventSourceARN", "awsRegion"]
    assert r["messageId"] == sent["MessageId"] and r["body"] == "hello esm"
    assert r["md5OfBody"] == hashlib.md5(b"hello esm").hexdigest() == sent["MD5OfMessageBody"]
    assert r["md5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert r["messageAttributes"] == {"colour": {"stringValue": "blue", "stringListValues": [],
                                                 "binaryListValues": [], "dataType": "String"}}
    assert list(r["attributes"])[:4] == ["ApproximateReceiveCount", "SentTimestamp", "SenderId",
                                         "ApproximateFirstReceiveTimestamp"]
    assert r["attributes"]["ApproximateReceiveCount"] == "1"
    assert r["eventSource"] == "aws:sqs" and r["eventSourceARN"] == arn and r["awsRegion"] == "us-east-1"
    assert wait_for(lambda: queue_counts(sqs, url) == (0, 0), 10), queue_counts(sqs, url)


def test_a_failing_function_gets_its_messages_again_until_the_queue_redrives_them(srv):
    lam, sqs = srv.client("lambda"), srv.client("sqs")
    name = create_function(lam, FAILING, timeout=1)
    dlq_url, dlq_arn = create_queue(sqs)
    url, arn = create_queue(sqs, VisibilityTimeout=1,
                            RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}))
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=1)
    sent = sqs.send_message(QueueUrl=url, MessageBody="doomed")["MessageId"]
    moved = wait_for(lambda: sqs.receive_message(QueueUrl=dlq_url, WaitTimeSeconds=1).get("Messages"), 30)
    assert moved and moved[0]["MessageId"] == sent and moved[0]["Body"] == "doomed"
    counts = [r["attributes"]["ApproximateReceiveCount"] for r in records_seen(srv.data, name)]
    assert counts == ["1", "2"], counts


def test_report_batch_item_failures_returns_only_the_failed_messages(srv):
    lam, sqs = srv.client("lambda"), srv.client("sqs")
    name = create_function(lam, PARTIAL, timeout=1)
    url, arn = create_queue(sqs, VisibilityTimeout=1)
    # (no batching window: with one, AWS stretches the visibility timeout by the window + 30 s)
    uuid = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=10,
                                           FunctionResponseTypes=["ReportBatchItemFailures"])["UUID"]
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": body}
                                                  for i, body in enumerate(["ok-1", "fail-1", "ok-2"])])

    def fail_seen_twice():
        bodies = [r["body"] for r in records_seen(srv.data, name)]
        return bodies.count("fail-1") >= 2
    assert wait_for(fail_seen_twice, 20)
    lam.update_event_source_mapping(UUID=uuid, Enabled=False)
    bodies = [r["body"] for r in records_seen(srv.data, name)]
    assert bodies.count("ok-1") == 1 and bodies.count("ok-2") == 1, bodies


def test_a_malformed_batch_answer_fails_the_whole_batch(srv):
    lam, sqs = srv.client("lambda"), srv.client("sqs")
    name = create_function(lam, PARTIAL, timeout=1)
    url, arn = create_queue(sqs, VisibilityTimeout=1)
    uuid = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=1,
                                           FunctionResponseTypes=["ReportBatchItemFailures"])["UUID"]
    sqs.send_message(QueueUrl=url, MessageBody="malformed answer")
    assert wait_for(lambda: len(records_seen(srv.data, name)) >= 2, 20)
    lam.update_event_source_mapping(UUID=uuid, Enabled=False)
    counts = [r["attributes"]["ApproximateReceiveCount"] for r in records_seen(srv.data, name)]
    assert counts[:2] == ["1", "2"]


def test_filter_criteria_pass_matching_messages_and_delete_the_rest(srv):
    lam, sqs = srv.client("lambda"), srv.client("sqs")
    name = create_function(lam, RECORDER)
    url, arn = create_queue(sqs)
    lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=name, BatchSize=1,
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"body": {"kind": ["keep"], "n": [{"numeric": [">", 1]}]}})}]})
    bodies = [json.dumps({"kind": "keep", "n": 2}), json.dumps({"kind": "drop", "n": 5}),
              json.dumps({"kind": "keep", "n": 0}), "keep (not JSON)", json.dumps({"kind": "keep", "n": 7})]
    for b in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=b)
    assert wait_for(lambda: len(records_seen(srv.data, name)) >= 2)
    assert wait_for(lambda: queue_counts(sqs, url) == (0, 0), 10), queue_counts(sqs, url)
    seen = sorted(r["body"] for r in records_seen(srv.data, name))
    assert seen == sorted([bodies[0], bodies[4]])


def test_fifo_messages_of_a_group_arrive_in_order(srv):
    lam, sqs = srv.client("lambda"), srv.client("sqs")
    name = create_function(lam, STAMPER)
    url, arn = create_queue(sqs, lt.unique("fifo") + ".fifo", FifoQueue="true", ContentBasedDeduplication="true")
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=2)
    for i in range(8):
        sqs.send_message(QueueUrl=url, MessageBody=f"a-{i}", MessageGroupId="a")
        sqs.send_message(QueueUrl=url, MessageBody=f"b-{i}", MessageGroupId="b")
    assert wait_for(lambda: len(log_lines(srv.data, name, "SEEN ")) >= 16)
    seen = sorted(log_lines(srv.data, name, "SEEN "), key=lambda s: s[0])  # environments log apart
    for group in "ab":
        got = [body for _, body, attrs in seen if attrs["MessageGroupId"] == group]
        assert got == [f"{group}-{i}" for i in range(8)], got
    fifo_keys = list(seen[0][2])
    assert fifo_keys[4:7] == ["SequenceNumber", "MessageGroupId", "MessageDeduplicationId"], fifo_keys


def test_a_batching_window_gathers_a_large_batch(srv):
    lam, sqs = srv.client("lambda"), srv.client("sqs")
    name = create_function(lam, RECORDER)
    url, arn = create_queue(sqs, VisibilityTimeout=60)
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=15,
                                    MaximumBatchingWindowInSeconds=2)
    for start in (0, 10):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"m{i}"}
                                                      for i in range(start, min(start + 10, 15))])
    events = wait_for(lambda: log_lines(srv.data, name, "RECEIVED "))
    assert len(events) == 1 and len(events[0]["Records"]) == 15, [len(e["Records"]) for e in events]


def test_maximum_concurrency_caps_concurrent_batches(srv):
    lam, sqs = srv.client("lambda"), srv.client("sqs")
    name = create_function(lam, SLOW)
    url, arn = create_queue(sqs)
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=1,
                                    ScalingConfig={"MaximumConcurrency": 2})
    for start in (0, 10):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": str(i)}
                                                      for i in range(start, start + 10)])
    spans = wait_for(lambda: (lambda s: s if len(s) >= 12 else None)(log_lines(srv.data, name, "SPAN ")), 60)
    assert spans, "the function did not run 12 times"
    # the most batches running at one instant
    edges = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    running = peak = 0
    for _, d in edges:
        running += d
        peak = max(peak, running)
    assert peak == 2, peak


def test_mappings_resume_after_a_restart(srv):
    lam, sqs = srv.client("lambda"), srv.client("sqs")
    name = create_function(lam, RECORDER)
    url, arn = create_queue(sqs)
    uuid = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name)["UUID"]
    srv.stop()
    srv.start()
    lam, sqs = srv.client("lambda"), srv.client("sqs")
    assert lam.get_event_source_mapping(UUID=uuid)["State"] == "Enabled"
    sqs.send_message(QueueUrl=url.replace(url.split("/")[2], f"127.0.0.1:{srv.port}"), MessageBody="after restart")
    assert wait_for(lambda: [r for r in records_seen(srv.data, name) if r["body"] == "after restart"])


def test_throttled_batches_wait_and_lose_nothing(srv):
    lam, sqs = srv.client("lambda"), srv.client("sqs")
    name = create_function(lam, RECORDER)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    url, arn = create_queue(sqs)
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=1)
    sqs.send_message(QueueUrl=url, MessageBody="held back")
    time.sleep(1.0)
    assert records_seen(srv.data, name) == []
    assert sum(queue_counts(sqs, url)) == 1
    lam.delete_function_concurrency(FunctionName=name)
    assert wait_for(lambda: records_seen(srv.data, name), 15)


def test_async_destinations_and_dead_letter_queues_can_be_sqs_queues(srv):
    lam, sqs = srv.client("lambda"), srv.client("sqs")
    dest_url, dest_arn = create_queue(sqs)
    dlq_url, dlq_arn = create_queue(sqs)
    name = create_function(lam, FAILING)
    lam.update_function_configuration(FunctionName=name, DeadLetterConfig={"TargetArn": dlq_arn})
    lt.wait_updated(lam, name)
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1,
                                         DestinationConfig={"OnFailure": {"Destination": dest_arn}})
    r = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"raise_error": 1}')
    request_id = r["ResponseMetadata"]["RequestId"]

    got = wait_for(lambda: sqs.receive_message(QueueUrl=dest_url, WaitTimeSeconds=1).get("Messages"), 30)
    record = json.loads(got[0]["Body"])
    assert record["version"] == "1.0" and record["requestPayload"] == {"raise_error": 1}
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["requestContext"]["functionArn"] == FN_ARN + name + ":$LATEST"
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert record["responsePayload"]["errorMessage"] == "failing on purpose"
    assert "MessageAttributes" not in got[0]

    dead = wait_for(lambda: sqs.receive_message(QueueUrl=dlq_url, WaitTimeSeconds=1,
                                                MessageAttributeNames=["All"]).get("Messages"), 30)
    assert json.loads(dead[0]["Body"]) == {"raise_error": 1}
    assert dead[0]["MessageAttributes"] == {
        "ErrorCode": {"DataType": "Number", "StringValue": "200"},
        "ErrorMessage": {"DataType": "String", "StringValue": "failing on purpose"},
        "RequestID": {"DataType": "String", "StringValue": request_id}}

    ok = create_function(lam, RECORDER)
    lam.put_function_event_invoke_config(FunctionName=ok, DestinationConfig={"OnSuccess": {"Destination": dest_arn}})
    lam.invoke(FunctionName=ok, InvocationType="Event", Payload=b'{"n": 1}')
    got = wait_for(lambda: sqs.receive_message(QueueUrl=dest_url, WaitTimeSeconds=1).get("Messages"), 30)
    record = json.loads(got[0]["Body"])
    assert record["requestContext"]["condition"] == "Success" and record["responsePayload"] == {"ok": True}

    with expect_error("InvalidParameterValueException", 400, message_contains="lamina does not emulate Amazon SNS"):
        lam.update_function_configuration(FunctionName=ok,
                                          DeadLetterConfig={"TargetArn": f"arn:aws:sns:us-east-1:{ACCOUNT}:t"})


def test_a_recursive_loop_is_stopped_after_16_trips(srv):
    lam, sqs = srv.client("lambda"), srv.client("sqs")
    dlq_url, dlq_arn = create_queue(sqs)
    url, arn = create_queue(sqs, VisibilityTimeout=3,
                            RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1}))
    name = lt.unique("loop")
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="handler.handler", Timeout=3,
                        Environment={"Variables": {"QUEUE_URL": url}},
                        Code={"ZipFile": lt.make_zip({"handler.py": LOOPER})})
    lt.wait_active(lam, name)
    uuid = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=1)["UUID"]
    sqs.send_message(QueueUrl=url, MessageBody="round and round")
    stopped = wait_for(lambda: sqs.receive_message(QueueUrl=dlq_url, WaitTimeSeconds=1,
                                                   MessageSystemAttributeNames=["All"]).get("Messages"), 60)
    assert stopped and stopped[0]["Body"] == "round and round"
    assert "Lineage=" in stopped[0]["Attributes"]["AWSTraceHeader"]
    assert len(records_seen(srv.data, name)) == 16
    cw = srv.client("cloudwatch")
    now = time.time()
    stats = cw.get_metric_statistics(Namespace="AWS/Lambda", MetricName="RecursiveInvocationsDropped",
                                     Dimensions=[{"Name": "FunctionName", "Value": name}],
                                     StartTime=now - 600, EndTime=now + 60, Period=60, Statistics=["Sum"])
    assert sum(p["Sum"] for p in stats["Datapoints"]) >= 1

    # RecursiveLoop Allow lets the loop go on
    lam.put_function_recursion_config(FunctionName=name, RecursiveLoop="Allow")
    sqs.send_message(QueueUrl=url, MessageBody="allowed")
    assert wait_for(lambda: [r for r in records_seen(srv.data, name) if r["body"] == "allowed"][20:], 60)
    lam.update_event_source_mapping(UUID=uuid, Enabled=False)


def test_a_direct_invoke_deep_in_a_loop_is_refused(srv):
    lam = srv.client("lambda")
    name = create_function(lam, RECORDER)
    lineage = hashlib.sha256((FN_ARN + name).encode()).hexdigest()[:8]
    header = {"value": ""}
    lam.meta.events.register("before-send.lambda.Invoke",
                             lambda request, **_: request.headers.__setitem__("X-Amzn-Trace-Id", header["value"]))
    header["value"] = f"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0;Lineage={lineage}:15"
    assert lam.invoke(FunctionName=name, Payload=b"{}")["StatusCode"] == 200
    header["value"] = header["value"].replace(f"{lineage}:15", f"{lineage}:16")
    with expect_error("RecursiveInvocationException", 400, message_contains="recursive loop"):
        lam.invoke(FunctionName=name, Payload=b"{}")
    lam.put_function_recursion_config(FunctionName=name, RecursiveLoop="Allow")
    assert lam.invoke(FunctionName=name, Payload=b"{}")["StatusCode"] == 200


@pytest.mark.cli
def test_aws_cli_manages_mappings(srv, tmp_path):
    if not lt.aws_cli_path():
        pytest.skip("aws CLI not found on PATH")
    lam, sqs = srv.client("lambda"), srv.client("sqs")
    name = create_function(lam, RECORDER)
    _, arn = create_queue(sqs)
    cli = lt.AwsCli(srv.port, tmp_path)
    created = cli.json("lambda", "create-event-source-mapping", "--function-name", name,
                       "--event-source-arn", arn, "--batch-size", "5")
    assert created["State"] == "Creating" and created["BatchSize"] == 5
    listed = cli.json("lambda", "list-event-source-mappings", "--function-name", name)
    assert [m["UUID"] for m in listed["EventSourceMappings"]] == [created["UUID"]]
    deleted = cli.json("lambda", "delete-event-source-mapping", "--uuid", created["UUID"])
    assert deleted["State"] == "Deleting"


# Forwards each record's body to the queue named by DONE through the SDK (found by name: the
# endpoint is whatever lamina is now), slowly enough that batches are in flight.
FORWARDER = """
import os, time
import boto3
sqs = boto3.client("sqs")
done = None
def handler(event, context):
    global done
    done = done or sqs.get_queue_url(QueueName=os.environ["DONE"])["QueueUrl"]
    for r in event["Records"]:
        sqs.send_message(QueueUrl=done, MessageBody=r["body"])
    time.sleep(0.3)
    return {}
"""


@pytest.mark.timeout_s(180)
def test_kill9_with_batches_in_flight_loses_no_message(srv):
    """lamina is killed (SIGKILL) while a mapping has batches in its function; after a restart the
    mapping resumes and every message sent is processed at least once (the in-flight ones come
    back after their visibility timeout), as on AWS."""
    lam, sqs = srv.client("lambda"), srv.client("sqs")
    done = lt.unique("done")
    sqs.create_queue(QueueName=done)
    name = lt.unique("esm")
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="handler.handler", Timeout=3,
                        Environment={"Variables": {"DONE": done}},
                        Code={"ZipFile": lt.make_zip({"handler.py": FORWARDER})})
    lt.wait_active(lam, name)
    url, arn = create_queue(sqs, VisibilityTimeout=4)
    sent = [f"m{i}" for i in range(100)]
    for i in range(0, 100, 10):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(j), "MessageBody": sent[j]} for j in range(i, i + 10)])
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=5)
    done_url = sqs.get_queue_url(QueueName=done)["QueueUrl"]

    def forwarded():
        a = sqs.get_queue_attributes(QueueUrl=done_url, AttributeNames=["ApproximateNumberOfMessages"])
        return int(a["Attributes"]["ApproximateNumberOfMessages"])
    assert wait_for(lambda: forwarded() >= 15, 60), "the mapping did not start"
    assert forwarded() < 100, "all processed before the kill: nothing was in flight"
    srv.kill9()
    srv.start()
    sqs = srv.client("sqs")
    url, done_url = (sqs.get_queue_url(QueueName=q)["QueueUrl"] for q in (url.rsplit("/", 1)[1], done))
    seen: list[str] = []

    def drain():
        r = sqs.receive_message(QueueUrl=done_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for m in r.get("Messages", []):
            seen.append(m["Body"])
            sqs.delete_message(QueueUrl=done_url, ReceiptHandle=m["ReceiptHandle"])
        return set(seen) >= set(sent)
    assert wait_for(drain, 90), f"never processed: {sorted(set(sent) - set(seen))}"
    assert set(seen) == set(sent)  # at least once: duplicates are allowed, nothing else
    assert wait_for(lambda: queue_counts(sqs, url) == (0, 0), 20), queue_counts(sqs, url)


def test_js_sdk_v3_manages_a_mapping_that_delivers(srv):
    why = lt.node_missing("@aws-sdk/client-lambda", "@aws-sdk/client-sqs")
    if why:
        pytest.skip(why)
    lam, sqs = srv.client("lambda"), srv.client("sqs")
    name = create_function(lam, RECORDER)
    url, arn = create_queue(sqs)
    out = lt.run_node("esm.mjs", {"endpoint": srv.url, "function": name, "queueUrl": url, "queueArn": arn})
    assert out["ok"], out
    created = out["created"]
    assert created["status"] == 202 and created["State"] == "Creating"
    assert created["FunctionArn"] == lt.fn_arn(name) and created["EventSourceArn"] == arn
    assert created["BatchSize"] == 10 and created["MaximumBatchingWindowInSeconds"] == 1
    assert created["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert created["ScalingConfig"] == {"MaximumConcurrency": 2}
    assert created["EventSourceMappingArn"] == \
        f"arn:aws:lambda:{lt.REGION}:{lt.ACCOUNT}:event-source-mapping:{created['UUID']}"
    assert out["got"]["State"] == "Enabled" and out["got"]["status"] == 200
    assert out["listed"] == [created["UUID"]]
    assert out["sentFailed"] == [] and out["drained"] is True
    assert sorted(r["body"] for r in records_seen(srv.data, name)) == ['{"kind":"order","i":0}',
                                                                       '{"kind":"order","i":1}']
    assert out["updated"]["status"] == 202 and out["updated"]["State"] == "Disabling"
    assert out["deleted"]["status"] == 202 and out["deleted"]["State"] == "Deleting"
    assert out["missing"]["name"] == "ResourceNotFoundException" and out["missing"]["status"] == 404
