"""Java functions: handlers compiled with javac against lamina's interfaces jar
(runtimes/java/lamina-java-core.jar), zipped and run on the host's JVM through the aws CLI
and boto3: POJO in and out, a RequestStreamHandler, plain methods, AWS's error payload,
LambdaLogger and System.out in the logs, a layer's /opt/java/lib, the JVM's flags and
JAVA_TOOL_OPTIONS, a timeout, the runtimes the host JVM cannot run, and the
aws-lambda-java-events types (SQSEvent from a queue mapping, S3Event from a bucket
notification, APIGatewayV2HTTPEvent/Response through a function URL, ScheduledEvent), with
stand-ins for the library's classes (java/awsevents) bundled as a function bundles the real jar."""

from __future__ import annotations

import base64
import copy
import datetime
import http.client
import json
import random
import urllib.parse
import shutil
import subprocess
from pathlib import Path

import pytest

import boto3
from botocore.config import Config

import lamina_testlib as lt

SOURCES = Path(__file__).resolve().parent / "java"
CORE_JAR = lt.REPO / "runtimes" / "java" / "lamina-java-core.jar"


def zip_tree(root: Path, only: str) -> bytes:
    """The classes under root/only, at their package paths (a jar without a manifest)."""
    return lt.build_zip({f.relative_to(root).as_posix(): f.read_bytes()
                         for f in sorted((root / only).rglob("*.class"))})


@pytest.fixture(scope="module")
def classes(tmp_path_factory):
    """Every test handler, compiled in one javac call."""
    javac = shutil.which("javac")
    if javac is None:
        pytest.skip("no javac (openjdk-17-jdk-headless) on this machine")
    assert CORE_JAR.is_file(), "the build writes runtimes/java/lamina-java-core.jar (CMake, javac)"
    out = tmp_path_factory.mktemp("java-classes")
    sources = sorted(str(p) for p in SOURCES.rglob("*.java"))
    subprocess.run([javac, "--release", "11", "-cp", str(CORE_JAR), "-d", str(out), *sources],
                   check=True, capture_output=True, timeout=120)
    return out


@pytest.fixture(scope="module")
def code(classes):
    """The function's zip: its classes at the root (no layer classes)."""
    return zip_tree(classes, only="demo/")


def create(lam, code_zip, handler, runtime="java17", **kwargs):
    name = lt.unique("java")
    lt.create_function(lam, name, zip_bytes=code_zip, Runtime=runtime, Handler=handler, **kwargs)
    return name


def invoke(lam, name, event, *, raw=False):
    payload = event if raw else json.dumps(event).encode()
    r = lam.invoke(FunctionName=name, Payload=payload, LogType="Tail")
    return r, r["Payload"].read(), base64.b64decode(r.get("LogResult", "")).decode()


@pytest.mark.cli
def test_pojo_in_and_out_through_the_cli(lam, cli, code, tmp_path):
    name = create(lam, code, "demo.PojoHandler", MemorySize=256)
    event = tmp_path / "event.json"
    # keys match setters case-sensitively, as AWS's Jackson setup does: "Key" is an unknown key
    event.write_text(json.dumps({"bucket": "test_bucket", "Key": "no", "key": "test_key", "quantity": 2,
                                 "extra": [1]}))
    out = tmp_path / "out.json"
    meta = cli.json("lambda", "invoke", "--function-name", name, "--payload", f"file://{event}",
                    "--log-type", "Tail", str(out))
    assert meta["StatusCode"] == 200 and "FunctionError" not in meta
    # bean properties named as java.beans does (getURL -> "URL", isValidated -> "validated") and
    # the public field; a null property (getComment) is left out
    assert json.loads(out.read_text()) == {
        "bucket": "test_bucket", "key": "test_key", "note": "public field", "tags": ["$LATEST", "true"],
        "total": 6, "URL": "s3://test_bucket/test_key", "validated": True}
    logs = base64.b64decode(meta["LogResult"]).decode()
    request_id = next(l.split()[2] for l in logs.splitlines() if l.startswith("START RequestId:"))
    assert f"LOGGER {request_id}\nSTATIC logger\n" in logs
    assert f"STDOUT {name} 256\n" in logs


def test_handler_method_and_string_result(lam, code):
    # as recorded on AWS: Class::method names that method; a String result is a JSON string
    name = create(lam, code, "demo.PojoHandler::handleRequestCustom", runtime="java11")
    r, body, _ = invoke(lam, name, {"key": "k1"})
    assert json.loads(body) == "CUSTOM k1"


def test_event_type_bound_by_a_subclass(lam, code):
    # RequestHandler<T, String> in a generic base class: T as the subclass binds it
    name = create(lam, code, "demo.OrderHandler")
    _, body, _ = invoke(lam, name, {"key": "k2", "quantity": 7})
    assert json.loads(body) == "k2 x7"


def test_stream_handler_and_lib_jars(lam, classes):
    # the classes in lib/*.jar, as a zip built by Gradle's buildZip lays them out
    code_zip = lt.build_zip({"lib/handlers.jar": zip_tree(classes, only="demo/")})
    name = create(lam, code_zip, "demo.Upper", runtime="java8.al2")
    r, body, _ = invoke(lam, name, b'{"say":"hi"}', raw=True)
    assert "FunctionError" not in r and body == b'{"SAY":"HI"}'


def test_plain_methods(lam, code):
    greet = create(lam, code, "demo.Plain::greet")
    _, body, _ = invoke(lam, greet, {"name": "ana", "n": 3})
    assert json.loads(body) == "hello ana Long"
    length = create(lam, code, "demo.Plain::length")
    _, body, _ = invoke(lam, length, "abcd")
    assert json.loads(body) == 4
    count = create(lam, code, "demo.Plain::count")
    assert json.loads(invoke(lam, count, [1, 2, 3])[1]) == 3
    assert json.loads(invoke(lam, count, 5)[1]) == 1  # a single value read as a one-element list


def test_uncaught_exception_payload(lam, code):
    name = create(lam, code, "demo.Fail")
    r, body, logs = invoke(lam, name, {})
    assert r["FunctionError"] == "Unhandled"
    err = json.loads(body)
    assert err["errorMessage"] == "Error: some_error_msg"
    assert err["errorType"] == "java.lang.RuntimeException"
    assert err["stackTrace"][0].startswith("demo.Fail.handleRequest(Fail.java:")
    assert err["cause"]["errorType"] == "java.lang.IllegalStateException"
    assert err["cause"]["errorMessage"] == "the cause"
    assert "java.lang.RuntimeException: Error: some_error_msg" in logs


def test_init_errors(lam, code):
    missing = create(lam, code, "demo.Missing")
    r, body, _ = invoke(lam, missing, {})
    assert r["FunctionError"] == "Unhandled"
    assert json.loads(body)["errorType"] == "java.lang.ClassNotFoundException"
    assert "demo.Missing" in json.loads(body)["errorMessage"]
    no_method = create(lam, code, "demo.Plain::nope")
    r, body, _ = invoke(lam, no_method, {})
    assert json.loads(body)["errorType"] == "java.lang.NoSuchMethodException"


def test_layer_jars_under_opt_java_lib(lam, classes, code):
    layer = lam.publish_layer_version(
        LayerName=lt.unique("javalayer"), CompatibleRuntimes=["java17"],
        Content={"ZipFile": lt.build_zip({"java/lib/greeter.jar": zip_tree(classes, only="layer/")})})
    name = create(lam, code, "demo.FromLayer::handle", Layers=[layer["LayerVersionArn"]])
    r, body, _ = invoke(lam, name, "bo")
    assert "FunctionError" not in r and json.loads(body) == "layer greets bo"


def test_heap_from_memory_size_and_java_tool_options(lam, code):
    name = create(lam, code, "demo.Plain::props", MemorySize=512,
                  Environment={"Variables": {"JAVA_TOOL_OPTIONS": "-Dlamina.test=yes"}})
    _, body, logs = invoke(lam, name, {})
    props = json.loads(body)
    assert props["tool"] == "yes"
    # the heap at 85% of MemorySize, as AWS sizes it (the JVM reports a little less)
    assert 0.75 * 512 * 2**20 < props["heap"] <= 0.85 * 512 * 2**20
    assert "Picked up JAVA_TOOL_OPTIONS: -Dlamina.test=yes" in logs


def test_out_of_memory_error_ends_the_jvm(lam, code):
    """A heap run out: the answer is AWS's java.lang.OutOfMemoryError payload, and the runtime
    exits after it as AWS's does, so the next invocation starts a new JVM (Init Duration)."""
    name = create(lam, code, "demo.Plain::hog", MemorySize=512)
    r, body, logs = invoke(lam, name, {"mb": 8})
    assert "FunctionError" not in r and json.loads(body) == 8
    assert "Init Duration" in logs
    r, body, _ = invoke(lam, name, {"mb": 8})
    assert json.loads(body) == 8  # a warm JVM, before the heap runs out
    r, body, logs = invoke(lam, name, {"mb": 1024})
    assert r["FunctionError"] == "Unhandled", body
    err = json.loads(body)
    assert (err["errorType"], err["errorMessage"]) == ("java.lang.OutOfMemoryError", "Java heap space")
    assert "Init Duration" not in logs
    r, body, logs = invoke(lam, name, {"mb": 8})
    assert "FunctionError" not in r and json.loads(body) == 8, body
    assert "Init Duration" in logs, "the JVM whose heap ran out served another event"


def test_timeout(lam, code):
    name = create(lam, code, "demo.Slow::handle", Timeout=1)
    r, body, logs = invoke(lam, name, {})
    assert r["FunctionError"] == "Unhandled"
    err = json.loads(body)
    assert err["errorType"] == "Sandbox.Timedout"
    assert err["errorMessage"].endswith("Task timed out after 1.00 seconds")
    assert "SLOW started" in logs


def test_runtime_the_host_jvm_cannot_run(lam, code):
    name = create(lam, code, "demo.Plain::greet", runtime="java25")
    r, body, _ = invoke(lam, name, {"name": "x", "n": 1})
    err = json.loads(body)
    assert r.get("FunctionError") == "Unhandled" and err["errorType"] == "Runtime.Unavailable"
    assert "Java 25" in err["errorMessage"] and "--runtime java25=" in err["errorMessage"]


def test_json_log_format_and_levels(lam, code):
    name = create(lam, code, "demo.Levels::handle",
                  LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "WARN"})
    r, body, logs = invoke(lam, name, {})
    assert json.loads(body) == "ok"
    records = [json.loads(l) for l in logs.splitlines() if l.startswith("{")]
    mine = [x for x in records if "message" in x and isinstance(x["message"], str) and "error" in x["message"]]
    assert [(x["level"], x["message"]) for x in mine] == [("ERROR", "KEPT error")]
    assert mine[0]["AWSRequestId"] == r["ResponseMetadata"]["RequestId"]
    assert "DROPPED" not in logs


def test_event_that_does_not_fit_the_handler(lam, code):
    # as AWS's docs show it: the runtime's RuntimeException, the reader's failure as its cause
    name = create(lam, code, "demo.PojoHandler")
    r, body, _ = invoke(lam, name, {"bucket": "b", "quantity": "many"})
    err = json.loads(body)
    assert r["FunctionError"] == "Unhandled"
    assert (err["errorMessage"], err["errorType"], err["stackTrace"]) == (
        "An error occurred during JSON parsing", "java.lang.RuntimeException", [])
    assert err["cause"]["errorType"] == "java.io.UncheckedIOException"
    assert err["cause"]["errorMessage"] == 'java.io.IOException: cannot read "many" as int'


def test_json_reader_and_writer_round_trip(lam, code):
    # the runtime's own JSON reader and writer, through an Object-typed handler
    name = create(lam, code, "demo.Plain::echo")
    events = [
        {"s": "quote \" backslash \\ slash / tab \t nl \n ctl \u0001 é 😀 \u2028", "empty": "", "k\"ey": 1},
        [0, -1, 9223372036854775807, -9223372036854775808, 123456789012345678901234567890, 1.5, -0.25,
         1e300, 2.5e-10, True, False, None, [], {}, [[[]]], {"a": {"b": {"c": [1, {"d": None}]}}}],
        "just a string", 42, 3.25, True, None,
    ]
    for event in events:
        r, body, _ = invoke(lam, name, event)
        assert "FunctionError" not in r, body
        assert json.loads(body) == event


def test_context_and_client_context(lam, code):
    name = create(lam, code, "demo.ContextInfo::handle", Timeout=5)
    client_context = {"client": {"app_title": "MyApp", "installation_id": "i-1"},
                      "custom": {"k": "v"}, "env": {"platform": "Android"}}
    r = lam.invoke(FunctionName=name, Payload=b"{}",
                   ClientContext=base64.b64encode(json.dumps(client_context).encode()).decode())
    out = json.loads(r["Payload"].read())
    assert out["arn"] == lt.fn_arn(name)
    assert out["group"] == f"/aws/lambda/{name}" and "[$LATEST]" in out["stream"]
    assert out["identity"] is None
    assert (out["custom"], out["env"], out["app"]) == ({"k": "v"}, {"platform": "Android"}, "MyApp")
    assert 0 < out["remaining"] <= 5000
    plain = json.loads(lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read())
    assert "custom" not in plain  # no client context: getClientContext() is null


def random_json(rng, depth=0):
    kind = rng.randrange(8 if depth < 4 else 5)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:
        return rng.randint(-2**70, 2**70) if rng.random() < 0.3 else rng.randint(-1000, 1000)
    if kind == 2:
        return rng.uniform(-1e6, 1e6) * 10 ** rng.randint(-300, 300) if rng.random() < 0.5 else rng.random()
    if kind in (3, 4):
        return random_text(rng)
    if kind == 5:
        return [random_json(rng, depth + 1) for _ in range(rng.randint(0, 5))]
    return {random_text(rng): random_json(rng, depth + 1) for _ in range(rng.randint(0, 5))}


def random_text(rng):
    """Control characters, ASCII, the BMP and beyond (no lone surrogates)."""
    return "".join(chr(rng.choice([rng.randint(0, 0x7f), rng.randint(0x80, 0xd7ff), rng.randint(0xe000, 0x10ffff)]))
                   for _ in range(rng.randint(0, 12)))


def test_json_round_trip_of_random_documents(lam, code):
    # a fixed-seed property test of the runtime's JSON reader and writer (what AWS's
    # Jackson would give back for an Object-typed handler: the same document)
    rng = random.Random(17)
    documents = [random_json(rng) for _ in range(300)]
    name = create(lam, code, "demo.Plain::echo")
    r, body, _ = invoke(lam, name, documents)
    assert "FunctionError" not in r, body[:500]
    assert json.loads(body) == documents


# ---- aws-lambda-java-events ------------------------------------------------------------------

@pytest.fixture(scope="module")
def events_code(classes):
    """Handlers at the root, the events stand-ins and Joda-Time in lib/*.jar, as Gradle's buildZip."""
    files = {f.relative_to(classes).as_posix(): f.read_bytes() for f in sorted((classes / "demo").rglob("*.class"))}
    files["lib/aws-lambda-java-events.jar"] = zip_tree(classes, only="com/amazonaws/services/lambda/runtime/events/")
    files["lib/joda-time.jar"] = zip_tree(classes, only="org/joda/")
    return lt.build_zip(files)


@pytest.fixture(scope="module")
def own(tmp_path_factory):
    """A server whose data directory the tests read function logs from (mapping and S3 events)."""
    base = tmp_path_factory.mktemp("java-events")
    srv = lt.LaminaServer(data_dir=base / "data", log_path=base / "server.log")
    srv.start()
    srv.data = base / "data"
    yield srv
    srv.stop()


def test_sqs_event_from_a_queue_mapping(own, events_code):
    lam, sqs = own.client("lambda"), own.client("sqs")
    name = create(lam, events_code, "demo.SqsEvents", Timeout=30)
    url = sqs.create_queue(QueueName=lt.unique("javaq"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sent = sqs.send_message(QueueUrl=url, MessageBody='{"hello": "wörld"}', MessageAttributes={
        "color": {"DataType": "String", "StringValue": "red"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xff"}})
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=1)
    seen = lt.wait_for(lambda: lt.log_lines(own.data, name, "SQSJAVA "), timeout=60)
    assert len(seen) == 1, seen
    r = seen[0]
    # each field of SQSEvent.SQSMessage, from AWS's names (eventSourceARN, md5OfBody, ...)
    assert (r["messageId"], r["body"], r["md5OfBody"]) == (sent["MessageId"], '{"hello": "wörld"}',
                                                           sent["MD5OfMessageBody"])
    assert (r["eventSource"], r["eventSourceArn"], r["awsRegion"]) == ("aws:sqs", arn, lt.REGION)
    assert r["receiptHandle"] and r["receiveCount"] == "1"
    # a Binary attribute arrives as the ByteBuffer of its bytes
    assert r["messageAttributes"] == {"color": "String:red", "blob": "Binary:AAH/"}


def test_s3_event_from_a_bucket_notification(own, events_code):
    lam = own.client("lambda")
    s3 = boto3.session.Session().client(
        "s3", endpoint_url=own.url, region_name=lt.REGION, aws_access_key_id="test", aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}, proxies={}, s3={"addressing_style": "path"}))
    bucket = lt.unique("javab").lower()
    s3.create_bucket(Bucket=bucket)
    name = create(lam, events_code, "demo.S3Events", Timeout=30)
    lam.add_permission(FunctionName=name, StatementId="s3", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", SourceAccount=lt.ACCOUNT)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "LambdaFunctionConfigurations": [{"Id": "cfgj", "LambdaFunctionArn": lt.fn_arn(name),
                                          "Events": ["s3:ObjectCreated:*"]}]})
    key = "dir/my key é.txt"
    put = s3.put_object(Bucket=bucket, Key=key, Body=b"something")
    seen = lt.wait_for(lambda: lt.log_lines(own.data, name, "S3JAVA "), timeout=60)
    assert len(seen) == 1, seen
    r = seen[0]
    assert (r["records"], r["eventName"], r["eventSource"], r["awsRegion"]) == (
        1, "ObjectCreated:Put", "aws:s3", lt.REGION)
    assert (r["bucket"], r["bucketArn"], r["configurationId"]) == (bucket, f"arn:aws:s3:::{bucket}", "cfgj")
    # the key as S3 sends it (URL-encoded), and the model's urlDecodedKey
    assert urllib.parse.unquote_plus(r["key"]) == key and r["urlDecodedKey"] == key
    assert (r["size"], r["eTag"]) == (9, "437b930db84b8079c2dd804a71936b5f")
    assert r["requestId"] == put["ResponseMetadata"]["RequestId"] and r["sequencer"]
    assert r["sourceIPAddress"] == "127.0.0.1" and r["principalId"]
    # eventTime as the model's DateTime: the same instant, printed as Joda prints it
    when = datetime.datetime.fromisoformat(r["eventTime"].replace("Z", "+00:00"))
    assert r["eventTime"].endswith("Z") and int(when.timestamp() * 1000) == r["eventMillis"]


S3_RECORD = {
    "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1", "eventTime": "2024-01-02T03:04:05.678Z",
    "eventName": "ObjectCreated:Put", "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
    "requestParameters": {"sourceIPAddress": "127.0.0.1"},
    "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZ"},
    "s3": {"s3SchemaVersion": "1.0", "configurationId": "cfg1",
           "bucket": {"name": "b", "ownerIdentity": {"principalId": "A3NL1KOZZKExample"}, "arn": "arn:aws:s3:::b"},
           "object": {"key": "a+b%C3%A9", "size": 1024, "eTag": "d41d8cd98f00b204e9800998ecf8427e",
                      "sequencer": "0055AED6DCD90281E5"}}}


def test_s3_event_written_back_as_aws_writes_it(lam, events_code):
    # AWS's S3 serializer: every member read back; missing strings read as "" (versionId),
    # urlDecodedKey added
    name = create(lam, events_code, "demo.S3Events::echo")
    r, body, _ = invoke(lam, name, {"Records": [S3_RECORD]})
    assert "FunctionError" not in r, body
    expected = copy.deepcopy(S3_RECORD)
    expected["s3"]["object"].update(versionId="", urlDecodedKey="a bé")
    assert json.loads(body) == {"Records": [expected]}


SCHEDULED = {"version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", "detail-type": "Scheduled Event",
             "source": "aws.events", "account": "123456789012", "time": "2015-10-08T16:53:06Z",
             "region": "us-east-1", "resources": ["arn:aws:events:us-east-1:123456789012:rule/my-rule"],
             "detail": {"k": [1, "v"]}}


def test_scheduled_event_detail_type_and_time(lam, events_code):
    fields = create(lam, events_code, "demo.Scheduled::fields")
    r, body, _ = invoke(lam, fields, SCHEDULED)
    assert "FunctionError" not in r, body
    assert json.loads(body) == {
        "detailType": "Scheduled Event", "time": "2015-10-08T16:53:06.000Z", "millis": 1444323186000,
        "source": "aws.events", "account": "123456789012", "resources": SCHEDULED["resources"],
        "detail": {"k": [1, "v"]}}
    echo = create(lam, events_code, "demo.Scheduled::echo")
    _, body, _ = invoke(lam, echo, SCHEDULED)
    # written back under AWS's names: "detail-type", the DateTime in ISO 8601 with millis
    assert json.loads(body) == dict(SCHEDULED, time="2015-10-08T16:53:06.000Z")


def test_function_url_event_and_response(lam, server, events_code):
    name = create(lam, events_code, "demo.UrlEvents")
    url = lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    lam.add_permission(FunctionName=name, StatementId="url", Action="lambda:InvokeFunctionUrl", Principal="*",
                       FunctionUrlAuthType="NONE")
    host = url.split("//", 1)[1].rstrip("/")
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        conn.request("POST", "/some/path?a=1&b=two%20words", body=b'{"k": 1}',
                     headers={"Host": host, "x-test": "yes", "Content-Type": "application/json", "Cookie": "c1=v1"})
        resp = conn.getresponse()
        body = resp.read()
        # APIGatewayV2HTTPResponse as the URL's answer: status, headers, cookies, body
        assert resp.status == 201, body
        assert resp.getheader("Content-Type") == "application/json" and resp.getheader("X-Method") == "POST"
        assert sorted(resp.headers.get_all("Set-Cookie")) == ["session=abc; Path=/", "theme=dark"]
        seen = json.loads(body)
        # the request as APIGatewayV2HTTPEvent
        assert (seen["version"], seen["rawPath"], seen["rawQueryString"]) == ("2.0", "/some/path", "a=1&b=two%20words")
        assert seen["query"] == {"a": "1", "b": "two words"} and seen["header"] == "yes"
        assert seen["cookies"] == ["c1=v1"]
        assert (seen["method"], seen["path"], seen["sourceIp"]) == ("POST", "/some/path", "127.0.0.1")
        assert seen["body"] == '{"k": 1}' and seen["timeEpochPositive"] is True
        assert seen["domainName"] == host.split(":")[0]
        # isBase64Encoded: a binary body
        conn.request("GET", "/binary", headers={"Host": host})
        resp = conn.getresponse()
        assert (resp.status, resp.getheader("Content-Type"), resp.read()) == (
            200, "application/octet-stream", b"\x00\x01\xff")
    finally:
        conn.close()
