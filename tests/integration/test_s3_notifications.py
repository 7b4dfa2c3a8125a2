"""S3 bucket notifications to Lambda on lamina's S3: Put/GetBucketNotificationConfiguration
(boto3 and `aws s3api`), AWS's validation errors (unparsable ARN, a function S3 may not
invoke), and the S3 event record delivered as an asynchronous invocation (prefix/suffix
filters, key encoding, retries of a failing function, a restart). What functions received is
read from their log streams on disk, as test_async.py does."""
import json
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

import lamina_testlib as lt
from lamina_testlib import log_lines, wait_for

ROLE = "arn:aws:iam::123456789012:role/lambda-role"

RECORDER = """
import json
def handler(event, context):
    print("RECEIVED " + json.dumps(event))
    return {"ok": True}
"""

FAILING = """
import json
def handler(event, context):
    print("ATTEMPT " + json.dumps(event))
    raise ValueError("failing on purpose")
"""


def s3_client(port):
    return boto3.session.Session().client(
        "s3", endpoint_url=f"http://127.0.0.1:{port}", region_name=lt.REGION, aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}, proxies={}, s3={"addressing_style": "path"}))


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    base = tmp_path_factory.mktemp("s3n")
    server = lt.LaminaServer(data_dir=base / "data", log_path=base / "server.log",
                             extra_args=["--async-retry-delay", "0.5"])
    server.start()
    server.data = base / "data"
    server.tmp = base
    yield server
    server.stop()


@pytest.fixture(scope="module")
def lam(srv):
    return srv.client("lambda")


@pytest.fixture(scope="module")
def s3(srv):
    return s3_client(srv.port)


def create_function(lam, source=RECORDER, permit=True, bucket=None):
    name = lt.unique("s3n")
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="handler.handler",
                        Timeout=10, Code={"ZipFile": lt.make_zip({"handler.py": source})})
    lt.wait_active(lam, name)
    if permit:
        kw = {"SourceArn": f"arn:aws:s3:::{bucket}"} if bucket else {}
        lam.add_permission(FunctionName=name, StatementId="s3", Action="lambda:InvokeFunction",
                           Principal="s3.amazonaws.com", SourceAccount=lt.ACCOUNT, **kw)
    return name, lt.fn_arn(name)


def new_bucket(s3):
    name = lt.unique("s3n").lower()
    s3.create_bucket(Bucket=name)
    return name


def lambda_config(arn, events=("s3:ObjectCreated:*",), rules=None, config_id="cfg1"):
    c = {"Id": config_id, "LambdaFunctionArn": arn, "Events": list(events)}
    if rules:
        c["Filter"] = {"Key": {"FilterRules": [{"Name": n, "Value": v} for n, v in rules]}}
    return c


def test_put_delivers_aws_record_to_permitted_function(srv, lam, s3):
    bucket = new_bucket(s3)
    name, arn = create_function(lam, bucket=bucket)
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"LambdaFunctionConfigurations": [
            lambda_config(arn, events=["s3:ObjectCreated:*", "s3:ObjectRemoved:*"])]})
    got = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert got["LambdaFunctionConfigurations"] == [
        {"Id": "cfg1", "LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]}]

    put = s3.put_object(Bucket=bucket, Key="my_key_0", Body=b"something")
    events = wait_for(lambda: log_lines(srv.data, name, "RECEIVED "))
    assert len(events) == 1
    assert list(events[0]) == ["Records"] and len(events[0]["Records"]) == 1
    rec = events[0]["Records"][0]
    assert list(rec) == ["eventVersion", "eventSource", "awsRegion", "eventTime", "eventName", "userIdentity",
                         "requestParameters", "responseElements", "s3"]
    assert rec["eventVersion"] == "2.1" and rec["eventSource"] == "aws:s3"
    assert rec["awsRegion"] == lt.REGION and rec["eventName"] == "ObjectCreated:Put"
    assert rec["eventTime"].endswith("Z") and len(rec["eventTime"]) == 24
    assert rec["requestParameters"] == {"sourceIPAddress": "127.0.0.1"}
    assert rec["responseElements"]["x-amz-request-id"] == put["ResponseMetadata"]["RequestId"]
    assert list(rec["s3"]) == ["s3SchemaVersion", "configurationId", "bucket", "object"]
    assert rec["s3"]["configurationId"] == "cfg1"
    assert rec["s3"]["bucket"]["name"] == bucket and rec["s3"]["bucket"]["arn"] == f"arn:aws:s3:::{bucket}"
    assert list(rec["s3"]["bucket"]) == ["name", "ownerIdentity", "arn"]
    obj = rec["s3"]["object"]
    assert list(obj) == ["key", "size", "eTag", "sequencer"]
    assert obj["key"] == "my_key_0" and obj["size"] == 9
    assert obj["eTag"] == "437b930db84b8079c2dd804a71936b5f"  # as AWS recorded for b"something"

    s3.delete_object(Bucket=bucket, Key="my_key_0")
    events = wait_for(lambda: log_lines(srv.data, name, "RECEIVED "), count=2)
    rec = events[1]["Records"][0]
    assert rec["eventName"] == "ObjectRemoved:Delete"
    assert list(rec["s3"]["object"]) == ["key", "sequencer"]
    assert int(rec["s3"]["object"]["sequencer"], 16) > int(obj["sequencer"], 16)


def test_prefix_suffix_filters_and_key_encoding(srv, lam, s3):
    bucket = new_bucket(s3)
    name, arn = create_function(lam)
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"LambdaFunctionConfigurations": [
            lambda_config(arn, rules=[("prefix", "in/"), ("SUFFIX", ".txt")])]})
    rules = s3.get_bucket_notification_configuration(Bucket=bucket)[
        "LambdaFunctionConfigurations"][0]["Filter"]["Key"]["FilterRules"]
    assert rules == [{"Name": "Prefix", "Value": "in/"}, {"Name": "Suffix", "Value": ".txt"}]
    s3.put_object(Bucket=bucket, Key="out/a.txt", Body=b"x")
    s3.put_object(Bucket=bucket, Key="in/a.jpg", Body=b"x")
    s3.put_object(Bucket=bucket, Key="in/my file é@.txt", Body=b"x")
    events = wait_for(lambda: log_lines(srv.data, name, "RECEIVED "))
    time.sleep(1)
    events = log_lines(srv.data, name, "RECEIVED ")
    assert len(events) == 1
    assert events[0]["Records"][0]["s3"]["object"]["key"] == "in/my+file+%C3%A9%40.txt"


def test_multipart_upload_with_cli_delivers_complete_event(srv, lam, s3, tmp_path):
    bucket = new_bucket(s3)
    name, arn = create_function(lam)
    cli = lt.AwsCli(srv.port, tmp_path)
    config = {"LambdaFunctionConfigurations": [lambda_config(arn)]}
    cli.run("s3api", "put-bucket-notification-configuration", "--bucket", bucket,
            "--notification-configuration", json.dumps(config))
    got = cli.json("s3api", "get-bucket-notification-configuration", "--bucket", bucket)
    assert got["LambdaFunctionConfigurations"][0]["LambdaFunctionArn"] == arn
    small = tmp_path / "small.txt"
    small.write_bytes(b"hello")
    cli.run("s3", "cp", str(small), f"s3://{bucket}/small.txt")
    big = tmp_path / "big.bin"
    big.write_bytes(b"a" * (9 * 1024 * 1024))
    cli.run("s3", "cp", str(big), f"s3://{bucket}/big.bin")
    events = wait_for(lambda: log_lines(srv.data, name, "RECEIVED "), count=2)
    by_key = {e["Records"][0]["s3"]["object"]["key"]: e["Records"][0] for e in events}
    assert by_key["small.txt"]["eventName"] == "ObjectCreated:Put"
    assert by_key["big.bin"]["eventName"] == "ObjectCreated:CompleteMultipartUpload"
    assert by_key["big.bin"]["s3"]["object"]["size"] == 9 * 1024 * 1024
    assert by_key["big.bin"]["s3"]["object"]["eTag"].endswith("-2")


def test_function_without_permission_is_refused(srv, lam, s3):
    bucket = new_bucket(s3)
    name, arn = create_function(lam, permit=False)
    config = {"LambdaFunctionConfigurations": [lambda_config(arn)]}
    with pytest.raises(ClientError) as e:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config)
    err = e.value.response["Error"]
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert err["Code"] == "InvalidArgument"
    assert err["Message"] == "Unable to validate the following destination configurations"
    assert err["ArgumentName1"] == f"{arn}, null"
    assert err["ArgumentValue1"] == f"Not authorized to invoke function [{arn}]"
    assert "LambdaFunctionConfigurations" not in s3.get_bucket_notification_configuration(Bucket=bucket)
    # a permission for another bucket does not do either
    lam.add_permission(FunctionName=name, StatementId="other", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::some-other-bucket")
    with pytest.raises(ClientError):
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config)
    # a missing function, as AWS recorded it
    missing = lt.fn_arn("my-lambda")
    with pytest.raises(ClientError) as e:
        s3.put_bucket_notification_configuration(
            Bucket=bucket, NotificationConfiguration={"LambdaFunctionConfigurations": [lambda_config(missing)]})
    assert e.value.response["Error"]["ArgumentValue1"] == f"Not authorized to invoke function [{missing}]"
    # SkipDestinationValidation stores it
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config,
                                             SkipDestinationValidation=True)
    assert s3.get_bucket_notification_configuration(Bucket=bucket)["LambdaFunctionConfigurations"][0][
        "LambdaFunctionArn"] == arn


def test_unparsable_arn_and_other_bad_input_change_nothing(srv, lam, s3):
    bucket = new_bucket(s3)
    for skip in (False, True):
        with pytest.raises(ClientError) as e:
            s3.put_bucket_notification_configuration(
                Bucket=bucket, SkipDestinationValidation=skip,
                NotificationConfiguration={"LambdaFunctionConfigurations": [lambda_config("invalid-queue")]})
        assert e.value.response["Error"] == {"Code": "InvalidArgument", "Message": "The ARN could not be parsed",
                                             "ArgumentName": "CloudFunction", "ArgumentValue": "invalid-queue"}
    with pytest.raises(ClientError) as e:
        s3.put_bucket_notification_configuration(
            Bucket=bucket, NotificationConfiguration={"TopicConfigurations": [
                {"TopicArn": "arn:aws:sns:us-east-1:123456789012:t", "Events": ["s3:ObjectCreated:*"]}]})
    assert e.value.response["Error"]["Code"] == "NotImplemented"
    assert "TopicConfiguration" in e.value.response["Error"]["Message"]
    _, arn = create_function(lam)
    with pytest.raises(ClientError) as e:  # overlapping prefixes for the same event type
        s3.put_bucket_notification_configuration(
            Bucket=bucket, NotificationConfiguration={"LambdaFunctionConfigurations": [
                lambda_config(arn, rules=[("prefix", "a/")], config_id="one"),
                lambda_config(arn, rules=[("prefix", "a/b")], config_id="two")]})
    assert e.value.response["Error"]["Code"] == "InvalidArgument"
    assert "LambdaFunctionConfigurations" not in s3.get_bucket_notification_configuration(Bucket=bucket)


def test_failing_function_is_retried_as_an_async_event(srv, lam, s3):
    bucket = new_bucket(s3)
    name, arn = create_function(lam, source=FAILING)
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"LambdaFunctionConfigurations": [lambda_config(arn)]})
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")  # the request succeeds whatever the function does
    attempts = wait_for(lambda: log_lines(srv.data, name, "ATTEMPT "), count=3, timeout=60)
    assert len(attempts) == 3  # the first try and AWS's two retries
    assert all(a["Records"][0]["s3"]["object"]["key"] == "k" for a in attempts)


def test_configuration_survives_a_restart(tmp_path):
    data = tmp_path / "data"
    first = lt.LaminaServer(data_dir=data, log_path=tmp_path / "a.log").start()
    try:
        lam, s3 = first.client("lambda"), s3_client(first.port)
        bucket = new_bucket(s3)
        name, arn = create_function(lam)
        s3.put_bucket_notification_configuration(
            Bucket=bucket, NotificationConfiguration={"LambdaFunctionConfigurations": [
                lambda_config(arn, rules=[("suffix", ".csv")])]})
    finally:
        first.stop()
    second = lt.LaminaServer(data_dir=data, log_path=tmp_path / "b.log").start()
    try:
        s3 = s3_client(second.port)
        got = s3.get_bucket_notification_configuration(Bucket=bucket)["LambdaFunctionConfigurations"]
        assert got[0]["Filter"]["Key"]["FilterRules"] == [{"Name": "Suffix", "Value": ".csv"}]
        s3.put_object(Bucket=bucket, Key="report.csv", Body=b"a,b")
        events = wait_for(lambda: log_lines(data, name, "RECEIVED "))
        assert events and events[0]["Records"][0]["s3"]["object"]["key"] == "report.csv"
    finally:
        second.stop()


def new_queue(sqs):
    url = sqs.create_queue(QueueName=lt.unique("s3q"))["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def test_queue_destination_gets_a_test_event_then_the_records(srv, s3):
    """QueueConfigurations on lamina's SQS: S3 sends s3:TestEvent when the configuration is put,
    then AWS's record per object event; the X-Amzn-Trace-Id of the upload becomes the message's
    AWSTraceHeader (AWS recorded this in test_xray_header)."""
    sqs = srv.client("sqs")
    bucket = new_bucket(s3)
    url, arn = new_queue(sqs)
    config = {"QueueConfigurations": [{"Id": "q1", "QueueArn": arn, "Events": ["s3:ObjectCreated:*"],
                                       "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": ".txt"}]}}}]}
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config)
    got = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert got["QueueConfigurations"] == [{"Id": "q1", "QueueArn": arn, "Events": ["s3:ObjectCreated:*"], "Filter": {
        "Key": {"FilterRules": [{"Name": "Suffix", "Value": ".txt"}]}}}]
    test = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5)["Messages"]
    body = json.loads(test[0]["Body"])
    assert list(body) == ["Service", "Event", "Time", "Bucket", "RequestId", "HostId"]
    assert body["Service"] == "Amazon S3" and body["Event"] == "s3:TestEvent" and body["Bucket"] == bucket
    sqs.delete_message(QueueUrl=url, ReceiptHandle=test[0]["ReceiptHandle"])

    trace = "Root=1-3152b799-8954dae64eda91bc9a23a7e8;Parent=7fa8c0f79203be72;Sampled=1"

    def add_trace(request, **_):
        request.headers["X-Amzn-Trace-Id"] = trace
    s3.meta.events.register("before-sign.s3.PutObject", add_trace)
    try:
        s3.put_object(Bucket=bucket, Key="skipped.bin", Body=b"no")  # filtered out by the suffix
        s3.put_object(Bucket=bucket, Key="test data.txt", Body=b"something")
    finally:
        s3.meta.events.unregister("before-sign.s3.PutObject", add_trace)
    msgs = wait_for(lambda: sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2, AttributeNames=["All"]).get(
        "Messages") or [])
    assert len(msgs) == 1
    assert msgs[0]["Attributes"]["AWSTraceHeader"] == trace
    rec = json.loads(msgs[0]["Body"])["Records"][0]
    assert rec["eventName"] == "ObjectCreated:Put" and rec["s3"]["configurationId"] == "q1"
    assert rec["s3"]["object"]["key"] == "test+data.txt" and rec["s3"]["object"]["size"] == 9
    sqs.delete_message(QueueUrl=url, ReceiptHandle=msgs[0]["ReceiptHandle"])
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)


def test_unknown_queue_is_refused_and_changes_nothing(srv, s3):
    bucket = new_bucket(s3)
    missing = f"arn:aws:sqs:{lt.REGION}:{lt.ACCOUNT}:{lt.unique('nosuchqueue')}"
    with pytest.raises(ClientError) as e:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": missing, "Events": ["s3:ObjectCreated:*"]}]})
    err = e.value.response["Error"]
    assert err["Code"] == "InvalidArgument"
    assert err["Message"] == "Unable to validate the following destination configurations"
    assert err["ArgumentName1"] == missing and err["ArgumentValue1"] == "The destination queue does not exist"
    assert "QueueConfigurations" not in s3.get_bucket_notification_configuration(Bucket=bucket)


WRITER = """
import json
import boto3
from botocore.config import Config
s3 = boto3.client("s3", config=Config(s3={"addressing_style": "path"}))
def handler(event, context):
    rec = event["Records"][0]["s3"]
    n = int(rec["object"]["key"].split("-")[1])
    print("RECEIVED " + json.dumps({"n": n}))
    if n < 20:
        s3.put_object(Bucket=rec["bucket"]["name"], Key="k-" + str(n + 1), Body=b"x")
"""


@pytest.mark.parametrize("loop", ["Terminate", "Allow"])
def test_a_function_writing_to_its_own_bucket_is_stopped_after_16(srv, lam, s3, loop):
    """Function -> S3 -> function: the SDK in the function passes its trace header to S3, the
    notification carries it, and Lambda stops the 17th trip unless RecursiveLoop is Allow."""
    bucket = new_bucket(s3)
    name, arn = create_function(lam, source=WRITER, bucket=bucket)
    if loop == "Allow":
        lam.put_function_recursion_config(FunctionName=name, RecursiveLoop="Allow")
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"LambdaFunctionConfigurations": [lambda_config(arn)]})
    s3.put_object(Bucket=bucket, Key="k-0", Body=b"x")
    expected = list(range(21)) if loop == "Allow" else list(range(16))
    seen = wait_for(lambda: log_lines(srv.data, name, "RECEIVED "), 90, count=len(expected))
    time.sleep(1.5)  # nothing more comes
    seen = log_lines(srv.data, name, "RECEIVED ")
    assert sorted(e["n"] for e in seen) == expected
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert len(keys) == len(expected) + (0 if loop == "Allow" else 1)  # k-16 was written, its event stopped
    stopped = f"async.recursive_loop_stopped function={name}" in srv.log_path.read_text()
    assert stopped == (loop == "Terminate")
