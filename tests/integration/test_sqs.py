"""Amazon SQS on lamina's port: boto3 (awsJson 1.0), the aws CLI, the query protocol by hand,
the JS SDK v3 (which checks MD5s itself), and kill -9 durability. Expected values are AWS's
(/work/shared/aws-recorded/test_sqs.snapshot.json, docs/lambda-semantics-2.md §3)."""

from __future__ import annotations

import hashlib
import json
import struct
import threading
import time
import urllib.request
import xml.etree.ElementTree as ET

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

import lamina_testlib as lt
from lamina_testlib import ACCOUNT

NS = "{http://queue.amazonaws.com/doc/2012-11-05/}"


@pytest.fixture(scope="module")
def sqs(server):
    return server.client("sqs")


def new_queue(sqs, prefix="q", fifo=False, **attrs):
    name = lt.unique(prefix) + (".fifo" if fifo else "")
    if fifo:
        attrs["FifoQueue"] = "true"
    return sqs.create_queue(QueueName=name, Attributes={k: str(v) for k, v in attrs.items()})["QueueUrl"]


def error_of(fn, **kw):
    with pytest.raises(ClientError) as e:
        fn(**kw)
    r = e.value.response
    return r["Error"]["Code"], r["Error"]["Message"], r["ResponseMetadata"]["HTTPStatusCode"]


def md5_attrs(attrs: dict) -> str:
    """SQS's MD5OfMessageAttributes, computed here from the documented encoding."""
    buf = b""
    for name in sorted(attrs):
        v = attrs[name]
        t = v["DataType"]
        buf += struct.pack(">I", len(name.encode())) + name.encode()
        buf += struct.pack(">I", len(t.encode())) + t.encode()
        if t.startswith("Binary"):
            data = v["BinaryValue"]
            buf += b"\x02" + struct.pack(">I", len(data)) + data
        else:
            data = v["StringValue"].encode()
            buf += b"\x01" + struct.pack(">I", len(data)) + data
    return hashlib.md5(buf).hexdigest()


def count(sqs, url, name="ApproximateNumberOfMessages"):
    return int(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[name])["Attributes"][name])


class TestQueues:
    def test_defaults_url_arn_and_delete(self, server, sqs):
        name = lt.unique("defaults")
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        assert url == f"http://127.0.0.1:{server.port}/{ACCOUNT}/{name}"
        assert sqs.get_queue_url(QueueName=name)["QueueUrl"] == url
        a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert {k: a[k] for k in ("DelaySeconds", "MaximumMessageSize", "MessageRetentionPeriod",
                                  "ReceiveMessageWaitTimeSeconds", "VisibilityTimeout",
                                  "SqsManagedSseEnabled", "ApproximateNumberOfMessages")} == {
            "DelaySeconds": "0", "MaximumMessageSize": "1048576", "MessageRetentionPeriod": "345600",
            "ReceiveMessageWaitTimeSeconds": "0", "VisibilityTimeout": "30",
            "SqsManagedSseEnabled": "true", "ApproximateNumberOfMessages": "0"}
        assert a["QueueArn"] == f"arn:aws:sqs:us-east-1:{ACCOUNT}:{name}"
        assert "FifoQueue" not in a and "RedrivePolicy" not in a
        sqs.delete_queue(QueueUrl=url)
        code, msg, status = error_of(sqs.get_queue_url, QueueName=name)
        assert (code, msg, status) == ("AWS.SimpleQueueService.NonExistentQueue",
                                       "The specified queue does not exist.", 400)
        with pytest.raises(sqs.exceptions.QueueDoesNotExist):
            sqs.send_message(QueueUrl=url, MessageBody="x")

    def test_create_conflicts_and_fifo_only_attributes(self, sqs):
        name = lt.unique("conflict")
        sqs.create_queue(QueueName=name, Attributes={"DelaySeconds": "1"})
        sqs.create_queue(QueueName=name, Attributes={"DelaySeconds": "1"})  # same: fine
        assert error_of(sqs.create_queue, QueueName=name, Attributes={"DelaySeconds": "2"}) == (
            "QueueAlreadyExists",
            "A queue already exists with the same name and a different value for attribute DelaySeconds", 400)
        assert error_of(sqs.create_queue, QueueName=lt.unique("s"), Attributes={"FifoQueue": "false"}) == (
            "InvalidAttributeName", "Unknown Attribute FifoQueue.", 400)
        assert error_of(sqs.create_queue, QueueName=lt.unique("s"),
                        Attributes={"FifoThroughputLimit": "perQueue"})[1] == \
            "You can specify the FifoThroughputLimit only when FifoQueue is set to true."
        fifo = new_queue(sqs, "f", fifo=True)
        assert error_of(sqs.set_queue_attributes, QueueUrl=fifo, Attributes={"FifoQueue": "false"}) == (
            "InvalidAttributeValue",
            "Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not supported.", 400)
        assert error_of(sqs.get_queue_attributes, QueueUrl=fifo, AttributeNames=["Foobar"])[1] == \
            "Unknown Attribute Foobar."

    def test_list_pagination_and_prefix(self, sqs):
        prefix = lt.unique("page")
        names = sorted(f"{prefix}-{i}" for i in range(5))
        for n in names:
            sqs.create_queue(QueueName=n)
        seen, token = [], None
        while True:
            kw = {"QueueNamePrefix": prefix, "MaxResults": 2}
            if token:
                kw["NextToken"] = token
            r = sqs.list_queues(**kw)
            assert len(r["QueueUrls"]) <= 2
            seen += [u.rsplit("/", 1)[1] for u in r["QueueUrls"]]
            token = r.get("NextToken")
            if not token:
                break
        assert seen == names
        assert "QueueUrls" not in sqs.list_queues(QueueNamePrefix=lt.unique("none"))
        paginator = sqs.get_paginator("list_queues")
        all_urls = [u for p in paginator.paginate(QueueNamePrefix=prefix, PaginationConfig={"PageSize": 3})
                    for u in p.get("QueueUrls", [])]
        assert len(all_urls) == 5

    def test_tags(self, sqs):
        url = new_queue(sqs, "tags")
        sqs.tag_queue(QueueUrl=url, Tags={"tag1": "value1", "tag2": "value2", "tag3": ""})
        assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"tag1": "value1", "tag2": "value2", "tag3": ""}
        sqs.untag_queue(QueueUrl=url, TagKeys=["tag1", "tag3"])
        assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"tag2": "value2"}
        sqs.untag_queue(QueueUrl=url, TagKeys=["tag2"])
        assert "Tags" not in sqs.list_queue_tags(QueueUrl=url)
        name = lt.unique("created-tagged")
        u2 = sqs.create_queue(QueueName=name, tags={"a": "b"})["QueueUrl"]
        assert sqs.list_queue_tags(QueueUrl=u2)["Tags"] == {"a": "b"}


class TestMessages:
    def test_md5s_match_an_independent_computation(self, sqs):
        url = new_queue(sqs, "md5")
        attrs = {"Author": {"DataType": "String", "StringValue": "John Grisham"},
                 "WeeksOn": {"DataType": "Number", "StringValue": "6"},
                 "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01traceparent\x1e00"},
                 "custom": {"DataType": "String.custom", "StringValue": "ünïcode ✓"}}
        body = "héllo wörld 🙂"
        r = sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=attrs)
        assert r["MD5OfMessageBody"] == hashlib.md5(body.encode()).hexdigest()
        assert r["MD5OfMessageAttributes"] == md5_attrs(attrs)
        m = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"])["Messages"][0]
        assert m["Body"] == body and m["MD5OfBody"] == r["MD5OfMessageBody"]
        assert m["MD5OfMessageAttributes"] == md5_attrs(attrs)
        assert m["MessageAttributes"]["blob"]["BinaryValue"] == b"\x00\x01traceparent\x1e00"
        # AWS's recorded digests
        r2 = sqs.send_message(QueueUrl=url, MessageBody="test",
                              MessageAttributes={"MyAttribute": {"DataType": "String", "StringValue": "foobar"}})
        assert r2["MD5OfMessageBody"] == "098f6bcd4621d373cade4e832627b4f6"
        assert r2["MD5OfMessageAttributes"] == "adb59cd4678ea5a855436b949cd07ab6"

    def test_attribute_filters_on_receive(self, sqs):
        url = new_queue(sqs, "filters")
        sqs.send_message(QueueUrl=url, MessageBody="msg",
                         MessageAttributes={"Foo": {"DataType": "String", "StringValue": "Bar"},
                                            "other.x": {"DataType": "String", "StringValue": "y"}})
        m = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"][0]
        assert "Attributes" not in m and "MessageAttributes" not in m and "MD5OfMessageAttributes" not in m
        m = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0, AttributeNames=["All"],
                                MessageAttributeNames=["Foo"])["Messages"][0]
        assert set(m["Attributes"]) == {"ApproximateFirstReceiveTimestamp", "ApproximateReceiveCount",
                                        "SenderId", "SentTimestamp"}
        assert m["Attributes"]["ApproximateReceiveCount"] == "2"
        assert m["MessageAttributes"] == {"Foo": {"DataType": "String", "StringValue": "Bar"}}
        assert m["MD5OfMessageAttributes"] == "ae7155c6026991b6d54b11589678bf9c"
        m = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0, MessageSystemAttributeNames=["SenderId"],
                                MessageAttributeNames=["other.*"])["Messages"][0]
        assert list(m["Attributes"]) == ["SenderId"]
        assert list(m["MessageAttributes"]) == ["other.x"]

    def test_long_poll_answers_soon_after_a_send(self, server, sqs):
        url = new_queue(sqs, "longpoll")
        sender = server.client("sqs")
        sent_at = {}

        def send_later():
            time.sleep(0.5)
            sender.send_message(QueueUrl=url, MessageBody="wake")
            sent_at["t"] = time.monotonic()

        t = threading.Thread(target=send_later)
        t.start()
        start = time.monotonic()
        r = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10)
        done = time.monotonic()
        t.join()
        assert r["Messages"][0]["Body"] == "wake"
        assert done - start < 5
        assert done - sent_at["t"] < 0.1, f"answered {done - sent_at['t']:.3f}s after the send"
        # nothing comes: the wait ends at WaitTimeSeconds with no Messages key
        start = time.monotonic()
        r = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)
        assert "Messages" not in r and 0.9 < time.monotonic() - start < 3

    def test_many_long_polls_hold_no_threads(self, server, sqs):
        url = new_queue(sqs, "manypolls")
        results = []

        def poll():
            c = server.client("sqs")
            results.append(c.receive_message(QueueUrl=url, WaitTimeSeconds=3))

        threads = [threading.Thread(target=poll) for _ in range(12)]
        for t in threads:
            t.start()
        time.sleep(0.3)
        # other requests are still served while a dozen receivers wait
        start = time.monotonic()
        sqs.list_queues(QueueNamePrefix="manypolls")
        assert time.monotonic() - start < 1
        sqs.send_message(QueueUrl=url, MessageBody="one")
        for t in threads:
            t.join()
        assert sum(len(r.get("Messages", [])) for r in results) == 1

    def test_visibility_timeout_and_change(self, sqs):
        url = new_queue(sqs, "vis")
        sqs.send_message(QueueUrl=url, MessageBody="m")
        m = sqs.receive_message(QueueUrl=url, VisibilityTimeout=1, AttributeNames=["All"])["Messages"][0]
        assert m["Attributes"]["ApproximateReceiveCount"] == "1"
        assert "Messages" not in sqs.receive_message(QueueUrl=url)
        assert count(sqs, url, "ApproximateNumberOfMessagesNotVisible") == 1
        time.sleep(1.2)
        m2 = sqs.receive_message(QueueUrl=url, AttributeNames=["All"])["Messages"][0]
        assert m2["Attributes"]["ApproximateReceiveCount"] == "2"
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m2["ReceiptHandle"], VisibilityTimeout=0)
        m3 = sqs.receive_message(QueueUrl=url)["Messages"][0]
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m3["ReceiptHandle"])
        assert count(sqs, url) == 0 and count(sqs, url, "ApproximateNumberOfMessagesNotVisible") == 0

    def test_delay_seconds(self, sqs):
        url = new_queue(sqs, "delay")
        sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=1)
        assert count(sqs, url, "ApproximateNumberOfMessagesDelayed") == 1
        assert "Messages" not in sqs.receive_message(QueueUrl=url)
        r = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5)  # woken when the delay ends
        assert r["Messages"][0]["Body"] == "later"

    def test_batches(self, sqs):
        url = new_queue(sqs, "batch")
        r = sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": "a", "MessageBody": "one"},
            {"Id": "b", "MessageBody": "two", "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}}},
            {"Id": "c", "MessageBody": ""}])
        assert sorted(e["Id"] for e in r["Successful"]) == ["a", "b"]
        assert r["Failed"] == [{"Id": "c", "SenderFault": True, "Code": "MissingParameter",
                                "Message": "The request must contain the parameter MessageBody."}]
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        assert sorted(m["Body"] for m in got) == ["one", "two"]
        d = sqs.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": "x", "ReceiptHandle": got[0]["ReceiptHandle"]}, {"Id": "y", "ReceiptHandle": "bogus"}])
        assert d["Successful"] == [{"Id": "x"}]
        assert d["Failed"][0]["Id"] == "y" and d["Failed"][0]["Code"] == "ReceiptHandleIsInvalid"
        c = sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
            {"Id": "z", "ReceiptHandle": got[1]["ReceiptHandle"], "VisibilityTimeout": 0}])
        assert c["Successful"] == [{"Id": "z"}]
        assert sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == got[1]["Body"]

    def test_fifo_order_groups_and_dedup(self, sqs):
        url = new_queue(sqs, "fifo", fifo=True)
        seqs = []
        for i in range(3):
            seqs.append(sqs.send_message(QueueUrl=url, MessageBody=f"a{i}", MessageGroupId="A",
                                         MessageDeduplicationId=f"a{i}")["SequenceNumber"])
        sqs.send_message(QueueUrl=url, MessageBody="b0", MessageGroupId="B", MessageDeduplicationId="b0")
        assert seqs == sorted(seqs) and len(seqs[0]) == 20
        dup = sqs.send_message(QueueUrl=url, MessageBody="other", MessageGroupId="A", MessageDeduplicationId="a0")
        assert dup["SequenceNumber"] == seqs[0]
        first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2, AttributeNames=["All"])["Messages"]
        assert [m["Body"] for m in first] == ["a0", "a1"]
        assert first[0]["Attributes"]["MessageGroupId"] == "A"
        assert first[0]["Attributes"]["MessageDeduplicationId"] == "a0"
        # group A is in flight: only B's message comes
        nxt = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        assert [m["Body"] for m in nxt] == ["b0"]
        for m in first:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        assert [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]] == ["a2"]
        # errors AWS gives
        assert error_of(sqs.send_message, QueueUrl=url, MessageBody="x", MessageGroupId="A",
                        MessageDeduplicationId="d", DelaySeconds=2)[1] == (
            "Value 2 for parameter DelaySeconds is invalid. Reason: The request include parameter "
            "that is not valid for this queue type.")
        assert error_of(sqs.send_message, QueueUrl=url, MessageBody="x") == (
            "MissingParameter", "The request must contain the parameter MessageGroupId.", 400)
        assert error_of(sqs.send_message, QueueUrl=url, MessageBody="x", MessageGroupId="g")[1] == (
            "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId "
            "provided explicitly")
        cbd = new_queue(sqs, "cbd", fifo=True, ContentBasedDeduplication="true")
        r1 = sqs.send_message(QueueUrl=cbd, MessageBody="same", MessageGroupId="g")
        r2 = sqs.send_message(QueueUrl=cbd, MessageBody="same", MessageGroupId="g")
        assert r1["MessageId"] == r2["MessageId"] and count(sqs, cbd) == 1

    def test_dead_letter_queue_redrive(self, sqs):
        dlq = new_queue(sqs, "dlq")
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        src = new_queue(sqs, "src", RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1}))
        src_arn = sqs.get_queue_attributes(QueueUrl=src, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        assert json.loads(sqs.get_queue_attributes(QueueUrl=src, AttributeNames=["RedrivePolicy"])
                          ["Attributes"]["RedrivePolicy"]) == {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1}
        sent = sqs.send_message(QueueUrl=src, MessageBody="poison",
                                MessageAttributes={"MyAttribute": {"DataType": "String", "StringValue": "foobar"}})
        assert len(sqs.receive_message(QueueUrl=src, VisibilityTimeout=0)["Messages"]) == 1
        assert "Messages" not in sqs.receive_message(QueueUrl=src)  # moved on this receive
        m = sqs.receive_message(QueueUrl=dlq, AttributeNames=["All"], MessageAttributeNames=["All"])["Messages"][0]
        assert m["MessageId"] == sent["MessageId"]
        assert m["MD5OfMessageAttributes"] == "adb59cd4678ea5a855436b949cd07ab6"
        assert m["Attributes"]["DeadLetterQueueSourceArn"] == src_arn
        assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [src]
        sqs.set_queue_attributes(QueueUrl=src, Attributes={"RedrivePolicy": ""})
        assert "RedrivePolicy" not in sqs.get_queue_attributes(QueueUrl=src, AttributeNames=["All"])["Attributes"]

    def test_purge_once_a_minute(self, sqs):
        url = new_queue(sqs, "purge")
        sqs.send_message(QueueUrl=url, MessageBody="x")
        sqs.purge_queue(QueueUrl=url)
        assert count(sqs, url) == 0
        code, msg, status = error_of(sqs.purge_queue, QueueUrl=url)
        assert (code, status) == ("AWS.SimpleQueueService.PurgeQueueInProgress", 403)
        assert msg == f"Only one PurgeQueue operation on {url.rsplit('/', 1)[1]} is allowed every 60 seconds."

    def test_bad_input_answers_aws_errors_and_changes_nothing(self, server, sqs):
        url = new_queue(sqs, "bad", MaximumMessageSize=1024)
        sqs.send_message(QueueUrl=url, MessageBody="keep")
        nv = server.client("sqs", validate=False)
        cases = [
            (sqs.send_message, dict(QueueUrl=url, MessageBody="a" * 1025),
             ("InvalidParameterValue", "One or more parameters are invalid. Reason: Message must be shorter than 1024 bytes.")),
            (nv.send_message, dict(QueueUrl=url, MessageBody=""),
             ("MissingParameter", "The request must contain the parameter MessageBody.")),
            (sqs.send_message, dict(QueueUrl=url, MessageBody="x\x01y"), ("InvalidMessageContents", None)),
            (sqs.send_message, dict(QueueUrl=url, MessageBody="x", MessageAttributes={
                "ErrorDetails": {"DataType": "String", "StringValue": ""}}),
             ("InvalidParameterValue", "Message (user) attribute 'ErrorDetails' must contain a non-empty value of type 'String'.")),
            (nv.receive_message, dict(QueueUrl=url, MaxNumberOfMessages=11),
             ("InvalidParameterValue", "Value 11 for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.")),
            (nv.receive_message, dict(QueueUrl=url, WaitTimeSeconds=21),
             ("InvalidParameterValue", "Value 21 for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.")),
            (nv.send_message_batch, dict(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "x"} for i in range(20)]),
             ("AWS.SimpleQueueService.TooManyEntriesInBatchRequest", "Maximum number of entries per request are 10. You have sent 20.")),
            (nv.send_message_batch, dict(QueueUrl=url, Entries=[{"Id": "invalid:id", "MessageBody": "x"}]),
             ("AWS.SimpleQueueService.InvalidBatchEntryId", "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.")),
            (nv.send_message_batch, dict(QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "x"}, {"Id": "a", "MessageBody": "y"}]),
             ("AWS.SimpleQueueService.BatchEntryIdsNotDistinct", "Id a repeated.")),
            (nv.send_message_batch, dict(QueueUrl=url, Entries=[]),
             ("AWS.SimpleQueueService.EmptyBatchRequest", None)),
            (nv.delete_message, dict(QueueUrl=url, ReceiptHandle="garbage"),
             ("ReceiptHandleIsInvalid", 'The input receipt handle "garbage" is not a valid receipt handle.')),
        ]
        for fn, kw, (code, msg) in cases:
            got = error_of(fn, **kw)
            assert got[0] == code, (kw, got)
            if msg:
                assert got[1] == msg, (kw, got)
            assert got[2] == 400
        big = [{"Id": str(i), "MessageBody": "x" * (1048576 // 2)} for i in range(2)]
        big[1]["MessageBody"] += "x"
        url2 = new_queue(sqs, "bigbatch")
        assert error_of(sqs.send_message_batch, QueueUrl=url2, Entries=big) == (
            "AWS.SimpleQueueService.BatchRequestTooLong",
            "Batch requests cannot be longer than 1048576 bytes. You have sent 1048577 bytes.", 400)
        assert count(sqs, url) == 1 and count(sqs, url2) == 0
        assert sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "keep"

    def test_trace_header_becomes_aws_trace_header(self, sqs):
        url = new_queue(sqs, "trace")
        r = sqs.send_message(QueueUrl=url, MessageBody="t", MessageSystemAttributes={
            "AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1-5759e988-bd862e3fe1be46a994272793"}})
        assert r["MD5OfMessageSystemAttributes"]
        m = sqs.receive_message(QueueUrl=url, MessageSystemAttributeNames=["AWSTraceHeader"])["Messages"][0]
        assert m["Attributes"] == {"AWSTraceHeader": "Root=1-5759e988-bd862e3fe1be46a994272793"}

    def test_unemulated_operation_is_named(self, sqs):
        url = new_queue(sqs, "perm")
        code, msg, status = error_of(sqs.add_permission, QueueUrl=url, Label="l", AWSAccountIds=["111111111111"],
                                     Actions=["SendMessage"])
        assert code == "AWS.SimpleQueueService.UnsupportedOperation" and "AddPermission" in msg


@pytest.mark.cli
def test_aws_cli(cli):
    name = lt.unique("cli")
    url = cli.json("sqs", "create-queue", "--queue-name", name)["QueueUrl"]
    assert url.endswith(f"/{ACCOUNT}/{name}")
    sent = cli.json("sqs", "send-message", "--queue-url", url, "--message-body", "from the cli",
                    "--message-attributes", '{"k":{"DataType":"String","StringValue":"v"}}')
    assert sent["MD5OfMessageBody"] == hashlib.md5(b"from the cli").hexdigest()
    got = cli.json("sqs", "receive-message", "--queue-url", url, "--message-attribute-names", "All",
                   "--wait-time-seconds", "1")["Messages"][0]
    assert got["Body"] == "from the cli" and got["MessageAttributes"]["k"]["StringValue"] == "v"
    cli.run("sqs", "delete-message", "--queue-url", url, "--receipt-handle", got["ReceiptHandle"])
    attrs = cli.json("sqs", "get-queue-attributes", "--queue-url", url, "--attribute-names", "All")["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "0"
    p = cli.run("sqs", "get-queue-url", "--queue-name", lt.unique("missing"), check=False)
    assert p.returncode != 0 and "NonExistentQueue" in p.stderr
    cli.run("sqs", "delete-queue", "--queue-url", url)


# ---------------------------------------------------------------- query protocol, by hand

def query(server, params: dict, path: str = "/", method: str = "POST"):
    body = urllib.parse.urlencode({**params, "Version": "2012-11-05"})
    url = f"http://127.0.0.1:{server.port}{path}"
    if method == "GET":
        url += "?" + body
        req = AWSRequest(method="GET", url=url)
    else:
        req = AWSRequest(method="POST", url=url, data=body,
                         headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(Credentials("test", "test"), "sqs", "us-east-1").add_auth(req)
    prepared = req.prepare()
    r = urllib.request.Request(prepared.url, data=prepared.body.encode() if prepared.body else None,
                               headers=dict(prepared.headers), method=method)
    try:
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(r, timeout=15) as resp:
            return resp.status, ET.fromstring(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, ET.fromstring(e.read())


import urllib.parse  # noqa: E402
import urllib.error  # noqa: E402


class TestQueryProtocol:
    def test_lifecycle_in_xml(self, server):
        name = lt.unique("query")
        status, x = query(server, {"Action": "CreateQueue", "QueueName": name,
                                   "Attribute.1.Name": "VisibilityTimeout", "Attribute.1.Value": "40"})
        assert status == 200 and x.tag == f"{NS}CreateQueueResponse"
        url = x.find(f"{NS}CreateQueueResult/{NS}QueueUrl").text
        assert url.endswith(f"/{ACCOUNT}/{name}")
        assert x.find(f"{NS}ResponseMetadata/{NS}RequestId").text
        path = f"/{ACCOUNT}/{name}"
        status, x = query(server, {"Action": "SendMessage", "MessageBody": "<hi & bye>",
                                   "MessageAttribute.1.Name": "k", "MessageAttribute.1.Value.DataType": "String",
                                   "MessageAttribute.1.Value.StringValue": "v"}, path=path)
        assert status == 200
        res = x.find(f"{NS}SendMessageResult")
        assert res.find(f"{NS}MD5OfMessageBody").text == hashlib.md5(b"<hi & bye>").hexdigest()
        assert res.find(f"{NS}MD5OfMessageAttributes").text == md5_attrs(
            {"k": {"DataType": "String", "StringValue": "v"}})
        status, x = query(server, {"Action": "ReceiveMessage", "QueueUrl": url, "AttributeName.1": "All",
                                   "MessageAttributeName.1": "All"}, method="GET")
        msg = x.find(f"{NS}ReceiveMessageResult/{NS}Message")
        assert msg.find(f"{NS}Body").text == "<hi & bye>"
        attrs = {a.find(f"{NS}Name").text: a.find(f"{NS}Value").text for a in msg.findall(f"{NS}Attribute")}
        assert attrs["ApproximateReceiveCount"] == "1"
        ma = msg.find(f"{NS}MessageAttribute")
        assert ma.find(f"{NS}Name").text == "k"
        assert ma.find(f"{NS}Value/{NS}StringValue").text == "v"
        status, x = query(server, {"Action": "GetQueueAttributes", "AttributeName.1": "VisibilityTimeout"}, path=path)
        a = x.find(f"{NS}GetQueueAttributesResult/{NS}Attribute")
        assert (a.find(f"{NS}Name").text, a.find(f"{NS}Value").text) == ("VisibilityTimeout", "40")
        status, x = query(server, {"Action": "DeleteMessage",
                                   "ReceiptHandle": msg.find(f"{NS}ReceiptHandle").text}, path=path)
        assert status == 200 and x.find(f"{NS}DeleteMessageResult") is None
        status, x = query(server, {"Action": "ReceiveMessage"}, path=path)
        assert x.find(f"{NS}ReceiveMessageResult") is not None and len(x.find(f"{NS}ReceiveMessageResult")) == 0
        status, x = query(server, {"Action": "ListQueues", "QueueNamePrefix": name})
        assert [u.text for u in x.findall(f"{NS}ListQueuesResult/{NS}QueueUrl")] == [url]

    def test_errors_in_xml(self, server):
        status, x = query(server, {"Action": "GetQueueUrl", "QueueName": lt.unique("nope")})
        assert status == 400 and x.tag == f"{NS}ErrorResponse"
        err = x.find(f"{NS}Error")
        assert err.find(f"{NS}Type").text == "Sender"
        assert err.find(f"{NS}Code").text == "AWS.SimpleQueueService.NonExistentQueue"
        assert err.find(f"{NS}Message").text == "The specified queue does not exist for this wsdl version."
        assert err.find(f"{NS}Detail") is not None
        assert x.find(f"{NS}RequestId").text
        name = lt.unique("qerr")
        query(server, {"Action": "CreateQueue", "QueueName": name})
        status, x = query(server, {"Action": "FooBar"}, path=f"/{ACCOUNT}/{name}")
        assert status == 400
        assert x.find(f"{NS}Error/{NS}Code").text == "InvalidAction"
        assert x.find(f"{NS}Error/{NS}Message").text == "The action FooBar is not valid for this endpoint."
        status, x = query(server, {"Action": "ReceiveMessage", "MaxNumberOfMessages": "11"}, path=f"/{ACCOUNT}/{name}")
        assert x.find(f"{NS}Error/{NS}Code").text == "InvalidParameterValue"

    def test_query_routes_of_sts_still_work(self, server):
        assert server.client("sts").get_caller_identity()["Account"] == ACCOUNT


# ---------------------------------------------------------------- JS SDK v3 and durability

def test_js_sdk_v3_checks_md5s(server):
    why = lt.node_missing("@aws-sdk/client-sqs")
    if why:
        pytest.skip(why)
    out = lt.run_node("sqs_md5.mjs", {"endpoint": server.url, "queue": lt.unique("js")})
    assert out["ok"], out
    assert out["received"] == out["sent"]


@pytest.mark.timeout_s(120)
def test_kill9_loses_no_acknowledged_send(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    srv = lt.LaminaServer(data_dir=data, log_path=tmp_path / "a.log").start()
    acked = set()
    try:
        c = srv.client("sqs")
        url = c.create_queue(QueueName="durable")["QueueUrl"]
        fifo = c.create_queue(QueueName="durable.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
        c.tag_queue(QueueUrl=url, Tags={"k": "v"})
        for i in range(60):
            c.send_message(QueueUrl=url, MessageBody=f"m{i}")
            acked.add(f"m{i}")
        c.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"b{i}"} for i in range(10)])
        acked |= {f"b{i}" for i in range(10)}
        c.send_message(QueueUrl=fifo, MessageBody="f0", MessageGroupId="g", MessageDeduplicationId="f0")
        # one received and deleted: it stays deleted; one received, not deleted: it comes back
        got = c.receive_message(QueueUrl=url, MaxNumberOfMessages=2)["Messages"]
        c.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
        acked.discard(got[0]["Body"])
        srv.kill9()
    finally:
        srv.kill9()
    srv = lt.LaminaServer(data_dir=data, log_path=tmp_path / "b.log").start()
    try:
        c = srv.client("sqs")
        url = c.get_queue_url(QueueName="durable")["QueueUrl"]
        assert c.list_queue_tags(QueueUrl=url)["Tags"] == {"k": "v"}
        seen = set()
        while True:
            r = c.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
            if "Messages" not in r:
                break
            seen |= {m["Body"] for m in r["Messages"]}
        assert seen == acked
        fifo = c.get_queue_url(QueueName="durable.fifo")["QueueUrl"]
        m = c.receive_message(QueueUrl=fifo, AttributeNames=["All"])["Messages"][0]
        assert m["Body"] == "f0" and m["Attributes"]["MessageGroupId"] == "g"
    finally:
        srv.stop()


def test_shutdown_does_not_wait_for_long_polls(tmp_path):
    srv = lt.LaminaServer(log_path=tmp_path / "s.log").start()
    try:
        c = srv.client("sqs")
        url = c.create_queue(QueueName="waiting")["QueueUrl"]
        t = threading.Thread(target=lambda: contextlib_suppress(lambda: c.receive_message(QueueUrl=url, WaitTimeSeconds=20)))
        t.start()
        time.sleep(0.5)
        start = time.monotonic()
        code = srv.stop(grace=15)
        assert time.monotonic() - start < 5, "SIGTERM waited for a long poll"
        assert code == 0
        t.join(10)
    finally:
        srv.kill9()


def contextlib_suppress(fn):
    try:
        fn()
    except Exception:
        pass
