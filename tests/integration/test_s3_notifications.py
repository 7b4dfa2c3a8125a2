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


def log_lines(data, name, prefix):
    group = data / "logs" / lt.ACCOUNT / lt.REGION / "aws" / "lambda" / name
    out = []
    for stream in sorted(group.glob("*.log")) if group.exists() else []:
        for line in stream.read_text().splitlines():
            if line.startswith(prefix):
                out.append(json.loads(line[len(prefix):]))
    return out


def wait_for(fn, count=1, timeout=30):
    deadline = time.time() + timeout
    while True:
        got = fn()
        if len(got) >= count or time.time() > deadline:
            return got
        time.sleep(0.1)


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
