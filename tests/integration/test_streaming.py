"""Response streaming: InvokeWithResponseStream (boto3's event-stream parser checks the framing),
the Runtime API's streaming mode (lamina's Node runtime with awslambda.streamifyResponse, and a
`provided` bootstrap speaking raw HTTP), and function URLs in RESPONSE_STREAM mode answering
chunked, chunk by chunk as the function writes."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import socket
import time

import pytest

import lamina_testlib as lt
from lamina_testlib import expect_error, validation_message

STREAM_HANDLER = r'''
let invokes = 0;  // per environment: tells a reused one from a new one
exports.handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
  invokes += 1;
  const mode = event.mode || (event.queryStringParameters || {}).mode || 'slow';
  if (mode === 'slow') {
    responseStream.write('first,');
    await new Promise((r) => setTimeout(r, 1000));
    responseStream.write('second');
    responseStream.end();
    return;
  }
  if (mode === 'count') {
    responseStream.end(JSON.stringify({invokes, id: context.awsRequestId}));
    return;
  }
  if (mode === 'fail') {
    responseStream.write('partial');
    await new Promise((r) => setTimeout(r, 50));
    throw new TypeError('went wrong midway');
  }
  if (mode === 'hang') {
    responseStream.write('before the timeout');
    await new Promise((r) => setTimeout(r, 60000));
    return;
  }
  if (mode === 'http') {
    const stream = awslambda.HttpResponseStream.from(responseStream, {
      statusCode: 201, headers: {'Content-Type': 'text/event-stream', 'X-Custom': 'yes'},
      cookies: ['a=1; Path=/', 'b=2'],
    });
    stream.write('data: one\n\n');
    await new Promise((r) => setTimeout(r, 1000));
    stream.write('data: two\n\n');
    stream.end();
    return;
  }
  if (mode === 'http-fail') {
    const stream = awslambda.HttpResponseStream.from(responseStream, {statusCode: 200});
    stream.write('partial');
    await new Promise((r) => setTimeout(r, 50));
    throw new Error('broken after the head');
  }
  if (mode === 'big') {
    // `mb` MiB through pipeline(), with backpressure, of a known pattern
    const {pipeline} = require('stream/promises');
    const {Readable} = require('stream');
    const block = Buffer.alloc(1 << 20);
    for (let i = 0; i < block.length; i++) block[i] = i % 251;
    const mb = Number(event.mb || (event.queryStringParameters || {}).mb || 1);
    async function* blocks() { for (let i = 0; i < mb; i++) yield block; }
    await pipeline(Readable.from(blocks()), responseStream);
    return;
  }
  if (mode === 'typed') {
    responseStream.setContentType('text/plain; charset=utf-8');
    responseStream.end('typed');
    return;
  }
  responseStream.end('unknown mode');
});
'''

PY_HANDLER = '''
def handler(event, context):
    return {"python": True, "echo": event}
'''

# A `provided` runtime in Python: streams with raw HTTP/1.1 chunks and error trailers, as any
# custom runtime may (not lamina's bootstraps).
PROVIDED_BOOTSTRAP = r'''#!/usr/bin/env python3
import base64, json, os, socket, time
host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")

def exchange(raw):
    s = socket.create_connection((host, int(port)))
    s.sendall(raw)
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(body) < length:
        body += s.recv(65536)
    return head, body, s

while True:
    head, body, s = exchange(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n")
    s.close()
    rid = [l.split(b":", 1)[1].strip().decode() for l in head.split(b"\r\n")
           if l.lower().startswith(b"lambda-runtime-aws-request-id")][0]
    event = json.loads(body or b"{}")
    s = socket.create_connection((host, int(port)))
    s.sendall((f"POST /2018-06-01/runtime/invocation/{rid}/response HTTP/1.1\r\nHost: x\r\n"
               "Lambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n"
               "Content-Type: text/plain\r\n"
               "Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n\r\n").encode())
    s.sendall(b"3\r\none\r\n")
    time.sleep(0.5)
    s.sendall(b"3\r\ntwo\r\n")
    if event.get("fail"):
        err = base64.b64encode(json.dumps({"errorType": "Custom.Failure", "errorMessage": "bad",
                                           "stackTrace": []}).encode()).decode()
        s.sendall(("0\r\nLambda-Runtime-Function-Error-Type: Custom.Failure\r\n"
                   f"Lambda-Runtime-Function-Error-Body: {err}\r\n\r\n").encode())
    else:
        s.sendall(b"0\r\n\r\n")
    s.recv(65536)
    s.close()
'''


def create_node(lam, name=None, timeout=10, **kw):
    name = name or lt.unique("stream")
    lt.create_function(lam, name, Runtime="nodejs22.x", Handler="index.handler", Timeout=timeout,
                       zip_bytes=lt.make_zip({"index.js": STREAM_HANDLER}), **kw)
    return name


@pytest.fixture(scope="module")
def node_fn(lam):
    return create_node(lam)


def events_of(resp):
    """The events of an InvokeWithResponseStream answer, each with the time it arrived."""
    out = []
    for event in resp["EventStream"]:
        out.append((time.monotonic(), event))
    return out


def payload_of(events) -> bytes:
    return b"".join(e["PayloadChunk"]["Payload"] for _, e in events if "PayloadChunk" in e)


def arrival_of(chunks, prefix: bytes) -> float:
    """When the payload so far first held all of `prefix` (chunks on the way need not match the
    function's writes: a write may arrive in pieces, never later than the next one)."""
    got = b""
    for t, data in chunks:
        got += data
        if got.startswith(prefix):
            assert len(got) == len(prefix), f"{prefix!r} arrived only together with what followed it: {got!r}"
            return t
    raise AssertionError(f"{prefix!r} never arrived alone: {got!r}")


def complete_of(events) -> dict:
    last = events[-1][1]
    assert "InvokeComplete" in last, events
    assert sum(1 for _, e in events if "InvokeComplete" in e) == 1
    return last["InvokeComplete"]


class TestInvokeWithResponseStream:
    def test_chunks_arrive_while_the_function_runs(self, lam, node_fn):
        start = time.monotonic()
        resp = lam.invoke_with_response_stream(FunctionName=node_fn, Payload=json.dumps({"mode": "slow"}))
        assert resp["StatusCode"] == 200
        assert resp["ExecutedVersion"] == "$LATEST"
        assert resp["ResponseStreamContentType"] == "application/vnd.amazon.eventstream"
        events = events_of(resp)
        assert payload_of(events) == b"first,second"
        assert complete_of(events) == {}
        chunks = [(t, e["PayloadChunk"]["Payload"]) for t, e in events if "PayloadChunk" in e]
        # the first write came about a second before the end: it was not held back
        assert events[-1][0] - arrival_of(chunks, b"first,") > 0.7, [(t - start, e) for t, e in events]

    def test_invoke_collects_a_streamed_answer_whole(self, lam, node_fn):
        r = lam.invoke(FunctionName=node_fn, Payload=json.dumps({"mode": "slow"}))
        assert r["StatusCode"] == 200 and "FunctionError" not in r
        assert r["Payload"].read() == b"first,second"

    def test_error_midway_ends_with_invoke_complete(self, lam, node_fn):
        resp = lam.invoke_with_response_stream(FunctionName=node_fn, Payload=json.dumps({"mode": "fail"}),
                                               LogType="Tail")
        events = events_of(resp)
        assert payload_of(events) == b"partial"
        done = complete_of(events)
        assert done["ErrorCode"] == "TypeError"
        details = json.loads(done["ErrorDetails"])
        assert details["errorType"] == "TypeError" and details["errorMessage"] == "went wrong midway"
        log = base64.b64decode(done["LogResult"]).decode()
        assert "START RequestId:" in log and "REPORT RequestId:" in log and "went wrong midway" in log
        # through Invoke the same failure is an Unhandled function error
        r = lam.invoke(FunctionName=node_fn, Payload=json.dumps({"mode": "fail"}))
        assert r["FunctionError"] == "Unhandled"
        assert json.loads(r["Payload"].read())["errorMessage"] == "went wrong midway"

    def test_log_tail_of_a_good_stream(self, lam, node_fn):
        resp = lam.invoke_with_response_stream(FunctionName=node_fn, Payload=json.dumps({"mode": "count"}),
                                               LogType="Tail")
        done = complete_of(events_of(resp))
        assert set(done) == {"LogResult"}
        assert "END RequestId:" in base64.b64decode(done["LogResult"]).decode()

    def test_timeout_midway(self, lam):
        name = create_node(lam, timeout=2)
        resp = lam.invoke_with_response_stream(FunctionName=name, Payload=json.dumps({"mode": "hang"}))
        events = events_of(resp)
        assert payload_of(events) == b"before the timeout"
        done = complete_of(events)
        assert done["ErrorCode"] == "Sandbox.Timedout"
        assert "Task timed out after 2" in done["ErrorDetails"]
        # the environment that timed out is gone; the next invoke gets a new one
        r = lam.invoke(FunctionName=name, Payload=json.dumps({"mode": "count"}))
        assert json.loads(r["Payload"].read())["invokes"] == 1

    def test_python_answers_in_one_chunk(self, lam):
        name = lt.unique("streampy")
        lt.create_function(lam, name, zip_bytes=lt.make_zip({"handler.py": PY_HANDLER}))
        resp = lam.invoke_with_response_stream(FunctionName=name, Payload=b'{"a": 1}')
        events = events_of(resp)
        chunks = [e for _, e in events if "PayloadChunk" in e]
        assert len(chunks) == 1
        assert json.loads(chunks[0]["PayloadChunk"]["Payload"]) == {"python": True, "echo": {"a": 1}}
        assert complete_of(events) == {}

    def test_qualifiers_and_aliases(self, lam):
        name = create_node(lam)
        lam.publish_version(FunctionName=name)
        lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
        for q, version in (("1", "1"), ("live", "1"), ("$LATEST", "$LATEST")):
            resp = lam.invoke_with_response_stream(FunctionName=name, Qualifier=q,
                                                   Payload=json.dumps({"mode": "count"}))
            assert resp["ExecutedVersion"] == version
            assert json.loads(payload_of(events_of(resp)))["invokes"] >= 1

    def test_errors_before_the_stream_are_plain_errors(self, lam, lam_nv, node_fn):
        with expect_error("ResourceNotFoundException", 404):
            lam.invoke_with_response_stream(FunctionName="does-not-exist", Payload=b"{}")
        with expect_error("ResourceNotFoundException", 404):
            lam.invoke_with_response_stream(FunctionName=node_fn, Qualifier="nope", Payload=b"{}")
        with expect_error("ValidationException", 400, validation_message(
                "Value 'Event' at 'invocationType' failed to satisfy constraint: Member must satisfy "
                "enum value set: [RequestResponse, DryRun]")):
            lam_nv.invoke_with_response_stream(FunctionName=node_fn, InvocationType="Event", Payload=b"{}")
        with expect_error("InvalidRequestContentException", 400):
            lam.invoke_with_response_stream(FunctionName=node_fn, Payload=b"{not json")
        dry = lam.invoke_with_response_stream(FunctionName=node_fn, InvocationType="DryRun", Payload=b"{}")
        assert dry["StatusCode"] == 204

    def test_throttled_by_reserved_concurrency_zero(self, lam):
        name = create_node(lam)
        lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
        with expect_error("TooManyRequestsException", 429):
            lam.invoke_with_response_stream(FunctionName=name, Payload=b"{}")

    # (the aws CLI v1 on these machines has no invoke-with-response-stream command)


class TestRuntimeApiStreaming:
    def _provided(self, lam):
        name = lt.unique("streamraw")
        lt.create_function(lam, name, Runtime="provided.al2023", Handler="unused",
                           zip_bytes=lt.build_zip({"bootstrap": (PROVIDED_BOOTSTRAP, 0o755)}))
        return name

    def test_a_custom_runtime_streams_with_raw_chunks(self, lam):
        name = self._provided(lam)
        resp = lam.invoke_with_response_stream(FunctionName=name, Payload=b"{}")
        events = events_of(resp)
        chunks = [(t, e["PayloadChunk"]["Payload"]) for t, e in events if "PayloadChunk" in e]
        assert b"".join(c for _, c in chunks) == b"onetwo"
        assert events[-1][0] - arrival_of(chunks, b"one") > 0.3
        assert complete_of(events) == {}

    def test_error_trailers_fail_the_invocation(self, lam):
        name = self._provided(lam)
        resp = lam.invoke_with_response_stream(FunctionName=name, Payload=b'{"fail": true}')
        events = events_of(resp)
        assert payload_of(events) == b"onetwo"
        done = complete_of(events)
        assert done["ErrorCode"] == "Custom.Failure"
        assert json.loads(done["ErrorDetails"])["errorMessage"] == "bad"
        r = lam.invoke(FunctionName=name, Payload=b'{"fail": true}')
        assert r["FunctionError"] == "Unhandled"
        assert json.loads(r["Payload"].read())["errorType"] == "Custom.Failure"


def stream_url(lam, name, qualifier=None):
    kwargs = {"Qualifier": qualifier} if qualifier else {}
    url = lam.create_function_url_config(FunctionName=name, AuthType="NONE", InvokeMode="RESPONSE_STREAM",
                                         **kwargs)["FunctionUrl"]
    lam.add_permission(FunctionName=name, StatementId=lt.unique("url"), Action="lambda:InvokeFunctionUrl",
                       Principal="*", FunctionUrlAuthType="NONE", **kwargs)
    return url


def open_url(server, url, path):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("GET", path, headers={"Host": url.split("//", 1)[1].rstrip("/")})
    return conn, conn.getresponse()


class TestStreamingUrls:
    def test_http_prelude_sets_status_headers_cookies(self, lam, server):
        name = create_node(lam)
        url = stream_url(lam, name)
        conn, resp = open_url(server, url, "/?mode=http")
        try:
            assert resp.status == 201
            assert resp.getheader("Transfer-Encoding") == "chunked"
            assert resp.getheader("Content-Type") == "text/event-stream"
            assert resp.getheader("X-Custom") == "yes"
            assert resp.headers.get_all("Set-Cookie") == ["a=1; Path=/", "b=2"]
            # (chunks on the way need not match the function's writes: read up to the first event)
            first = b""
            while not first.endswith(b"\n\n"):
                piece = resp.read1(65536)
                assert piece, first
                first += piece
            t_first = time.monotonic()
            assert first == b"data: one\n\n"
            rest = resp.read()
            assert time.monotonic() - t_first > 0.7  # the second event came a second later
            assert rest == b"data: two\n\n"
        finally:
            conn.close()

    def test_plain_stream_keeps_its_content_type(self, lam, server):
        name = create_node(lam)
        url = stream_url(lam, name)
        conn, resp = open_url(server, url, "/?mode=typed")
        try:
            assert resp.status == 200
            assert resp.getheader("Content-Type") == "text/plain; charset=utf-8"
            assert resp.read() == b"typed"
        finally:
            conn.close()

    def test_curl_sees_the_first_chunk_early(self, lam, server):
        import shutil
        import subprocess
        if not shutil.which("curl"):
            pytest.skip("curl is not installed")
        name = create_node(lam)
        url = stream_url(lam, name)
        start = time.monotonic()
        proc = subprocess.Popen(["curl", "-sN", "--max-time", "20", "-H", f"Host: {url.split('//')[1].rstrip('/')}",
                                 f"http://127.0.0.1:{server.port}/?mode=slow"], stdout=subprocess.PIPE)
        try:
            first = b""
            while len(first) < len(b"first,"):
                piece = proc.stdout.read1(100)
                if not piece:
                    break
                first += piece
            t_first = time.monotonic()
            rest = proc.stdout.read()
            t_end = time.monotonic()
        finally:
            proc.kill()
            proc.wait()
        assert first + rest == b"first,second"
        assert first == b"first,"
        assert t_end - t_first > 0.7, (t_first - start, t_end - start)

    def test_error_after_the_head_breaks_the_body_off(self, lam, server):
        name = create_node(lam)
        url = stream_url(lam, name)
        conn, resp = open_url(server, url, "/?mode=http-fail")
        try:
            assert resp.status == 200
            with pytest.raises(http.client.IncompleteRead) as got:
                resp.read()
            assert got.value.partial == b"partial"
        finally:
            conn.close()

    def test_a_non_streaming_handler_answers_its_raw_result(self, lam, server):
        name = lt.unique("streampy")
        lt.create_function(lam, name, zip_bytes=lt.make_zip({"handler.py": PY_HANDLER}))
        url = stream_url(lam, name)
        conn, resp = open_url(server, url, "/")
        try:
            assert resp.status == 200
            body = json.loads(resp.read())
            assert body["python"] is True and body["echo"]["rawPath"] == "/"
        finally:
            conn.close()

    def test_a_client_that_leaves_does_not_break_the_function(self, lam, server):
        name = create_node(lam)
        url = stream_url(lam, name)
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        host = url.split("//", 1)[1].rstrip("/")
        sock.sendall(f"GET /?mode=slow HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        got = b""
        while b"first," not in got:
            got += sock.recv(65536)
        sock.close()  # gone before the function's second write
        time.sleep(1.5)  # the function runs to its end, unheard
        # the same environment serves the next request: the invocation ended cleanly
        conn, resp = open_url(server, url, "/?mode=count")
        try:
            assert json.loads(resp.read())["invokes"] == 2
        finally:
            conn.close()

    def test_200_mib_stream_arrives_whole(self, lam, server):
        name = create_node(lam, timeout=120, MemorySize=512)
        url = stream_url(lam, name)
        block = bytes(i % 251 for i in range(1 << 20))
        want = hashlib.sha256()
        for _ in range(200):
            want.update(block)
        conn, resp = open_url(server, url, "/?mode=big&mb=200")
        got = hashlib.sha256()
        n = 0
        try:
            assert resp.status == 200
            while True:
                piece = resp.read1(1 << 20)
                if not piece:
                    break
                got.update(piece)
                n += len(piece)
        finally:
            conn.close()
        assert n == 200 << 20
        assert got.hexdigest() == want.hexdigest()


class TestJsSdk:
    def test_invoke_with_response_stream_command(self, server, lam, node_fn):
        missing = lt.node_missing("@aws-sdk/client-lambda")
        if missing:
            pytest.skip(missing)
        seen = lt.run_node("invoke_stream.mjs", {"endpoint": server.url, "region": lt.REGION,
                                                 "functionName": node_fn, "payload": json.dumps({"mode": "slow"})})
        assert seen["statusCode"] == 200 and seen["executedVersion"] == "$LATEST"
        assert "".join(c["text"] for c in seen["chunks"]) == "first,second"
        first_ms = arrival_of([(c["ms"], c["text"].encode()) for c in seen["chunks"]], b"first,")
        assert seen["endMs"] - first_ms > 700  # the first write came early
        log = base64.b64decode(seen["complete"]["LogResult"]).decode()
        assert "REPORT RequestId:" in log
        assert "ErrorCode" not in seen["complete"]

    def test_error_midway_through_the_js_sdk(self, server, lam, node_fn):
        missing = lt.node_missing("@aws-sdk/client-lambda")
        if missing:
            pytest.skip(missing)
        seen = lt.run_node("invoke_stream.mjs", {"endpoint": server.url, "region": lt.REGION,
                                                 "functionName": node_fn, "payload": json.dumps({"mode": "fail"})})
        assert "".join(c["text"] for c in seen["chunks"]) == "partial"
        assert seen["complete"]["ErrorCode"] == "TypeError"
        assert json.loads(seen["complete"]["ErrorDetails"])["errorMessage"] == "went wrong midway"


class TestUrlLimits:
    def test_oversize_requests_are_413_and_run_nothing(self, lam, server):
        name = create_node(lam)
        url = lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
        lam.add_permission(FunctionName=name, StatementId="pub", Action="lambda:InvokeFunctionUrl",
                           Principal="*", FunctionUrlAuthType="NONE")
        host = url.split("//", 1)[1].rstrip("/")
        # over 6 MB as sent: refused from its head (a client that waits for 100-continue, as
        # curl does for large bodies, hears it before sending the body)
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        sock.sendall(f"POST /?mode=count HTTP/1.1\r\nHost: {host}\r\nContent-Type: text/plain\r\n"
                     f"Content-Length: {6 * 1024 * 1024 + 1}\r\nExpect: 100-continue\r\n\r\n".encode())
        answer = b""
        while True:
            piece = sock.recv(65536)
            if not piece:
                break
            answer += piece
        sock.close()
        head, _, got = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 413"), head
        assert b"x-amzn-ErrorType: RequestEntityTooLargeException" in head
        assert json.loads(got)["Message"].startswith("Request must be smaller than 6291456 bytes")
        # under 6 MB as sent, over it as the base64 of the event
        status, headers, got = lt.http_request(f"http://127.0.0.1:{server.port}/?mode=count", "POST",
                                               b"\xff" * (5 * 1024 * 1024),
                                               {"Host": host, "Content-Type": "application/octet-stream"})
        assert status == 413, got[:200]
        assert headers["x-amzn-errortype"] == "RequestEntityTooLargeException"
        assert json.loads(got)["Message"].startswith("Request must be smaller than 6291456 bytes")
        # nothing ran: the first invocation the function sees is the next one
        status, _, got = lt.http_request(f"http://127.0.0.1:{server.port}/?mode=count", "GET", None, {"Host": host})
        assert status == 200 and json.loads(got)["invokes"] == 1


@pytest.mark.timeout_s(120)
def test_bandwidth_shaping_flag_paces_past_the_first_6_mib(tmp_path):
    """`serve --stream-bandwidth-shaping`: as AWS, a streamed answer's first 6 MiB go at full speed
    and the rest at 2 MiB/s, through a RESPONSE_STREAM URL and InvokeWithResponseStream alike. The
    test checks the pace is not exceeded (a lower bound on time: a slow machine cannot fail it)."""
    srv = lt.LaminaServer(data_dir=tmp_path / "data", log_path=tmp_path / "server.log",
                          extra_args=["--stream-bandwidth-shaping"]).start()
    try:
        lam = srv.client("lambda")
        name = create_node(lam, timeout=30)
        url = stream_url(lam, name)
        conn, resp = open_url(srv, url, "/?mode=big&mb=10")
        try:
            got, marks, start = 0, {}, time.monotonic()
            while True:
                piece = resp.read1(1 << 20)
                if not piece:
                    break
                got += len(piece)
                for mib in (6, 10):
                    if got >= mib << 20 and mib not in marks:
                        marks[mib] = time.monotonic() - start
        finally:
            conn.close()
        assert got == 10 << 20
        # the 4 MiB past the free 6 cannot come faster than 2 MiB/s (the last chunk may start at once)
        assert marks[10] - marks[6] >= 1.3, marks
        r = lam.invoke_with_response_stream(FunctionName=name, Payload=json.dumps({"mode": "big", "mb": 8}))
        start = time.monotonic()
        size = sum(len(e["PayloadChunk"]["Payload"]) for e in r["EventStream"] if "PayloadChunk" in e)
        assert size == 8 << 20 and time.monotonic() - start >= 0.4  # 2 MiB past 6 at 2 MiB/s, less a chunk
    finally:
        srv.stop()
