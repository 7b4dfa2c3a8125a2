"""AWS's own Node.js Runtime Interface Client (npm `aws-lambda-ric`, the RIC of custom Node images,
with its native aws-lambda-cpp + curl client) against lamina's Runtime API: a `provided.al2023`
function whose bootstrap execs node on the RIC, shipped as a layer. Buffered answers and errors go
through the RIC's native client; streamed ones (`awslambda.streamifyResponse` and
`awslambda.HttpResponseStream` as the RIC defines them) through its chunked POST with error
trailers. The RIC is built by scripts/install-deps.sh into tests/integration/ric."""

from __future__ import annotations

import base64
import http.client
import json
import time
from pathlib import Path

import pytest

import lamina_testlib as lt
from test_streaming import arrival_of, complete_of, events_of, payload_of

RIC_DIR = Path(__file__).resolve().parent / "ric" / "node_modules" / "aws-lambda-ric"
# the RIC takes the handler from _HANDLER; node is the host's, seen through the sandbox's /usr
BOOTSTRAP = "#!/bin/sh\nexec node /opt/nodejs/node_modules/aws-lambda-ric/index.mjs \"$_HANDLER\"\n"

HANDLERS = r'''
let invokes = 0;  // per environment: tells a reused one from a new one
const pause = (ms) => new Promise((r) => setTimeout(r, ms));

exports.buffered = async (event, context) => {
  invokes += 1;
  if (event.mode === 'throw') {
    const err = new TypeError('buffered went wrong');
    err.detail = 'extra';
    throw err;
  }
  console.log('buffered got', JSON.stringify(event));
  return {echo: event, invokes, requestId: context.awsRequestId, functionName: context.functionName,
          remainingMs: context.getRemainingTimeInMillis()};
};

exports.streaming = awslambda.streamifyResponse(async (event, responseStream, context) => {
  invokes += 1;
  const mode = event.mode || (event.queryStringParameters || {}).mode || 'slow';
  if (mode === 'slow') {
    responseStream.write('one,');
    await pause(1000);
    responseStream.write('two,');
    await pause(1000);
    responseStream.end('three');
    return;
  }
  if (mode === 'count') {
    responseStream.end(JSON.stringify({invokes, requestId: context.awsRequestId}));
    return;
  }
  if (mode === 'fail') {
    responseStream.write('partial');
    await pause(500);
    throw new RangeError('went wrong midway');
  }
  if (mode === 'throw') {
    throw new Error('thrown before any write');
  }
  if (mode === 'http') {
    const stream = awslambda.HttpResponseStream.from(responseStream, {
      statusCode: 201, headers: {'Content-Type': 'text/event-stream', 'X-Custom': 'ric'},
      cookies: ['a=1; Path=/', 'b=2'],
    });
    stream.write('data: one\n\n');
    await pause(1000);
    stream.write('data: two\n\n');
    stream.end();
    return;
  }
  responseStream.end('unknown mode');
});
'''


def _ric_missing() -> str | None:
    if not (RIC_DIR / "rapid-client.node").exists():
        return f"aws-lambda-ric is not installed in {RIC_DIR.parent.parent} (bash scripts/install-deps.sh test)"
    return None


@pytest.fixture(scope="module")
def ric_layer(lam):
    missing = _ric_missing()
    if missing:
        pytest.skip(missing)
    files = {f"nodejs/node_modules/aws-lambda-ric/{name}": (RIC_DIR / name).read_bytes()
             for name in ("package.json", "index.mjs", "rapid-client.node")}
    layer = lam.publish_layer_version(LayerName=lt.unique("ric"), Content={"ZipFile": lt.build_zip(files)},
                                      CompatibleRuntimes=["provided.al2023"])
    return layer["LayerVersionArn"]


def ric_version() -> str:
    return json.loads((RIC_DIR / "package.json").read_text())["version"]


def create_ric_function(lam, layer: str, handler: str, timeout: int = 10) -> str:
    name = lt.unique("ric")
    code = lt.build_zip({"bootstrap": (BOOTSTRAP, 0o755), "index.js": HANDLERS})
    lt.create_function(lam, name, Runtime="provided.al2023", Handler=handler, Timeout=timeout,
                       Layers=[layer], zip_bytes=code)
    return name


@pytest.fixture(scope="module")
def buffered_fn(lam, ric_layer):
    return create_ric_function(lam, ric_layer, "index.buffered")


@pytest.fixture(scope="module")
def streaming_fn(lam, ric_layer):
    return create_ric_function(lam, ric_layer, "index.streaming")


def chunks_of(events):
    return [(t, e["PayloadChunk"]["Payload"]) for t, e in events if "PayloadChunk" in e]


class TestBuffered:
    def test_invoke_answers_through_the_native_client(self, lam, buffered_fn):
        r = lam.invoke(FunctionName=buffered_fn, Payload=json.dumps({"hello": "ric"}), LogType="Tail")
        assert r["StatusCode"] == 200 and "FunctionError" not in r, r
        body = json.loads(r["Payload"].read())
        assert body["echo"] == {"hello": "ric"}
        assert body["functionName"] == buffered_fn
        assert lt.UUID_RE.match(body["requestId"])
        assert 0 < body["remainingMs"] <= 10_000  # the deadline header reached the context
        log = base64.b64decode(r["LogResult"]).decode()
        # the RIC's console: "<time>\t<request id>\tINFO\t<message>"
        assert f"\t{body['requestId']}\tINFO\tbuffered got {{\"hello\":\"ric\"}}" in log, log
        # the same environment answers the next invocation
        again = json.loads(lam.invoke(FunctionName=buffered_fn, Payload=b"{}")["Payload"].read())
        assert again["invokes"] == body["invokes"] + 1

    def test_a_thrown_error_is_an_unhandled_function_error(self, lam, buffered_fn):
        r = lam.invoke(FunctionName=buffered_fn, Payload=json.dumps({"mode": "throw"}))
        assert r["StatusCode"] == 200
        assert r["FunctionError"] == "Unhandled"
        err = json.loads(r["Payload"].read())
        assert err["errorType"] == "TypeError"
        assert err["errorMessage"] == "buffered went wrong"
        assert any("index.js" in line for line in err["trace"]), err
        # the environment survives a handled failure
        r = lam.invoke(FunctionName=buffered_fn, Payload=b"{}")
        assert "FunctionError" not in r and "invokes" in json.loads(r["Payload"].read())

    def test_invoke_with_response_stream_of_a_buffered_handler(self, lam, buffered_fn):
        events = events_of(lam.invoke_with_response_stream(FunctionName=buffered_fn, Payload=b'{"a": 1}'))
        assert json.loads(payload_of(events))["echo"] == {"a": 1}
        assert complete_of(events) == {}
        events = events_of(lam.invoke_with_response_stream(FunctionName=buffered_fn,
                                                           Payload=json.dumps({"mode": "throw"})))
        done = complete_of(events)
        assert done["ErrorCode"] == "TypeError"
        assert json.loads(done["ErrorDetails"])["errorMessage"] == "buffered went wrong"


class TestStreaming:
    def test_chunks_arrive_as_the_function_writes_them(self, lam, streaming_fn):
        start = time.monotonic()
        resp = lam.invoke_with_response_stream(FunctionName=streaming_fn, Payload=json.dumps({"mode": "slow"}))
        assert resp["StatusCode"] == 200
        assert resp["ExecutedVersion"] == "$LATEST"
        events = events_of(resp)
        assert payload_of(events) == b"one,two,three"
        assert complete_of(events) == {}
        chunks = chunks_of(events)
        t_one, t_two = arrival_of(chunks, b"one,"), arrival_of(chunks, b"one,two,")
        timeline = [(round(t - start, 3), c) for t, c in chunks]
        # each write came about a second before the next: none was held back to the end
        assert t_two - t_one > 0.7, timeline
        assert events[-1][0] - t_two > 0.7, timeline

    def test_invoke_collects_the_stream_whole(self, lam, streaming_fn):
        r = lam.invoke(FunctionName=streaming_fn, Payload=json.dumps({"mode": "slow"}))
        assert r["StatusCode"] == 200 and "FunctionError" not in r
        assert r["Payload"].read() == b"one,two,three"

    def test_the_environment_streams_again(self, lam, streaming_fn):
        first = json.loads(payload_of(events_of(lam.invoke_with_response_stream(
            FunctionName=streaming_fn, Payload=json.dumps({"mode": "count"})))))
        second = json.loads(payload_of(events_of(lam.invoke_with_response_stream(
            FunctionName=streaming_fn, Payload=json.dumps({"mode": "count"})))))
        assert second["invokes"] == first["invokes"] + 1
        assert second["requestId"] != first["requestId"]

    def test_error_midway_arrives_as_trailers(self, lam, streaming_fn):
        resp = lam.invoke_with_response_stream(FunctionName=streaming_fn, Payload=json.dumps({"mode": "fail"}),
                                               LogType="Tail")
        events = events_of(resp)
        assert payload_of(events) == b"partial"
        done = complete_of(events)
        assert done["ErrorCode"] == "RangeError"
        details = json.loads(done["ErrorDetails"])
        assert details["errorType"] == "RangeError" and details["errorMessage"] == "went wrong midway"
        assert "REPORT RequestId:" in base64.b64decode(done["LogResult"]).decode()
        r = lam.invoke(FunctionName=streaming_fn, Payload=json.dumps({"mode": "fail"}))
        assert r["FunctionError"] == "Unhandled"
        err = json.loads(r["Payload"].read())
        assert err["errorType"] == "RangeError" and err["errorMessage"] == "went wrong midway"

    def test_error_before_any_write(self, lam, streaming_fn):
        events = events_of(lam.invoke_with_response_stream(FunctionName=streaming_fn,
                                                           Payload=json.dumps({"mode": "throw"})))
        assert payload_of(events) == b""
        done = complete_of(events)
        assert done["ErrorCode"] == "Error"
        assert json.loads(done["ErrorDetails"])["errorMessage"] == "thrown before any write"
        r = lam.invoke(FunctionName=streaming_fn, Payload=json.dumps({"mode": "throw"}))
        assert r["FunctionError"] == "Unhandled"
        assert json.loads(r["Payload"].read())["errorMessage"] == "thrown before any write"


class TestStreamingUrl:
    def test_http_prelude_sets_status_headers_cookies(self, lam, server, streaming_fn):
        url = lam.create_function_url_config(FunctionName=streaming_fn, AuthType="NONE",
                                             InvokeMode="RESPONSE_STREAM")["FunctionUrl"]
        lam.add_permission(FunctionName=streaming_fn, StatementId="url", Action="lambda:InvokeFunctionUrl",
                           Principal="*", FunctionUrlAuthType="NONE")
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        try:
            conn.request("GET", "/?mode=http", headers={"Host": url.split("//", 1)[1].rstrip("/")})
            resp = conn.getresponse()
            assert resp.status == 201
            assert resp.getheader("Transfer-Encoding") == "chunked"
            assert resp.getheader("Content-Type") == "text/event-stream"
            assert resp.getheader("X-Custom") == "ric"
            assert resp.headers.get_all("Set-Cookie") == ["a=1; Path=/", "b=2"]
            first = b""
            while not first.endswith(b"\n\n"):
                piece = resp.read1(65536)
                assert piece, first
                first += piece
            t_first = time.monotonic()
            assert first == b"data: one\n\n"  # no prelude or NUL delimiter in the body
            rest = resp.read()
            assert time.monotonic() - t_first > 0.7  # the second event came a second later
            assert rest == b"data: two\n\n"
        finally:
            conn.close()


def test_the_version_tested_is_the_one_pinned_and_named():
    missing = _ric_missing()
    if missing:
        pytest.skip(missing)
    pinned = json.loads((RIC_DIR.parent.parent / "package.json").read_text())["dependencies"]["aws-lambda-ric"]
    assert ric_version() == pinned, "tests/integration/ric is stale: bash scripts/install-deps.sh test"
    assert f"`aws-lambda-ric` {pinned}" in (lt.REPO / "README.md").read_text()  # its streaming section
