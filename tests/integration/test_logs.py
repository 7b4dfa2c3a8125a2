"""The CloudWatch Logs API on lamina's endpoint: functions' output found as
log groups, streams and events (boto3 `logs` and the aws CLI), filter
patterns (regexes and array selectors too), pagination through the SDK's
paginators, PutLogEvents from a client, retention, restarts, the import of
older text logs, StartLiveTail's event stream, and AWS's errors for bad input
(which change nothing)."""
import json
import os
import re
import threading
import time

import boto3
import pytest
from botocore.config import Config

import lamina_testlib as lt

PRINTER = (
    "import json\n"
    "def handler(event, context):\n"
    "    print('hello from lamina')\n"
    "    print(json.dumps({'level': 'ERROR', 'latency': 250, 'msg': 'boom'}))\n"
    "    print(json.dumps({'level': 'INFO', 'latency': 5, 'msg': 'fine'}))\n"
    "    print('10.0.0.1 alice GET /index.html 404 1500')\n"
    "    return 'ok'\n"
)


@pytest.fixture(scope="module")
def logs(server):
    return server.client("logs")


@pytest.fixture(scope="module")
def printed(server, lam):
    """A function that printed known lines once: (name, group, request id)."""
    name = lt.unique("logs")
    lt.create_function(lam, name, zip_bytes=lt.make_zip({"handler.py": PRINTER}),
                       Handler="handler.handler", Runtime="python3.12")
    out = lam.invoke(FunctionName=name, Payload=b"{}")
    assert out["StatusCode"] == 200 and "FunctionError" not in out
    return name, "/aws/lambda/" + name, out["ResponseMetadata"]["RequestId"]


def now_ms():
    return int(time.time() * 1000)


def make_stream(logs, group=None, stream="s1"):
    group = group or "/lamina/test/" + lt.unique("g")
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    return group, stream


def test_function_output_is_a_log_group_stream_and_events(logs, printed):
    name, group, request_id = printed
    groups = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert [g["logGroupName"] for g in groups] == [group]
    g = groups[0]
    assert g["arn"] == f"arn:aws:logs:us-east-1:123456789012:log-group:{group}:*"
    assert g["logGroupArn"] == f"arn:aws:logs:us-east-1:123456789012:log-group:{group}"
    assert g["logGroupClass"] == "STANDARD" and g["metricFilterCount"] == 0 and g["creationTime"] > 0
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert len(streams) == 1
    s = streams[0]
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", s["logStreamName"])
    assert s["lastEventTimestamp"] >= s["firstEventTimestamp"] > 0
    events = logs.get_log_events(logGroupName=group, logStreamName=s["logStreamName"],
                                 startFromHead=True)["events"]
    messages = [e["message"] for e in events]
    assert messages[0] == f"START RequestId: {request_id} Version: $LATEST\n"
    assert "hello from lamina\n" in messages
    assert messages[-2] == f"END RequestId: {request_id}\n"
    assert messages[-1].startswith(f"REPORT RequestId: {request_id}\tDuration: ")
    assert all(e["ingestionTime"] >= e["timestamp"] > 0 for e in events)


def test_filter_terms_json_and_space_delimited(logs, printed):
    _, group, _ = printed

    def messages(pattern):
        out = logs.filter_log_events(logGroupName=group, filterPattern=pattern)
        for e in out["events"]:
            assert set(e) >= {"logStreamName", "timestamp", "message", "ingestionTime", "eventId"}
        return [e["message"].strip() for e in out["events"]]

    assert messages("hello") == ["hello from lamina"]
    assert messages('"from lamina"') == ["hello from lamina"]
    assert messages("Hello") == []  # case-sensitive
    assert len(messages("?hello ?alice")) == 2
    assert messages("hello -lamina") == []
    assert [json.loads(m)["msg"] for m in messages('{ $.level = "ERROR" }')] == ["boom"]
    assert [json.loads(m)["msg"] for m in messages("{ $.latency > 100 }")] == ["boom"]
    assert [json.loads(m)["msg"] for m in messages('{ $.level = "INF*" || $.latency >= 250 }')] == ["boom", "fine"]
    assert [json.loads(m)["msg"] for m in messages('{ $.level != "ERROR" && $.msg = fine }')] == ["fine"]
    assert messages("[ip, user, ..., status=404, size>1000]") == ["10.0.0.1 alice GET /index.html 404 1500"]
    # user=alice: a REPORT line's last fields can read "5x.xx ms" (its Init Duration)
    assert messages("[ip, user=alice, ..., status=5*, size]") == []
    assert len(messages("")) >= 7


def test_bad_filter_pattern_and_tokens(logs, printed):
    _, group, _ = printed
    for pattern in ['{ $.level = }', '[a, b', '"unterminated', '{ $.x > "text" }']:
        with lt.expect_error("InvalidParameterException", 400, "Invalid filter pattern"):
            logs.filter_log_events(logGroupName=group, filterPattern=pattern)
    with lt.expect_error("InvalidParameterException", 400, "The specified nextToken is invalid."):
        logs.filter_log_events(logGroupName=group, nextToken="nope")
    stream = logs.describe_log_streams(logGroupName=group)["logStreams"][0]["logStreamName"]
    with lt.expect_error("InvalidParameterException", 400, "The specified nextToken is invalid."):
        logs.get_log_events(logGroupName=group, logStreamName=stream, nextToken="f/123")
    with lt.expect_error("InvalidParameterException", 400,
                         "1 validation error detected: Value '10001' at 'limit' failed to satisfy constraint: "
                         "Member must have value less than or equal to 10000"):
        logs.filter_log_events(logGroupName=group, limit=10001)
    with lt.expect_error("ResourceNotFoundException", 400, "The specified log group does not exist."):
        logs.filter_log_events(logGroupName="/no/such/group")
    with lt.expect_error("ResourceNotFoundException", 400, "The specified log stream does not exist."):
        logs.get_log_events(logGroupName=group, logStreamName="nope")


def test_put_and_page_through_events(logs):
    group, stream = make_stream(logs)
    base = now_ms() - 60_000
    batch = [{"timestamp": base + i, "message": f"line {i} {'needle' if i % 5 == 0 else 'hay'}"} for i in range(25)]
    out = logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch)
    assert "nextSequenceToken" in out and "rejectedLogEventsInfo" not in out
    # FilterLogEvents: 20 + nextToken, then 5 (as AWS), and the paginator ends
    first = logs.filter_log_events(logGroupName=group, limit=20)
    assert len(first["events"]) == 20 and "nextToken" in first
    second = logs.filter_log_events(logGroupName=group, limit=20, nextToken=first["nextToken"])
    assert len(second["events"]) == 5 and "nextToken" not in second
    pages = list(logs.get_paginator("filter_log_events").paginate(logGroupName=group, PaginationConfig={"PageSize": 7}))
    got = [e["message"] for p in pages for e in p["events"]]
    assert got == [e["message"] for e in batch]
    needles = [e["message"] for p in logs.get_paginator("filter_log_events").paginate(
        logGroupName=group, filterPattern="needle") for e in p["events"]]
    assert needles == [f"line {i} needle" for i in range(0, 25, 5)]
    # GetLogEvents: newest first page by default; forward tokens from the head; the same token at the end
    newest = logs.get_log_events(logGroupName=group, logStreamName=stream, limit=10)
    assert [e["message"] for e in newest["events"]] == [e["message"] for e in batch[-10:]]
    assert re.fullmatch(r"f/\d{56}(/s)?", newest["nextForwardToken"])
    assert re.fullmatch(r"b/\d{56}(/s)?", newest["nextBackwardToken"])
    back = logs.get_log_events(logGroupName=group, logStreamName=stream, limit=10,
                               nextToken=newest["nextBackwardToken"])
    assert [e["message"] for e in back["events"]] == [e["message"] for e in batch[5:15]]
    seen, token = [], None
    for _ in range(10):
        kw = {"nextToken": token} if token else {"startFromHead": True}
        page = logs.get_log_events(logGroupName=group, logStreamName=stream, limit=10, **kw)
        seen += [e["message"] for e in page["events"]]
        if page["nextForwardToken"] == token:
            break
        token = page["nextForwardToken"]
    assert seen == [e["message"] for e in batch]
    # time windows
    window = logs.filter_log_events(logGroupName=group, startTime=base + 3, endTime=base + 5)["events"]
    assert [e["timestamp"] for e in window] == [base + 3, base + 4, base + 5]
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert streams[0]["firstEventTimestamp"] == base and streams[0]["lastEventTimestamp"] == base + 24


def test_put_log_events_rules(logs):
    group, stream = make_stream(logs)
    now = now_ms()
    with lt.expect_error("InvalidParameterException", 400,
                         "Log events in a single PutLogEvents request must be in chronological order."):
        logs.put_log_events(logGroupName=group, logStreamName=stream,
                            logEvents=[{"timestamp": now, "message": "b"}, {"timestamp": now - 1, "message": "a"}])
    with lt.expect_error("InvalidParameterException", 400, message_contains="cannot span more than 24 hours"):
        logs.put_log_events(logGroupName=group, logStreamName=stream,
                            logEvents=[{"timestamp": now - 90_000_000, "message": "a"},
                                       {"timestamp": now, "message": "b"}])
    with lt.expect_error("InvalidParameterException", 400, message_contains="Upload too large"):
        logs.put_log_events(logGroupName=group, logStreamName=stream,
                            logEvents=[{"timestamp": now, "message": "x" * 200_000}] * 6)
    too_many = [{"timestamp": now, "message": "x"}] * 10_001
    with lt.expect_error("InvalidParameterException", 400):
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=too_many)
    with lt.expect_error("ResourceNotFoundException", 400, "The specified log stream does not exist."):
        logs.put_log_events(logGroupName=group, logStreamName="nope", logEvents=[{"timestamp": now, "message": "a"}])
    # nothing of the refused batches was stored
    assert logs.get_log_events(logGroupName=group, logStreamName=stream)["events"] == []
    old = logs.put_log_events(logGroupName=group, logStreamName=stream,
                              logEvents=[{"timestamp": now - 15 * 86_400_000, "message": "old"}])
    assert old["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 0}
    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[{"timestamp": now, "message": "kept"}])
    new = logs.put_log_events(logGroupName=group, logStreamName=stream,
                              logEvents=[{"timestamp": now + 1, "message": "kept too"},
                                         {"timestamp": now + 3 * 3_600_000, "message": "future"}])
    # (the span of a batch is checked over all of it: 3 h here)
    assert new["rejectedLogEventsInfo"] == {"tooNewLogEventStartIndex": 1}
    got = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)["events"]
    assert [e["message"] for e in got] == ["kept", "kept too"]


def test_groups_streams_lifecycle_and_errors(logs):
    prefix = "/lamina/life/" + lt.unique("g")
    names = [f"{prefix}/{i:02d}" for i in range(7)]
    for n in names:
        logs.create_log_group(logGroupName=n, tags={"team": "a"})
    with lt.expect_error("ResourceAlreadyExistsException", 400, "The specified log group already exists"):
        logs.create_log_group(logGroupName=names[0])
    pages = list(logs.get_paginator("describe_log_groups").paginate(
        logGroupNamePrefix=prefix, PaginationConfig={"PageSize": 3}))
    assert len(pages) == 3
    assert [g["logGroupName"] for p in pages for g in p["logGroups"]] == names
    pattern = logs.describe_log_groups(logGroupNamePattern=prefix.split("/")[-1].upper())["logGroups"]
    assert len(pattern) == 7
    with lt.expect_error("InvalidParameterException", 400,
                         "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters."):
        logs.describe_log_groups(logGroupNamePrefix="/a", logGroupNamePattern="a")
    with lt.expect_error("InvalidParameterException", 400,
                         "Invalid LogGroup or LogStream, both must have length less than or equal to 512."):
        logs.create_log_group(logGroupName="/" + "x" * 600)
    g = names[0]
    for s in ["b", "a", "c"]:
        logs.create_log_stream(logGroupName=g, logStreamName=s)
    with lt.expect_error("ResourceAlreadyExistsException", 400, "The specified log stream already exists"):
        logs.create_log_stream(logGroupName=g, logStreamName="a")
    logs.put_log_events(logGroupName=g, logStreamName="b", logEvents=[{"timestamp": now_ms(), "message": "m"}])
    by_name = logs.describe_log_streams(logGroupName=g)["logStreams"]
    assert [s["logStreamName"] for s in by_name] == ["a", "b", "c"]
    desc = logs.describe_log_streams(logGroupName=g, orderBy="LastEventTime", descending=True)["logStreams"]
    assert desc[0]["logStreamName"] == "b"
    with lt.expect_error("InvalidParameterException", 400):
        logs.describe_log_streams(logGroupName=g, orderBy="LastEventTime", logStreamNamePrefix="a")
    arn = f"arn:aws:logs:us-east-1:123456789012:log-group:{g}"
    assert logs.describe_log_streams(logGroupIdentifier=arn)["logStreams"] == by_name
    with lt.expect_error("ValidationException", 400,
                         "LogGroup name and LogGroup ARN are mutually exclusive parameters."):
        logs.describe_log_streams(logGroupName=g, logGroupIdentifier=arn)
    # tags: both APIs see one set
    logs.tag_resource(resourceArn=arn, tags={"env": "dev"})
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "a", "env": "dev"}
    logs.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert logs.list_tags_log_group(logGroupName=g)["tags"] == {"env": "dev"}
    logs.delete_log_stream(logGroupName=g, logStreamName="a")
    assert [s["logStreamName"] for s in logs.describe_log_streams(logGroupName=g)["logStreams"]] == ["b", "c"]
    logs.delete_log_group(logGroupName=g)
    with lt.expect_error("ResourceNotFoundException", 400, "The specified log group does not exist."):
        logs.delete_log_group(logGroupName=g)
    assert logs.describe_log_groups(logGroupNamePrefix=g)["logGroups"] == []


def test_retention_policy_deletes_older_events(logs):
    group, stream = make_stream(logs)
    now = now_ms()
    logs.put_log_events(logGroupName=group, logStreamName=stream,
                        logEvents=[{"timestamp": now - 3 * 86_400_000, "message": "three days"}])
    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[{"timestamp": now - 1000, "message": "now"}])
    with lt.expect_error("InvalidParameterException", 400):
        logs.put_retention_policy(logGroupName=group, retentionInDays=2)
    logs.put_retention_policy(logGroupName=group, retentionInDays=1)
    assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["retentionInDays"] == 1
    got = logs.get_log_events(logGroupName=group, logStreamName=stream)["events"]
    assert [e["message"] for e in got] == ["now"]
    out = logs.put_log_events(logGroupName=group, logStreamName=stream,
                              logEvents=[{"timestamp": now - 2 * 86_400_000, "message": "expired"}])
    assert out["rejectedLogEventsInfo"] == {"expiredLogEventEndIndex": 0}
    logs.delete_retention_policy(logGroupName=group)
    assert "retentionInDays" not in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]


def test_unemulated_operation_is_named(logs):
    with lt.expect_error("NotImplementedException", 501, message_contains="DescribeMetricFilters"):
        logs.describe_metric_filters()


@pytest.mark.cli
@pytest.mark.skipif(not lt.aws_cli_path(), reason="aws CLI not installed")
def test_aws_cli_reads_function_logs(server, printed, tmp_path):
    _, group, request_id = printed
    cli = lt.AwsCli(server.port, tmp_path)
    groups = cli.json("logs", "describe-log-groups", "--log-group-name-prefix", group)["logGroups"]
    assert [g["logGroupName"] for g in groups] == [group]
    found = cli.json("logs", "filter-log-events", "--log-group-name", group, "--filter-pattern", "hello")
    assert [e["message"] for e in found["events"]] == ["hello from lamina\n"]
    stream = found["events"][0]["logStreamName"]
    got = cli.json("logs", "get-log-events", "--log-group-name", group, "--log-stream-name", stream,
                   "--start-from-head")
    assert got["events"][0]["message"] == f"START RequestId: {request_id} Version: $LATEST\n"
    errors = cli.json("logs", "filter-log-events", "--log-group-name", group,
                      "--filter-pattern", '{ $.level = "ERROR" }')
    assert len(errors["events"]) == 1


def test_restart_keeps_logs_and_old_text_logs_are_imported(tmp_path):
    data = tmp_path / "data"
    old = data / "logs" / "123456789012" / "us-east-1" / "aws" / "lambda" / "oldfn"
    old.mkdir(parents=True)
    text = old / "2026-01-02-[$LATEST]0123456789abcdef0123456789abcdef.log"
    text.write_text("START RequestId: r1 Version: $LATEST\nold line\nEND RequestId: r1\n")
    os.utime(text, (1_767_312_000, 1_767_312_000))
    srv = lt.LaminaServer(data_dir=data).start()
    try:
        logs = srv.client("logs")
        streams = logs.describe_log_streams(logGroupName="/aws/lambda/oldfn")["logStreams"]
        assert [s["logStreamName"] for s in streams] == ["2026/01/02/[$LATEST]0123456789abcdef0123456789abcdef"]
        events = logs.get_log_events(logGroupName="/aws/lambda/oldfn", logStreamName=streams[0]["logStreamName"],
                                     startFromHead=True)["events"]
        assert [e["message"] for e in events] == ["START RequestId: r1 Version: $LATEST\n", "old line\n",
                                                  "END RequestId: r1\n"]
        assert all(e["timestamp"] == 1_767_312_000_000 for e in events)
        group, stream = make_stream(logs)
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[{"timestamp": now_ms(), "message": "kept"}])
        srv.stop()
        srv = lt.LaminaServer(data_dir=data).start()
        logs = srv.client("logs")
        got = logs.get_log_events(logGroupName=group, logStreamName=stream)["events"]
        assert [e["message"] for e in got] == ["kept"]
        # imported once: not twice
        again = logs.get_log_events(logGroupName="/aws/lambda/oldfn", logStreamName=streams[0]["logStreamName"])
        assert len(again["events"]) == 3
    finally:
        srv.stop()


def test_filter_regexes_and_array_selectors(logs, printed):
    _, group, _ = printed

    def messages(pattern, g=group):
        return [e["message"].strip() for e in logs.filter_log_events(logGroupName=g, filterPattern=pattern)["events"]]

    assert messages(r"%^hello\s\w+%") == ["hello from lamina"]
    assert messages(r"%[Bb]oo+m|fi?ne%") == [json.dumps({"level": "ERROR", "latency": 250, "msg": "boom"}),
                                             json.dumps({"level": "INFO", "latency": 5, "msg": "fine"})]
    assert [json.loads(m)["msg"] for m in messages(r"{ $.msg = %^b.*m$% }")] == ["boom"]
    assert [json.loads(m)["msg"] for m in messages(r"{ $.latency = %^\d$% || $.level = %RR% }")] == ["boom", "fine"]
    assert messages(r"[ip=%^10\.0\.0\.\d+$%, user, ..., status=%^4\d\d$%, size]") == [
        "10.0.0.1 alice GET /index.html 404 1500"]
    g, stream = make_stream(logs)
    docs = [{"items": [{"id": 1}, {"id": 2, "tag": "hot"}]}, {"items": [{"id": 3}]}, {"items": []}]
    logs.put_log_events(logGroupName=g, logStreamName=stream,
                        logEvents=[{"timestamp": now_ms(), "message": json.dumps(d)} for d in docs])
    assert [json.loads(m) for m in messages('{ $.items[*].tag = "hot" }', g)] == [docs[0]]
    assert [json.loads(m) for m in messages("{ $.items[0].id = 3 }", g)] == [docs[1]]
    assert [json.loads(m) for m in messages("{ $.items[*].id > 1 }", g)] == docs[:2]
    assert [json.loads(m) for m in messages("{ $.items[0] NOT EXISTS }", g)] == [docs[2]]
    for pattern in ["%(a)%", "%a% %b% %c%", "%bang!%", "{ $.items[x] = 1 }", "{ $.a > %1% }"]:
        with lt.expect_error("InvalidParameterException", 400, "Invalid filter pattern"):
            logs.filter_log_events(logGroupName=g, filterPattern=pattern)


@pytest.mark.cli
@pytest.mark.skipif(not lt.aws_cli_path(), reason="aws CLI not installed")
def test_aws_cli_filters_with_a_regex(server, printed, tmp_path):
    _, group, _ = printed
    cli = lt.AwsCli(server.port, tmp_path)
    found = cli.json("logs", "filter-log-events", "--log-group-name", group,
                     "--filter-pattern", r"%^\d+\.\d+\.\d+\.\d+\salice%")
    assert [e["message"] for e in found["events"]] == ["10.0.0.1 alice GET /index.html 404 1500\n"]


def tail_client(server, validate=True):
    """StartLiveTail's model asks for the host prefix "stream-" (streaming- in older
    botocore): against 127.0.0.1 the SDK must not prepend it."""
    return boto3.session.Session().client(
        "logs", endpoint_url=f"http://127.0.0.1:{server.port}", region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
        config=Config(inject_host_prefix=False, parameter_validation=validate,
                      retries={"total_max_attempts": 1}, read_timeout=10, proxies={}))


def test_start_live_tail_streams_new_matching_events(server, logs, lam, printed):
    name, fn_group, _ = printed
    group, stream = make_stream(logs)
    arn = f"arn:aws:logs:us-east-1:123456789012:log-group:{group}"
    tail = tail_client(server)
    resp = tail.start_live_tail(logGroupIdentifiers=[arn, fn_group], logEventFilterPattern="?keep ?hello")
    events = resp["responseStream"]
    first = next(iter(events))
    start = first["sessionStart"]
    assert start["logGroupIdentifiers"] == [arn, fn_group]
    assert start["logEventFilterPattern"] == "?keep ?hello"
    assert start["requestId"] and start["sessionId"]
    logs.put_log_events(logGroupName=group, logStreamName=stream,
                        logEvents=[{"timestamp": now_ms(), "message": "keep me"},
                                   {"timestamp": now_ms(), "message": "drop me"}])
    assert lam.invoke(FunctionName=name, Payload=b"{}")["StatusCode"] == 200
    got, updates = [], 0
    deadline = time.time() + 10
    for ev in events:
        assert "sessionUpdate" in ev, ev
        updates += 1
        update = ev["sessionUpdate"]
        assert update["sessionMetadata"] == {"sampled": False}
        got += update["sessionResults"]
        if {"keep me", "hello from lamina\n"} <= {r["message"] for r in got} or time.time() > deadline:
            break
    events.close()
    assert sorted(r["message"] for r in got) == ["hello from lamina\n", "keep me"]
    kept = next(r for r in got if r["message"] == "keep me")
    assert kept["logStreamName"] == stream
    assert kept["logGroupIdentifier"] == f"123456789012:{group}"
    assert kept["ingestionTime"] >= kept["timestamp"] > 0
    assert next(r for r in got if r["message"] != "keep me")["logGroupIdentifier"] == f"123456789012:{fn_group}"


def test_start_live_tail_bad_input(server, logs):
    group, _ = make_stream(logs)
    tail = tail_client(server, validate=False)

    def refused(code, message, **kw):
        with lt.expect_error(code, 400, message):
            tail.start_live_tail(**kw)

    refused("ResourceNotFoundException", "The specified log group does not exist.",
            logGroupIdentifiers=["/no/such/group"])
    refused("InvalidParameterException",
            "logStreamNames and logStreamNamePrefixes are mutually exclusive parameters.",
            logGroupIdentifiers=[group], logStreamNames=["a"], logStreamNamePrefixes=["b"])
    refused("InvalidParameterException",
            "logStreamNames can only be specified when logGroupIdentifiers has a single log group.",
            logGroupIdentifiers=[group, group], logStreamNames=["a"])
    refused("InvalidParameterException",
            "1 validation error detected: Value '[...]' at 'logGroupIdentifiers' failed to satisfy constraint: "
            "Member must have length less than or equal to 10", logGroupIdentifiers=[group] * 11)
    refused("InvalidParameterException",
            "1 validation error detected: Value '[]' at 'logGroupIdentifiers' failed to satisfy constraint: "
            "Member must have length greater than or equal to 1", logGroupIdentifiers=[])
    for pattern in ["%(a)%", "%a% %b% %c%", "{ $.x = }"]:
        refused("InvalidParameterException", "Invalid filter pattern",
                logGroupIdentifiers=[group], logEventFilterPattern=pattern)
