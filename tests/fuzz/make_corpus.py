#!/usr/bin/env python3
"""Writes the seed corpora in tests/fuzz/corpus/ (run it again after adding
an operation; commit what it writes). Requests are the ones botocore puts on
the wire: every Lambda operation with its required members filled, STS and
IAM query calls, CloudWatch in its three protocols, signed with AWS's SigV4
test key at 2026-01-01T00:00:00Z (the time fuzz_sigv4 checks against).

Usage: python3 tests/fuzz/make_corpus.py   (needs python3-boto3 from apt)
"""

import base64
import datetime
import hashlib
import io
import json
import os
import stat
import struct
import sys
import uuid
import zipfile

import botocore.auth
import botocore.awsrequest
import botocore.session
from botocore.config import Config

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
SEP = "\n=====\n"
ACCOUNT = "123456789012"
FUNCTION = "my-function"

botocore.auth.get_current_datetime = lambda: datetime.datetime(2026, 1, 1, 0, 0, 0)
# idempotency tokens botocore fills in: fixed, so that the seeds are stable
uuid.uuid4 = lambda: uuid.UUID("00000000-0000-4000-8000-000000000000")


def small_zip(entries):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data, mode, deflate in entries:
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.create_system = 3
            info.external_attr = mode << 16
            info.compress_type = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
            z.writestr(info, data)
    return buf.getvalue()


HANDLER_ZIP = small_zip([("index.py", "def handler(event, context):\n    return event\n",
                          stat.S_IFREG | 0o644, True)])

NAMED = {
    "FunctionName": FUNCTION,
    "Qualifier": "live",
    "Name": "live",
    "FunctionVersion": "1",
    "Role": f"arn:aws:iam::{ACCOUNT}:role/lambda-role",
    "Runtime": "python3.12",
    "Handler": "index.handler",
    "LayerName": "my-layer",
    "StatementId": "sid-1",
    "Action": "lambda:InvokeFunction",
    "Principal": "s3.amazonaws.com",
    "Resource": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{FUNCTION}",
    "Arn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:my-layer:1",
    "UUID": "6d6c6f2b-0000-4000-8000-000000000001",
    "CodeSigningConfigArn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:code-signing-config:csc-0123456789abcdef0",
    "CapacityProviderName": "cp",
    "DurableExecutionArn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{FUNCTION}:1/durable-execution/x/y",
    "CallbackId": "cb-1",
    "CheckpointToken": "tok",
    "EventSourceArn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:queue",
    "RecursiveLoop": "Terminate",
}


def example(shape, name=None, depth=0):
    if name in NAMED and shape.type_name == "string":
        return NAMED[name]
    t = shape.type_name
    if t == "structure":
        if depth > 3:
            return {}
        return {m: example(shape.members[m], m, depth + 1) for m in shape.required_members}
    if t == "list":
        return [example(shape.member, None, depth + 1)]
    if t == "map":
        return {"key": example(shape.value, None, depth + 1)}
    if t == "string":
        return shape.enum[0] if shape.enum else "value"
    if t in ("integer", "long"):
        return max(1, int(shape.metadata.get("min", 1)))
    if t == "boolean":
        return True
    if t in ("float", "double"):
        return 1.5
    if t == "blob":
        return HANDLER_ZIP if name == "ZipFile" else b'{"key": "value"}'
    if t == "timestamp":
        return datetime.datetime(2026, 1, 1)
    return None


OVERRIDES = {
    "CreateFunction": {"FunctionName": FUNCTION, "Role": NAMED["Role"], "Runtime": "python3.12",
                       "Handler": "index.handler", "Code": {"ZipFile": HANDLER_ZIP}, "MemorySize": 256,
                       "Timeout": 5, "Environment": {"Variables": {"MY_VAR": "b"}}, "Tags": {"team": "x"}},
    "UpdateFunctionCode": {"FunctionName": FUNCTION, "ZipFile": HANDLER_ZIP, "Publish": True},
    "UpdateFunctionConfiguration": {"FunctionName": FUNCTION, "MemorySize": 512, "Timeout": 9,
                                    "Description": "d", "Layers": [NAMED["Arn"]]},
    "PublishLayerVersion": {"LayerName": "my-layer", "Content": {"ZipFile": HANDLER_ZIP},
                            "CompatibleRuntimes": ["python3.12"]},
    "Invoke": {"FunctionName": FUNCTION, "Payload": b'{"hello": "world"}', "LogType": "Tail",
               "ClientContext": base64.b64encode(b'{"custom": {}}').decode()},
    "CreateAlias": {"FunctionName": FUNCTION, "Name": "live", "FunctionVersion": "1",
                    "RoutingConfig": {"AdditionalVersionWeights": {"2": 0.5}}},
    "ListFunctions": {"MaxItems": 5, "FunctionVersion": "ALL"},
    "AddLayerVersionPermission": {"LayerName": "my-layer", "VersionNumber": 1, "StatementId": "sid-1",
                                  "Action": "lambda:GetLayerVersion", "Principal": "*"},
    "AddPermission": {"FunctionName": FUNCTION, "StatementId": "sid-1", "Action": "lambda:InvokeFunction",
                      "Principal": "s3.amazonaws.com", "SourceArn": "arn:aws:s3:::bucket"},
    "PutFunctionEventInvokeConfig": {"FunctionName": FUNCTION, "MaximumRetryAttempts": 1,
                                     "MaximumEventAgeInSeconds": 60},
}


class Capture:
    def __init__(self):
        self.requests = []

    def __call__(self, request, **kwargs):
        self.requests.append(request)
        return botocore.awsrequest.AWSResponse(request.url, 200, {}, io.BytesIO(b"{}"))


def session_with_protocol(service, protocol):
    """A session whose model of `service` speaks only `protocol` (botocore picks the first it knows)."""
    session = botocore.session.get_session()
    if not protocol:
        return session
    import json
    import tempfile
    data = session.get_service_data(service)
    data["metadata"]["protocol"] = protocol
    data["metadata"]["protocols"] = [protocol]
    version = data["metadata"]["apiVersion"]
    path = os.path.join(tempfile.mkdtemp(), service, version)
    os.makedirs(path)
    with open(os.path.join(path, "service-2.json"), "w") as f:
        json.dump(data, f)
    session = botocore.session.get_session()
    session.set_config_variable("data_path", os.path.dirname(os.path.dirname(path)))
    return session


def client(service, protocol=None, **cfg):
    session = session_with_protocol(service, protocol)
    c = session.create_client(service, region_name="us-east-1", endpoint_url="http://127.0.0.1:9001",
                              aws_access_key_id="AKIDEXAMPLE",
                              aws_secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                              config=Config(retries={"max_attempts": 1}, **cfg))
    capture = Capture()
    c.meta.events.register("before-send", capture)
    return c, capture


def as_text(request):
    url = request.url.split("://", 1)[1]
    host, _, target = url.partition("/")
    lines = [f"{request.method} /{target}", f"Host: {host}"]
    for k, v in request.headers.items():
        if k.lower() in ("user-agent", "amz-sdk-invocation-id", "amz-sdk-request"):
            continue
        lines.append(f"{k}: {v.decode() if isinstance(v, bytes) else v}")
    body = request.body or b""
    if hasattr(body, "read"):
        body = body.read()
    if isinstance(body, str):
        body = body.encode()
    return ("\n".join(lines) + "\n\n").encode() + body


def lambda_requests():
    c, capture = client("lambda")
    model = c.meta.service_model
    out = {}
    for op in model.operation_names:
        params = OVERRIDES.get(op) or example(model.operation_model(op).input_shape)
        capture.requests.clear()
        try:
            getattr(c, botocore.xform_name(op))(**params)
        except Exception:
            pass  # the captured request is what matters, not the fake answer
        if capture.requests:
            out[op] = as_text(capture.requests[0])
    return out


def call(service, method, params, protocol=None):
    c, capture = client(service, protocol)
    try:
        getattr(c, method)(**params)
    except Exception:
        pass
    return as_text(capture.requests[0])


def other_requests():
    now = datetime.datetime(2026, 1, 1)
    metric = {"Namespace": "AWS/Lambda", "MetricName": "Invocations",
              "Dimensions": [{"Name": "FunctionName", "Value": FUNCTION}],
              "StartTime": now - datetime.timedelta(hours=1), "EndTime": now, "Period": 60,
              "Statistics": ["Sum", "Average"]}
    data = {"MetricDataQueries": [{"Id": "m1", "MetricStat": {
        "Metric": {"Namespace": "AWS/Lambda", "MetricName": "Duration",
                   "Dimensions": [{"Name": "FunctionName", "Value": FUNCTION}]},
        "Period": 60, "Stat": "Maximum"}}],
        "StartTime": now - datetime.timedelta(hours=1), "EndTime": now}
    out = {
        "sts_GetCallerIdentity": call("sts", "get_caller_identity", {}),
        "iam_CreateRole": call("iam", "create_role", {"RoleName": "lambda-role", "AssumeRolePolicyDocument":
                                                       '{"Version":"2012-10-17","Statement":[]}'}),
        "iam_GetRole": call("iam", "get_role", {"RoleName": "lambda-role"}),
    }
    for name, params in (("GetMetricStatistics", metric), ("GetMetricData", data),
                         ("ListMetrics", {"Namespace": "AWS/Lambda"})):
        method = botocore.xform_name(name)
        for proto in ("smithy-rpc-v2-cbor", "json", "query"):
            out[f"cloudwatch_{proto}_{name}"] = call("cloudwatch", method, params, protocol=proto)
    return out


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def cbor(v):
    """Minimal CBOR encoder for the seeds (maps, arrays, text, ints, floats, tag 1)."""
    def head(major, n):
        if n < 24:
            return bytes([major << 5 | n])
        for info, fmt in ((24, ">B"), (25, ">H"), (26, ">I"), (27, ">Q")):
            if n < 1 << (8 * struct.calcsize(fmt)):
                return bytes([major << 5 | info]) + struct.pack(fmt, n)
    if isinstance(v, bool):
        return b"\xf5" if v else b"\xf4"
    if v is None:
        return b"\xf6"
    if isinstance(v, int):
        return head(0, v) if v >= 0 else head(1, -1 - v)
    if isinstance(v, float):
        return b"\xfb" + struct.pack(">d", v)
    if isinstance(v, str):
        b = v.encode()
        return head(3, len(b)) + b
    if isinstance(v, bytes):
        return head(2, len(v)) + v
    if isinstance(v, list):
        return head(4, len(v)) + b"".join(cbor(x) for x in v)
    if isinstance(v, dict):
        return head(5, len(v)) + b"".join(cbor(k) + cbor(x) for k, x in v.items())
    if isinstance(v, datetime.datetime):
        return b"\xc1" + cbor(float(v.replace(tzinfo=datetime.timezone.utc).timestamp()))
    raise TypeError(v)


def main():
    # regenerate the seeds; hand-added regression inputs stay
    for d, _, files in os.walk(CORPUS):
        for f in files:
            if not f.startswith("regression-"):
                os.remove(os.path.join(d, f))
    write_dict()
    lam = lambda_requests()
    other = other_requests()

    # fuzz_api_dispatch: each operation alone, then lifecycles on one function
    for op, req in sorted({**lam, **other}.items()):
        write("fuzz_api_dispatch", op, req)
    sep = SEP.encode()
    lifecycles = {
        "seq_function_lifecycle": ["CreateFunction", "GetFunction", "PublishVersion", "CreateAlias", "Invoke",
                                   "UpdateFunctionConfiguration", "ListVersionsByFunction", "DeleteFunction"],
        "seq_permissions": ["CreateFunction", "AddPermission", "GetPolicy", "RemovePermission", "TagResource",
                            "ListTags", "UntagResource"],
        "seq_layers": ["PublishLayerVersion", "ListLayerVersions", "GetLayerVersion", "AddLayerVersionPermission",
                       "GetLayerVersionPolicy", "CreateFunction", "UpdateFunctionConfiguration",
                       "DeleteLayerVersion"],
        "seq_concurrency": ["CreateFunction", "PublishVersion", "PutFunctionConcurrency", "GetFunctionConcurrency",
                            "PutProvisionedConcurrencyConfig", "ListProvisionedConcurrencyConfigs",
                            "PutFunctionEventInvokeConfig", "GetFunctionEventInvokeConfig", "GetAccountSettings"],
        "seq_code": ["CreateFunction", "UpdateFunctionCode", "GetFunctionConfiguration", "InvokeAsync",
                     "ListFunctions"],
    }
    for name, ops in lifecycles.items():
        write("fuzz_api_dispatch", name, sep.join(lam[o] for o in ops if o in lam))
    write("fuzz_api_dispatch", "health", b"GET /health\n\n")
    write("fuzz_api_dispatch", "metrics", b"GET /metrics\n\n")

    # fuzz_sigv4: the signed requests as they are
    for op in ("GetFunction", "ListFunctions", "Invoke", "CreateAlias", "ListTags"):
        write("fuzz_sigv4", op, lam[op])
    for name in ("sts_GetCallerIdentity", "iam_GetRole", "cloudwatch_json_ListMetrics"):
        if name in other:
            write("fuzz_sigv4", name, other[name])
    write("fuzz_sigv4", "presigned",
          b"GET /2015-03-31/functions/my-function?X-Amz-Algorithm=AWS4-HMAC-SHA256"
          b"&X-Amz-Credential=AKIDEXAMPLE%2F20260101%2Fus-east-1%2Flambda%2Faws4_request"
          b"&X-Amz-Date=20260101T000000Z&X-Amz-SignedHeaders=host&X-Amz-Signature=00\nHost: 127.0.0.1:9001\n\n")

    # fuzz_names_router: mode byte, FunctionName, Qualifier, a request line
    names = ["my-function", "my-function:live", "my-function:$LATEST", "my-function:1",
             f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:my-function",
             f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:my-function:live",
             f"{ACCOUNT}:function:my-function", "us-east-1:my-function", "function:my-function",
             f"arn:aws-us-gov:lambda:us-gov-west-1:{ACCOUNT}:function:f:$LATEST.PUBLISHED",
             f"arn:aws:lambda:eu-west-1:210987654321:function:other", "my.function"]
    quals = ["live", "$LATEST", "1", "", "0", "%20", "bGl2ZQ=="]
    for i, op in enumerate(sorted(lam)):
        name = names[i % len(names)]
        request_line = lam[op].split(b"\n", 1)[0]
        write("fuzz_names_router", f"{op}", bytes([i % 16]) + f"{name}\n{quals[i % len(quals)]}\n".encode() +
              request_line + b"\n\n")

    # fuzz_cbor_cloudwatch: raw CBOR, then bodies per protocol (mode picks the protocol and the operation)
    ops = ["GetMetricStatistics", "GetMetricData", "ListMetrics"]
    for name, req in other.items():
        if not name.startswith("cloudwatch_"):
            continue
        _, proto, op = name.split("_", 2)
        body = req.split(b"\n\n", 1)[1]
        mode = {"smithy-rpc-v2-cbor": 1, "json": 2, "query": 3}[proto] + 4 * ops.index(op)
        write("fuzz_cbor_cloudwatch", f"{proto}_{op}", bytes([mode]) + body)
        if proto == "smithy-rpc-v2-cbor":
            write("fuzz_cbor_cloudwatch", f"raw_{op}", b"\x00" + body)
    samples = {
        "raw_scalars": [0, 23, 24, 255, 65536, 2**32, -1, -2**40, 1.5, True, False, None, "", "t\u00e9xt", b"\x00\xff"],
        "raw_nested": {"a": [{"b": {"c": [1, [2, [3]]]}}], "d": {}},
        "raw_time": {"StartTime": datetime.datetime(2026, 1, 1), "Period": 60},
    }
    for name, v in samples.items():
        write("fuzz_cbor_cloudwatch", name, b"\x00" + cbor(v))
    write("fuzz_cbor_cloudwatch", "raw_indefinite", b"\x00\xbf\x63key\x9f\x01\x02\xff\x7f\x61a\x61b\xff\xf9\x3c\x00\xff")

    # fuzz_zip: small archives of each kind lamina meets
    reg, d, lnk = stat.S_IFREG, stat.S_IFDIR, stat.S_IFLNK
    zips = {
        "handler": [("index.py", "def handler(e, c):\n    return e\n", reg | 0o644, True)],
        "tree": [("bin/", "", d | 0o755, False), ("bin/run", "#!/bin/sh\necho hi\n", reg | 0o755, False),
                 ("lib/a/b/c.txt", "c", reg | 0o600, True)],
        "layer_python": [("python/", "", d | 0o755, False), ("python/mod.py", "X = 1\n", reg | 0o644, True)],
        "symlink_inside": [("lib/real.so", "elf", reg | 0o755, False), ("lib/link.so", "real.so", lnk | 0o777, False)],
        "symlink_up_inside": [("a/b/f", "f", reg | 0o644, False), ("a/b/l", "../b/f", lnk | 0o777, False)],
        "symlink_outside": [("l", "../../etc/passwd", lnk | 0o777, False)],
        "dotdot": [("a/../../x", "x", reg | 0o644, False)],
        "file_and_dir": [("x", "x", reg | 0o644, False), ("x/y", "y", reg | 0o644, False)],
        "through_link": [("s", ".", lnk | 0o777, False), ("s/../x", "x", reg | 0o644, False)],
        "no_unix_attrs": [("plain.txt", "plain", 0, False)],
    }
    for name, entries in zips.items():
        write("fuzz_zip", name, small_zip(entries))
    write("fuzz_zip", "empty", small_zip([]))
    specs = {  # odd first byte: entries for fuzz_zip to build the archive from
        "spec_tree": "d bin\nx bin/run=#!/bin/sh\nz lib/a.txt=aaaa\nf lib/b/c=c",
        "spec_links": "f lib/real.so=elf\nl lib/link.so=real.so\nl up=lib/../lib/real.so\nl dir=lib",
        "spec_escape": "l s=.\nf s/../x=x\nl a/b=../../etc\nf ../y=y",
        "spec_conflict": "f x=1\nd x\nf x/y=2\nl l=x\nf l/z=3",
    }
    for name, spec in specs.items():
        write("fuzz_zip", name, b"\x01" + spec.encode())

    # fuzz_runtime_api: an environment's life, as the runtime and extensions drive it
    R = "/2018-06-01/runtime"
    E = "/2020-01-01/extension"
    runtime_seqs = {
        "invoke_response": ["LAMINA invoke\n\n{\"a\":1}", f"GET {R}/invocation/next\n\n",
                            f"POST {R}/invocation/{{REQ}}/response\nContent-Type: application/json\n\n{{\"ok\":true}}",
                            f"GET {R}/invocation/next\n\n"],
        "invoke_error": ["LAMINA invoke\nClient-Context: {\"custom\":{}}\n\n{}", f"GET {R}/invocation/next\n\n",
                         f"POST {R}/invocation/{{REQ}}/error\nLambda-Runtime-Function-Error-Type: Unhandled\n\n"
                         "{\"errorMessage\":\"boom\",\"errorType\":\"Exception\"}"],
        "init_error": [f"POST {R}/init/error\nLambda-Runtime-Function-Error-Type: Runtime.ImportModuleError\n\n"
                       "{\"errorMessage\":\"no module\",\"errorType\":\"Runtime.ImportModuleError\"}"],
        "wrong_id": ["LAMINA invoke\n\n{}", f"GET {R}/invocation/next\n\n",
                     f"POST {R}/invocation/not-the-id/response\n\n{{}}", "LAMINA abandon\n\n"],
        "extensions": ["LAMINA expect ext1\n\n",
                       f"POST {E}/register\nLambda-Extension-Name: ext1\nLambda-Extension-Accept-Feature: accountId\n\n"
                       "{\"events\":[\"INVOKE\",\"SHUTDOWN\"]}",
                       f"GET {E}/event/next\nLambda-Extension-Identifier: {{EXT}}\n\n",
                       f"GET {R}/invocation/next\n\n", "LAMINA invoke\n\n{}",
                       f"POST {R}/invocation/{{REQ}}/response\n\n\"done\"",
                       f"GET {E}/event/next\nLambda-Extension-Identifier: {{EXT}}\n\n", "LAMINA shutdown\n\n",
                       f"GET {E}/event/next\nLambda-Extension-Identifier: {{EXT}}\n\n"],
        "internal_extension": [f"POST {E}/register\nLambda-Extension-Name: internal\n\n{{\"events\":[\"INVOKE\"]}}",
                               "PUT /2022-07-01/telemetry\nLambda-Extension-Identifier: {EXT}\n\n{}",
                               "PUT /2020-08-15/logs\nLambda-Extension-Identifier: {EXT}\n\n{}",
                               f"POST {E}/init/error\nLambda-Extension-Identifier: {{EXT}}\n"
                               "Lambda-Extension-Function-Error-Type: Extension.Bad\n\n{}"],
        "extension_exits": ["LAMINA expect ext1 ext2\n\n",
                            f"POST {E}/register\nLambda-Extension-Name: ext1\n\n{{\"events\":[\"SHUTDOWN\"]}}",
                            "POST /_lamina/extension/exited?name=ext2&status=1\n\n",
                            f"POST {E}/exit/error\nLambda-Extension-Identifier: {{EXT}}\n\n{{}}"],
    }
    for name, seq in runtime_seqs.items():
        write("fuzz_runtime_api", name, SEP.join(seq).encode())
    esm_filter_seeds()
    logs_filter_seeds()


def logs_filter_seeds():
    """fuzz_logs_filter: a filter pattern, then messages, separated by SEP."""
    seeds = {
        "terms": ["ERROR timeout", "ERROR: db timeout"],
        "quoted": ['"hello cruel"', "hello cruela"],
        "alternatives": ["?ERROR ?WARN -retry", "WARN disk"],
        "json": ['{ $.level = "ERR*" && ($.latency > 100 || $.user.tags[1] = b) }'],
        "json_null": ["{ $.n IS NULL || $.ok IS FALSE || $.x NOT EXISTS || $.level EXISTS }"],
        "space": ["[ip, user, ..., status=4* || status=5*, bytes>1000]", "10.0.0.1 alice GET / 404 1500"],
        "invalid": ["{ $.a = }"],
        "glob": ["a*b*c", "aXbYc"],
        "regex_terms": [r"ERROR %^\d{1,3}\.\d+[a-c]?|[Ff]ail$% -%x*y+%", "12.34b disk", "Fail"],
        "regex_json": [r"{ $.items[*].id = %^1\w*$% || $.items[0].tag != %h.t% }",
                       '{"items":[{"id":"1a"},{"tag":"hot"}]}'],
        "regex_space": [r"[ip=%^10\.%, user!=%^bob$%, ..., bytes>1000]", "10.0.0.1 alice GET / 404 1500"],
        "regex_blowup": ["%a*a*a*a*a*a*a*a*a*a*a*a*a*a*b%", "a" * 4000],
        "regex_three": ["%a% %b% %c%", "a b c"],
    }
    for name, parts in seeds.items():
        write("fuzz_logs_filter", name, SEP.join(parts).encode())


def esm_filter_seeds():
    """fuzz_esm_filter: Pattern strings separated by SEP; a section "body:<text>" adds a record body."""
    def pat(*patterns, bodies=()):
        return SEP.join([p if isinstance(p, str) else json.dumps(p) for p in patterns] +
                        ["body:" + b for b in bodies]).encode()
    seeds = {
        # the recorded cases (aws-recorded test_sqs_event_filter[*], test_sqs_invalid_event_filter[*])
        "single": pat({"body": {"testItem": ["test24"]}}, bodies=['{"testItem": "tesWER"}']),
        "or": pat({"body": {"testItem": ["test24", "test45"]}}),
        "and": pat({"body": {"testItem": ["test24", "test45"], "test2": ["go"]}}),
        "exists": pat({"body": {"test2": [{"exists": True}]}}),
        "numeric_range": pat({"body": {"test2": [{"numeric": [">=", 100, "<", 200]}]}}),
        "numeric_bigger": pat({"body": {"test2": [{"numeric": [">", 100]}]}}, bodies=["this is a test string"]),
        "prefix": pat({"body": {"test2": [{"prefix": "us-1"}]}}),
        "invalid_null": pat("null"),
        "invalid_string": pat("simple string"),
        "invalid_leaf": pat({"eventSource": "aws:sqs"}),
        "invalid_empty_list": pat({"eventSource": []}),
        # every operator, $or, the body rule, record fields, several filters
        "operators": pat({"body": {"a": ["x", 5, True, None, "", {"suffix": ".png"}, {"equals-ignore-case": "AbC"}],
                                   "b": [{"anything-but": ["a", "b"]}, {"anything-but": {"prefix": "us-"}}],
                                   "c": [{"anything-but": {"equals-ignore-case": ["X"]}}, {"anything-but": 3},
                                         {"exists": False}, {"numeric": ["=", 2.5]}, {"numeric": ["<=", -1]}]}}),
        "or_nested": pat({"$or": [{"body": {"order": {"vip": [True]}}},
                                  {"body": {"order": {"items": {"sku": ["B2"], "$or": [{"n": [1]}, {"n": [2.5]}]}}}}]}),
        "plain_body": pat({"body": ["this is a test string"]}, {"body": [{"prefix": "this"}]},
                          bodies=["hello", "{\"k\": 1}"]),
        "record_fields": pat({"eventSource": ["aws:sqs"], "attributes": {"ApproximateReceiveCount": ["1"]}},
                             {"messageAttributes": {"Author": {"stringValue": [{"prefix": "John"}]}}}),
        "too_many": pat(*[{"body": {"k": [str(i)]}} for i in range(6)]),
        "duplicate_keys": pat('{"body":{"a":["1"],"a":["2"]}}'),
    }
    for name, data in seeds.items():
        write("fuzz_esm_filter", name, data)


def dict_entry(token):
    out = []
    for b in token.encode():
        out.append(chr(b) if 32 <= b < 127 and chr(b) not in '"\\' else "\\x%02x" % b)
    return '"' + "".join(out) + '"'


def write_dict():
    """tests/fuzz/dict/api.dict: what lamina's parsers look for, so the fuzzer reaches deep."""
    tokens = set()
    session = botocore.session.get_session()
    for service in ("lambda", "sts", "iam", "cloudwatch"):
        model = session.get_service_model(service)
        wanted = {"GetCallerIdentity", "CreateRole", "GetRole", "ListRoles", "DeleteRole"}
        for op in model.operation_names:
            if service in ("sts", "iam") and op not in wanted:
                continue
            om = model.operation_model(op)
            http = om.http
            tokens.add(op)
            tokens.add(http.get("method", "POST"))
            for part in http.get("requestUri", "/").replace("?", "/").replace("&", "/").split("/"):
                if part and "{" not in part:
                    tokens.add("/" + part)
            seen = set()

            def walk(shape, depth=0):
                if shape is None or depth > 4 or shape.name in seen:
                    return
                seen.add(shape.name)
                if shape.type_name == "structure":
                    for m, ms in shape.members.items():
                        tokens.add('"%s":' % m)
                        loc = ms.serialization.get("location")
                        if loc in ("header", "querystring"):
                            tokens.add(ms.serialization.get("name", m))
                        walk(ms, depth + 1)
                elif shape.type_name == "list":
                    walk(shape.member, depth + 1)
                elif shape.type_name == "map":
                    walk(shape.value, depth + 1)
                elif shape.type_name == "string" and shape.enum:
                    tokens.update('"%s"' % e for e in shape.enum)
            walk(om.input_shape)
    tokens.update([
        "\n=====\n", "\n\n", "Content-Type: application/json\n", "X-Amz-Target: GraniteServiceVersion20100801.",
        "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/lambda/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=", "X-Amz-Date: 20260101T000000Z\n",
        "/2015-03-31/functions/my-function", "/2018-10-31/layers/my-layer/versions", "my-function", "$LATEST",
        "arn:aws:lambda:us-east-1:123456789012:function:", "arn:aws:iam::123456789012:role/",
        "Action=", "Version=2010-08-01", "Version=2011-06-15", "&", "%", "null", "true", "[]", "{}",
        "/service/GraniteServiceVersion20100801/operation/", "LAMINA invoke", "LAMINA abandon",
        "LAMINA shutdown", "LAMINA expect ", "{REQ}", "{EXT}", "Lambda-Extension-Identifier: {EXT}\n",
        "Lambda-Extension-Name: ", "Lambda-Runtime-Function-Error-Type: ", "/2018-06-01/runtime/invocation/",
        "/2020-01-01/extension/", "X-Amz-Invocation-Type: ", "X-Amz-Log-Type: Tail", "X-Amz-Client-Context: ",
    ])
    os.makedirs(os.path.join(HERE, "dict"), exist_ok=True)
    with open(os.path.join(HERE, "dict", "api.dict"), "w") as f:
        f.write("# Generated by tests/fuzz/make_corpus.py: operation names, URI parts, JSON members,\n"
                "# header and query names, enum values, and the fuzz input format's markers.\n")
        for t in sorted(tokens):
            f.write(dict_entry(t.replace("\\n", "\n")) + "\n")


if __name__ == "__main__":
    sys.exit(main())
