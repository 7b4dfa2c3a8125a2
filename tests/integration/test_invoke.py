"""Functions really run: Invoke through boto3 and the aws CLI, in both sandbox backends.

The session server picks bubblewrap when it works here (it does on this
machine kind); a second server runs the same core checks with --sandbox process.
"""
import base64
import io
import json
import math
import os
import re
import uuid

import pytest

import lamina_testlib as lt
from lamina_testlib import expect_error

ROLE = "arn:aws:iam::123456789012:role/lambda-role"


def py_zip(source: str, module: str = "handler") -> bytes:
    return lt.make_zip({f"{module}.py": source})


def create(client, source, *, runtime="python3.12", handler="handler.handler", name=None, **kw):
    name = name or lt.unique("inv")
    client.create_function(FunctionName=name, Runtime=runtime, Role=ROLE, Handler=handler,
                           Code={"ZipFile": py_zip(source) if isinstance(source, str) else source}, **kw)
    return name


def invoke(client, name, payload=b"{}", **kw):
    r = client.invoke(FunctionName=name, Payload=payload, **kw)
    body = r["Payload"].read()
    return r, body


@pytest.fixture(scope="module")
def process_server(tmp_path_factory):
    srv = lt.LaminaServer(log_path=tmp_path_factory.mktemp("proc") / "server.log", extra_args=["--sandbox", "process"])
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(params=["session", "process"])
def any_backend(request, server, process_server):
    srv = server if request.param == "session" else process_server
    return srv.client("lambda")


ECHO = """
import json, os
def handler(event, context):
    print("log line from", context.function_name)
    return {"event": event, "version": context.function_version, "arn": context.invoked_function_arn,
            "request_id": context.aws_request_id, "remaining": context.get_remaining_time_in_millis(),
            "memory": context.memory_limit_in_mb, "group": context.log_group_name}
"""


def test_sync_invoke_returns_the_handler_result(any_backend):
    name = create(any_backend, ECHO, MemorySize=256)
    r, body = invoke(any_backend, name, b'{"a": 1}')
    assert r["StatusCode"] == 200
    assert r["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in r
    out = json.loads(body)
    assert out["event"] == {"a": 1}
    assert out["version"] == "$LATEST"
    assert out["arn"] == lt.fn_arn(name)
    assert out["request_id"] == r["ResponseMetadata"]["RequestId"]
    assert 0 < out["remaining"] <= 3000
    assert out["memory"] == "256"
    assert out["group"] == f"/aws/lambda/{name}"


def test_tail_log_has_start_end_report(any_backend):
    name = create(any_backend, ECHO)
    r, _ = invoke(any_backend, name, LogType="Tail")
    log = base64.b64decode(r["LogResult"]).decode()
    rid = r["ResponseMetadata"]["RequestId"]
    assert log.startswith(f"START RequestId: {rid} Version: $LATEST\n")
    assert f"log line from {name}" in log
    assert f"END RequestId: {rid}\n" in log
    report = [l for l in log.splitlines() if l.startswith("REPORT")][0]
    assert f"REPORT RequestId: {rid}\tDuration: " in report
    assert "\tBilled Duration: " in report and "\tMemory Size: 128 MB\t" in report and "Max Memory Used: " in report
    # the first invoke of an environment reports its init
    assert "Init Duration: " in report
    r2, _ = invoke(any_backend, name, LogType="Tail")
    assert "Init Duration" not in base64.b64decode(r2["LogResult"]).decode()


def test_unhandled_error_is_200_with_function_error(any_backend):
    name = create(any_backend, "def handler(e, c):\n    raise ValueError('Handler fails')\n")
    r, body = invoke(any_backend, name)
    assert r["StatusCode"] == 200
    assert r["FunctionError"] == "Unhandled"
    err = json.loads(body)
    assert err["errorType"] == "ValueError"
    assert err["errorMessage"] == "Handler fails"
    assert err["requestId"] == r["ResponseMetadata"]["RequestId"]
    assert isinstance(err["stackTrace"], list)


@pytest.mark.parametrize("source,handler,error_type", [
    ("x = 1\n", "missing_module.handler", "Runtime.ImportModuleError"),
    ("x = 1\n", "handler.nope", "Runtime.HandlerNotFound"),
    ("def handler(e, c)\n  pass\n", "handler.handler", "Runtime.UserCodeSyntaxError"),
    ("x = 1\n", "nodot", "Runtime.MalformedHandlerName"),
])
def test_init_errors(server, source, handler, error_type):
    lam = server.client("lambda")
    name = create(lam, source, handler=handler)
    r, body = invoke(lam, name)
    assert r["FunctionError"] == "Unhandled"
    assert json.loads(body)["errorType"] == error_type


def test_timeout_kills_the_environment(any_backend):
    name = create(any_backend, "import time\ndef handler(e, c):\n    time.sleep(5)\n", Timeout=1)
    r, body = invoke(any_backend, name)
    assert r["FunctionError"] == "Unhandled"
    err = json.loads(body)
    assert err["errorType"] == "Sandbox.Timedout"
    assert err["errorMessage"] == f"RequestId: {r['ResponseMetadata']['RequestId']} Error: Task timed out after 1.00 seconds"


def test_runtime_exit_is_runtime_exit_error(any_backend):
    name = create(any_backend, "import os\ndef handler(e, c):\n    os._exit(3)\n")
    r, body = invoke(any_backend, name)
    assert r["FunctionError"] == "Unhandled"
    err = json.loads(body)
    assert err["errorType"] == "Runtime.ExitError"
    assert err["errorMessage"] == f"RequestId: {r['ResponseMetadata']['RequestId']} Error: Runtime exited with error: exit status 3"
    # the next invoke gets a fresh environment
    r2, _ = invoke(any_backend, name)
    assert r2["FunctionError"] == "Unhandled"


def test_event_dryrun_and_bad_payload(server):
    lam = server.client("lambda")
    name = create(lam, ECHO)
    assert lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")["StatusCode"] == 202
    assert lam.invoke(FunctionName=name, InvocationType="DryRun")["StatusCode"] == 204
    with expect_error("InvalidRequestContentException", 400):
        lam.invoke(FunctionName=name, Payload=b"{not json")
    with expect_error("ResourceNotFoundException", 404):
        lam.invoke(FunctionName=lt.unique("missing"), Payload=b"{}")


def _front_door_headers(headers):
    """What every lamina answer carries, invocations included."""
    headers = {k.lower(): v for k, v in headers.items()}
    assert headers.get("x-amzn-requestid"), headers
    timing = headers.get("server-timing", "")
    assert re.fullmatch(r"app;dur=\d+(\.\d+)?(, [a-z]+;dur=\d+(\.\d+)?)*", timing), headers
    return headers


def _own_share(headers):
    """A sync invoke the runtime answered also says lamina's own share of it: `deliver`
    (request read -> event handed to the runtime) and `answer` (the runtime's answer read ->
    the invoke's answer built), in ms."""
    timing = dict(part.split(";dur=") for part in _front_door_headers(headers)["server-timing"].split(", "))
    assert set(timing) == {"app", "deliver", "answer"}, timing
    return {k: float(v) for k, v in timing.items()}


def test_invoke_answers_carry_server_timing_and_request_id(server):
    lam = server.client("lambda")
    name = create(lam, ECHO)
    url = f"{server.url}/2015-03-31/functions/{name}/invocations"
    # boto3: sync, async 202, DryRun 204
    r = lam.invoke(FunctionName=name, Payload=b"{}")
    h = _front_door_headers(r["ResponseMetadata"]["HTTPHeaders"])
    assert json.loads(r["Payload"].read())["request_id"] == h["x-amzn-requestid"]
    own = _own_share(r["ResponseMetadata"]["HTTPHeaders"])
    assert own["deliver"] >= 0 and own["answer"] >= 0
    _front_door_headers(lam.invoke(FunctionName=name, InvocationType="Event")["ResponseMetadata"]["HTTPHeaders"])
    _front_door_headers(lam.invoke(FunctionName=name, InvocationType="DryRun")["ResponseMetadata"]["HTTPHeaders"])
    # raw HTTP: sync (small, and above the 64 KiB handled on the I/O thread), InvokeAsync, errors
    for payload in (b'{"a": 1}', json.dumps({"big": "x" * 100_000}).encode()):
        status, headers, _ = lt.http_request(url, method="POST", body=payload)
        assert status == 200
        _own_share(headers)
    status, headers, body = lt.http_request(f"{server.url}/2014-11-13/functions/{name}/invoke-async/",
                                            method="POST", body=b"{}")
    assert (status, json.loads(body)) == (202, {"Status": 202})
    _front_door_headers(headers)
    status, headers, _ = lt.http_request(url, method="POST", body=b"{not json")
    assert status == 400
    assert _front_door_headers(headers)["x-amzn-errortype"].startswith("InvalidRequestContentException")
    status, headers, _ = lt.http_request(f"{server.url}/2015-03-31/functions/{lt.unique('missing')}/invocations",
                                         method="POST", body=b"{}")
    assert status == 404
    _front_door_headers(headers)
    # a throttle
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    status, headers, _ = lt.http_request(url, method="POST", body=b"{}")
    assert status == 429
    assert _front_door_headers(headers)["x-amzn-errortype"].startswith("TooManyRequestsException")
    lam.delete_function_concurrency(FunctionName=name)


def test_environment_variables_as_aws_sets_them(server):
    lam = server.client("lambda")
    src = "import os\ndef handler(e, c):\n    return dict(os.environ)\n"
    name = create(lam, src, Environment={"Variables": {"MY_SETTING": "on"}})
    _, body = invoke(lam, name)
    env = json.loads(body)
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "128"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12"
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert env["LAMBDA_TASK_ROOT"] == "/var/task" and env["LAMBDA_RUNTIME_DIR"] == "/var/runtime"
    assert env["_HANDLER"] == "handler.handler"
    assert env["TZ"] == ":UTC" and env["LANG"] == "en_US.UTF-8"
    assert env["PATH"].endswith(":/opt/bin") and env["LD_LIBRARY_PATH"].endswith(":/opt/lib")
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{name}"
    assert "[$LATEST]" in env["AWS_LAMBDA_LOG_STREAM_NAME"]
    assert env["AWS_LAMBDA_RUNTIME_API"].startswith("127.0.0.1:")
    assert env["AWS_ENDPOINT_URL"] == server.url
    assert env["MY_SETTING"] == "on"
    assert not any(k.startswith("LAMINA_") for k in env)


def test_function_reaches_lamina_at_aws_endpoint_url(server):
    lam = server.client("lambda")
    src = ("import json, os, urllib.request\ndef handler(e, c):\n"
           "    url = os.environ['AWS_ENDPOINT_URL'] + '/2015-03-31/functions/' + c.function_name\n"
           "    with urllib.request.urlopen(url, timeout=10) as r:\n"
           "        return json.loads(r.read())['Configuration']['FunctionName']\n")
    name = create(lam, src, Timeout=20)
    r, body = invoke(lam, name)
    assert json.loads(body) == name


def test_boto3_inside_a_function_reaches_lamina(server):
    """The SDK inside a function talks to lamina, whatever botocore the runtime has: lamina sets
    AWS_ENDPOINT_URL, which botocore before 1.31 (Debian's 1.29) does not read by itself, so the
    runtime teaches it; a service-specific AWS_ENDPOINT_URL_<SERVICE> wins over it, as in 1.31."""
    lam = server.client("lambda")
    src = ("import os\n"
           "def handler(e, c):\n"
           "    import boto3, botocore, botocore.config\n"
           "    me = boto3.client('lambda').get_function(FunctionName=c.function_name)['Configuration']\n"
           "    sqs = boto3.client('sqs')\n"
           "    url = sqs.create_queue(QueueName=e['queue'])['QueueUrl']\n"
           "    sqs.send_message(QueueUrl=url, MessageBody='from ' + c.function_name)\n"
           "    os.environ['AWS_ENDPOINT_URL_S3'] = 'http://127.0.0.1:9'\n"
           "    try:\n"
           "        boto3.client('s3', config=botocore.config.Config(retries={'max_attempts': 0})).list_buckets()\n"
           "        s3 = 'reached'\n"
           "    except botocore.exceptions.EndpointConnectionError as err:\n"
           "        s3 = err.kwargs['endpoint_url']\n"
           "    return {'me': me['FunctionName'] == c.function_name, 'url': url, 's3': s3,\n"
           "            'botocore': botocore.__version__}\n")
    name = create(lam, src, Timeout=20)
    queue = f"from-fn-{uuid.uuid4().hex[:8]}"
    r, body = invoke(lam, name, json.dumps({"queue": queue}).encode())
    out = json.loads(body)
    if r.get("FunctionError") and "No module named 'boto3'" in body.decode():
        pytest.skip("no boto3 for the runtime's interpreter on this machine")
    assert out["me"] is True, out
    assert out["url"].endswith(f"/123456789012/{queue}"), out
    assert out["s3"].startswith("http://127.0.0.1:9"), out
    sqs = server.client("sqs")
    got = sqs.receive_message(QueueUrl=sqs.get_queue_url(QueueName=queue)["QueueUrl"], WaitTimeSeconds=1)
    assert [m["Body"] for m in got["Messages"]] == [f"from {name}"]


def test_host_packages_other_than_the_aws_sdk_are_not_importable(server):
    """AWS's Python runtimes ship the SDK (boto3, botocore and their dependencies)
    and nothing else: a package merely installed on lamina's machine must fail to
    import, as it would on AWS, unless a layer or the code brings it."""
    import importlib.util
    if importlib.util.find_spec("requests") is None:
        pytest.skip("python3-requests is not installed on this machine")
    lam = server.client("lambda")
    src = ("import sys\n"
           "def handler(e, c):\n"
           "    out = {'path': sys.path}\n"
           "    try:\n"
           "        import requests\n"
           "        out['requests'] = requests.__file__\n"
           "    except ModuleNotFoundError as err:\n"
           "        out['requests'] = str(err)\n"
           "    try:\n"
           "        import urllib3\n"
           "        out['urllib3'] = 'ok'\n"
           "    except ModuleNotFoundError as err:\n"
           "        out['urllib3'] = str(err)\n"
           "    return out\n")
    name = create(lam, src)
    r, body = invoke(lam, name)
    out = json.loads(body)
    assert out["requests"] == "No module named 'requests'", out
    assert not any("-packages" in p for p in out["path"] if not p.startswith("/opt")), out["path"]
    if importlib.util.find_spec("urllib3") is not None:
        assert out["urllib3"] == "ok"  # botocore's dependency is there on AWS too
    # brought by a layer, it imports from /opt
    layer = lam.publish_layer_version(LayerName=lt.unique("req"), Content={"ZipFile": lt.make_zip(
        {"python/requests/__init__.py": "WHERE = 'layer'\n"})})
    lam.update_function_configuration(FunctionName=name, Layers=[layer["LayerVersionArn"]])
    lt.wait_updated(lam, name)
    r, body = invoke(lam, name)
    assert json.loads(body)["requests"] == "/opt/python/requests/__init__.py"


def test_versions_exercise_each_version_runs_its_own_code(server):
    lam = server.client("lambda")
    v1 = "import json\ndef lambda_handler(event, context):\n    return {'statusCode': 200, 'body': json.dumps({'message': 'Version 1.0 - Initial release'})}\n"
    v2 = v1.replace("Version 1.0 - Initial release", "Version 2.0 - Added new feature")
    name = create(lam, lt.make_zip({"versioned_function.py": v1}), runtime="python3.12",
                  handler="versioned_function.lambda_handler")
    lam.publish_version(FunctionName=name, Description="v1.0.0 - Initial release")
    lam.update_function_code(FunctionName=name, ZipFile=lt.make_zip({"versioned_function.py": v2}))
    lam.publish_version(FunctionName=name, Description="v2.0.0 - Added new feature")
    for qualifier, message, executed in [(None, "Version 2.0", "$LATEST"), ("1", "Version 1.0", "1"), ("2", "Version 2.0", "2")]:
        r, body = invoke(lam, f"{name}:{qualifier}" if qualifier else name)
        assert r["ExecutedVersion"] == executed
        assert message in json.loads(json.loads(body)["body"])["message"]


def test_aliases_exercise_weighted_routing(server):
    lam = server.client("lambda")
    src = "def handler(e, c):\n    return {'version': c.function_version}\n"
    name = create(lam, src)
    lam.publish_version(FunctionName=name)
    lam.update_function_code(FunctionName=name, ZipFile=py_zip(src + "# v2\n"))
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="PROD", FunctionVersion="1")
    r, body = invoke(lam, f"{name}:PROD")
    assert r["ExecutedVersion"] == "1" and json.loads(body) == {"version": "1"}
    for weight in (0.1, 0.5):
        lam.update_alias(FunctionName=name, Name="PROD", FunctionVersion="1",
                         RoutingConfig={"AdditionalVersionWeights": {"2": weight}})
        n = 200
        hits = 0
        for _ in range(n):
            r, body = invoke(lam, name, Qualifier="PROD")
            assert json.loads(body)["version"] == r["ExecutedVersion"]
            hits += r["ExecutedVersion"] == "2"
        sd = math.sqrt(n * weight * (1 - weight))
        assert abs(hits - n * weight) <= 4 * sd, (weight, hits)
    lam.update_alias(FunctionName=name, Name="PROD", FunctionVersion="2", RoutingConfig={"AdditionalVersionWeights": {}})
    assert all(invoke(lam, f"{name}:PROD")[0]["ExecutedVersion"] == "2" for _ in range(10))
    lam.update_alias(FunctionName=name, Name="PROD", FunctionVersion="1")
    assert invoke(lam, f"{name}:PROD")[0]["ExecutedVersion"] == "1"


def test_layer_exercise_imports_from_opt(server):
    lam = server.client("lambda")
    def layer(version):
        return lt.make_zip({"python/lib/python3.12/site-packages/requests/__init__.py": f"__version__ = '{version}'\n"})
    lname = lt.unique("requests-layer")
    v1 = lam.publish_layer_version(LayerName=lname, Content={"ZipFile": layer("2.28.0")}, CompatibleRuntimes=["python3.12"])
    src = ("import json, requests\ndef lambda_handler(event, context):\n"
           "    return {'statusCode': 200, 'body': json.dumps({'version': requests.__version__, 'file': requests.__file__})}\n")
    name = create(lam, lt.make_zip({"function.py": src}), runtime="python3.12", handler="function.lambda_handler",
                  Layers=[v1["LayerVersionArn"]])
    _, body = invoke(lam, name)
    out = json.loads(json.loads(body)["body"])
    assert out["version"] == "2.28.0"
    assert out["file"] == "/opt/python/lib/python3.12/site-packages/requests/__init__.py"
    v2 = lam.publish_layer_version(LayerName=lname, Content={"ZipFile": layer("2.31.0")}, CompatibleRuntimes=["python3.12"])
    lam.update_function_configuration(FunctionName=name, Layers=[v2["LayerVersionArn"]])
    _, body = invoke(lam, name)
    assert json.loads(json.loads(body)["body"])["version"] == "2.31.0"


def test_binary_from_a_layer_bin_is_on_path(server):
    lam = server.client("lambda")
    tool = lt.build_zip({"bin/greet": ("#!/bin/sh\necho hello-from-layer\n", 0o755)})
    arn = lam.publish_layer_version(LayerName=lt.unique("tools"), Content={"ZipFile": tool})["LayerVersionArn"]
    src = "import subprocess\ndef handler(e, c):\n    return subprocess.run(['greet'], capture_output=True, text=True).stdout.strip()\n"
    name = create(lam, src, Layers=[arn])
    _, body = invoke(lam, name)
    assert json.loads(body) == "hello-from-layer"


def test_native_library_in_a_layer_lib_is_found_by_the_loader(server, tmp_path):
    """A binary in bin/ linked against a library in lib/ (no rpath): the
    dynamic loader finds it through LD_LIBRARY_PATH's /opt/lib, as on AWS."""
    import shutil
    import subprocess
    if not shutil.which("cc"):
        pytest.skip("no C compiler to build the layer's library")
    (tmp_path / "greet.c").write_text('const char *greeting(void) { return "hello from /opt/lib"; }\n')
    (tmp_path / "main.c").write_text('#include <stdio.h>\nconst char *greeting(void);\n'
                                     'int main(void) { puts(greeting()); return 0; }\n')
    subprocess.run(["cc", "-shared", "-fPIC", "-o", tmp_path / "libgreet.so", tmp_path / "greet.c"], check=True)
    subprocess.run(["cc", "-o", tmp_path / "greet-native", tmp_path / "main.c", "-L", tmp_path, "-lgreet"], check=True)
    layer = lt.build_zip({"bin/greet-native": ((tmp_path / "greet-native").read_bytes(), 0o755),
                          "lib/libgreet.so": ((tmp_path / "libgreet.so").read_bytes(), 0o755)})
    lam = server.client("lambda")
    arn = lam.publish_layer_version(LayerName=lt.unique("native"), Content={"ZipFile": layer})["LayerVersionArn"]
    src = ("import ctypes, subprocess\ndef handler(e, c):\n"
           "    lib = ctypes.CDLL('libgreet.so')\n    lib.greeting.restype = ctypes.c_char_p\n"
           "    run = subprocess.run(['greet-native'], capture_output=True, text=True)\n"
           "    return {'exec': run.stdout.strip(), 'stderr': run.stderr, 'dlopen': lib.greeting().decode()}\n")
    name = create(lam, src, Layers=[arn])
    r, body = invoke(lam, name)
    assert "FunctionError" not in r, body
    out = json.loads(body)
    assert out["exec"] == "hello from /opt/lib", out
    assert out["dlopen"] == "hello from /opt/lib"


def test_custom_runtime_bootstrap_in_a_layer(server):
    if not os.path.exists("/usr/bin/curl"):
        pytest.skip("curl is not installed")
    lam = server.client("lambda")
    bootstrap = (
        "#!/bin/sh\nset -eu\n"
        "while true; do\n"
        "  HEADERS=$(mktemp)\n"
        "  EVENT=$(curl -sS -D \"$HEADERS\" \"http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/next\")\n"
        "  ID=$(grep -i Lambda-Runtime-Aws-Request-Id \"$HEADERS\" | tr -d '[:space:]' | cut -d: -f2)\n"
        "  curl -sS -X POST \"http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/$ID/response\" "
        "-d \"{\\\"echo\\\": $EVENT, \\\"handler\\\": \\\"$_HANDLER\\\"}\" > /dev/null\n"
        "done\n")
    arn = lam.publish_layer_version(LayerName=lt.unique("bash-runtime"),
                                    Content={"ZipFile": lt.build_zip({"bootstrap": (bootstrap, 0o755)})})["LayerVersionArn"]
    name = create(lam, lt.make_zip({"function.sh": "echo unused\n"}), runtime="provided.al2023",
                  handler="function.handler", Layers=[arn])
    r, body = invoke(lam, name, b'{"x": 5}')
    assert "FunctionError" not in r, body
    assert json.loads(body) == {"echo": {"x": 5}, "handler": "function.handler"}


def test_provided_without_bootstrap_is_invalid_entrypoint(server):
    lam = server.client("lambda")
    name = create(lam, lt.make_zip({"x.txt": "x"}), runtime="provided.al2", handler="x")
    r, body = invoke(lam, name)
    assert r["FunctionError"] == "Unhandled"
    assert json.loads(body)["errorType"] == "Runtime.InvalidEntrypoint"


def test_sandbox_isolation(server):
    lam = server.client("lambda")
    src = ("import os\ndef handler(e, c):\n"
           "    out = {}\n"
           "    for path in ('/var/task/x', '/opt/x'):\n"
           "        try:\n            open(path, 'w'); out[path] = 'writable'\n"
           "        except OSError:\n            out[path] = 'read-only'\n"
           "    open('/tmp/x', 'w').write('ok'); out['/tmp'] = 'writable'\n"
           "    out['programs'] = [open('/proc/%s/cmdline' % p).read().split('\\0')[0] for p in os.listdir('/proc') if p.isdigit()]\n"
           "    out['data'] = os.path.exists(os.environ.get('CHECK', '/nonexistent'))\n"
           "    return out\n")
    name = create(lam, src, Environment={"Variables": {"CHECK": "/tmp/../proc/1"}})
    r, body = invoke(lam, name)
    out = json.loads(body)
    status, _, health = lt.http_get(server.url + "/health")
    if json.loads(health).get("sandbox") != "bubblewrap":
        pytest.skip("the session server is not running the bubblewrap backend")
    assert out["/var/task/x"] == "read-only"
    assert out["/opt/x"] == "read-only"
    assert out["/tmp"] == "writable"
    # its own pid namespace: only the sandbox's processes are visible, not lamina
    assert not any(p.endswith("/lamina") for p in out["programs"]), out["programs"]
    assert len(out["programs"]) <= 3, out["programs"]


def test_cli_invoke_versions(cli, lam, tmp_path):
    name = create(lam, "def handler(e, c):\n    return {'hello': e.get('who', 'nobody')}\n")
    out = tmp_path / "response.json"
    res = cli.json("lambda", "invoke", "--function-name", name, "--payload", '{"who": "cli"}', str(out))
    assert res["StatusCode"] == 200 and res["ExecutedVersion"] == "$LATEST"
    assert json.loads(out.read_text()) == {"hello": "cli"}


# ---- Node.js ----------------------------------------------------------------------------

def node_available():
    return os.path.exists("/usr/bin/node") or os.path.exists("/usr/local/bin/node")


@pytest.mark.parametrize("files,handler,expected", [
    ({"index.js": "exports.handler = async (event, context) => ({ hi: event.who, fn: context.functionName.length > 0 });"},
     "index.handler", {"hi": "node", "fn": True}),
    ({"cb.js": "exports.handler = (event, context, callback) => { setTimeout(() => callback(null, { cb: event.who }), 5); };"},
     "cb.handler", {"cb": "node"}),
    ({"esm.mjs": "export const handler = async (event) => ({ esm: event.who });"}, "esm.handler", {"esm": "node"}),
    ({"package.json": '{"type": "module"}', "app/main.js": "export async function handler(e) { return { nested: e.who }; }"},
     "app/main.handler", {"nested": "node"}),
])
def test_node_handlers(server, files, handler, expected):
    if not node_available():
        pytest.skip("node is not installed")
    lam = server.client("lambda")
    name = create(lam, lt.make_zip(files), runtime="nodejs22.x", handler=handler)
    r, body = invoke(lam, name, b'{"who": "node"}')
    assert "FunctionError" not in r, body
    assert json.loads(body) == expected


def test_node_errors_and_layer_node_modules(server):
    if not node_available():
        pytest.skip("node is not installed")
    lam = server.client("lambda")
    name = create(lam, lt.make_zip({"index.js": "exports.handler = async () => { throw new TypeError('bad input'); };"}),
                  runtime="nodejs22.x", handler="index.handler")
    r, body = invoke(lam, name)
    assert r["FunctionError"] == "Unhandled"
    err = json.loads(body)
    assert err["errorType"] == "TypeError" and err["errorMessage"] == "bad input" and isinstance(err["trace"], list)

    name = create(lam, lt.make_zip({"index.js": "exports.other = 1;"}), runtime="nodejs22.x", handler="index.handler")
    _, body = invoke(lam, name)
    assert json.loads(body)["errorType"] == "Runtime.HandlerNotFound"

    layer = lt.make_zip({"nodejs/node_modules/greeter/index.js": "module.exports = (n) => `hello ${n}`;"})
    arn = lam.publish_layer_version(LayerName=lt.unique("node-mods"), Content={"ZipFile": layer})["LayerVersionArn"]
    name = create(lam, lt.make_zip({"index.js": "const greet = require('greeter'); exports.handler = async (e) => greet(e.who);"}),
                  runtime="nodejs22.x", handler="index.handler", Layers=[arn])
    r, body = invoke(lam, name, b'{"who": "layer"}')
    assert "FunctionError" not in r, body
    assert json.loads(body) == "hello layer"


# ---- the tutorial's layer exercise with the machine's real requests package -----------------

def _installed_packages_zip(marker: str) -> bytes:
    """requests and its dependencies as installed for /usr/bin/python3, under the layer's
    python/lib/python3.12/site-packages (PyPI is unreachable: the machine's copy is used)."""
    import subprocess
    import zipfile
    out = subprocess.run(["/usr/bin/python3", "-c",
                          "import os, requests, urllib3, idna, certifi\n"
                          "mods = [requests, urllib3, idna, certifi]\n"
                          "try:\n    import charset_normalizer; mods.append(charset_normalizer)\n"
                          "except ImportError:\n    import chardet; mods.append(chardet)\n"
                          "print('\\n'.join(os.path.dirname(m.__file__) for m in mods))"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        pytest.skip("requests is not installed for /usr/bin/python3")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for pkg_dir in out.stdout.split():
            pkg = os.path.basename(pkg_dir)
            for root, _, files in os.walk(pkg_dir):
                for f in files:
                    if f.endswith(".pyc"):
                        continue
                    full = os.path.join(root, f)
                    rel = os.path.relpath(full, os.path.dirname(pkg_dir))
                    z.write(full, f"python/lib/python3.12/site-packages/{rel}")
            if pkg == "requests":
                info = zipfile.ZipInfo("python/lib/python3.12/site-packages/requests/layer_version.txt")
                info.external_attr = 0o100644 << 16  # world-readable, as Lambda needs
                z.writestr(info, marker)
    return buf.getvalue()



def test_tutorial_layer_exercise_with_real_requests(server):
    lam = server.client("lambda")
    lname = lt.unique("requests-layer")
    v1 = lam.publish_layer_version(LayerName=lname, Description="Requests library for HTTP calls",
                                   Content={"ZipFile": _installed_packages_zip("v1")},
                                   CompatibleRuntimes=["python3.12", "python3.10", "python3.11"])
    src = ("import json, os\nimport requests  # This comes from the layer!\n\n"
           "def lambda_handler(event, context):\n"
           "    marker = os.path.join(os.path.dirname(requests.__file__), 'layer_version.txt')\n"
           "    return {'statusCode': 200, 'body': json.dumps({'message': 'Successfully used layer!',\n"
           "            'version': requests.__version__, 'file': requests.__file__,\n"
           "            'layer': open(marker).read(), 'layer_test': 'PASSED'})}\n")
    name = create(lam, lt.make_zip({"function.py": src}), runtime="python3.12", handler="function.lambda_handler",
                  Layers=[v1["LayerVersionArn"]])
    r, body = invoke(lam, name)
    assert "FunctionError" not in r, body
    out = json.loads(json.loads(body)["body"])
    assert out["message"] == "Successfully used layer!" and out["layer_test"] == "PASSED"
    assert out["file"] == "/opt/python/lib/python3.12/site-packages/requests/__init__.py"
    assert out["layer"] == "v1" and out["version"]
    v2 = lam.publish_layer_version(LayerName=lname, Content={"ZipFile": _installed_packages_zip("v2")},
                                   CompatibleRuntimes=["python3.12"])
    lam.update_function_configuration(FunctionName=name, Layers=[v2["LayerVersionArn"]])
    r, body = invoke(lam, name)
    assert json.loads(json.loads(body)["body"])["layer"] == "v2"


def test_log_streams_are_written_under_the_data_dir(tmp_path):
    srv = lt.LaminaServer(data_dir=tmp_path / "data", log_path=tmp_path / "server.log")
    srv.start()
    try:
        lam = srv.client("lambda")
        name = create(lam, "def handler(e, c):\n    print('written to the stream')\n    return 1\n")
        r, _ = invoke(lam, name)
        rid = r["ResponseMetadata"]["RequestId"]
        group = tmp_path / "data" / "logs" / "123456789012" / "us-east-1" / "aws" / "lambda" / name
        streams = list(group.glob("*.log"))
        assert len(streams) == 1
        assert "-[$LATEST]" in streams[0].name
        # the file gets an invocation's lines right after its answer (README, "Data directory")
        path = streams[0]
        text = lt.wait_for(lambda: path.read_text() if "REPORT RequestId" in path.read_text() else "", timeout=5)
        assert f"START RequestId: {rid} Version: $LATEST" in text
        assert "written to the stream" in text and f"END RequestId: {rid}" in text and "REPORT RequestId" in text
        # the Logs API reads an answered invocation's lines at once, every time
        logs = srv.client("logs")
        group_name = f"/aws/lambda/{name}"
        stream = logs.describe_log_streams(logGroupName=group_name)["logStreams"][0]["logStreamName"]
        for _ in range(20):
            r, _ = invoke(lam, name)
            rid = r["ResponseMetadata"]["RequestId"]
            events = logs.get_log_events(logGroupName=group_name, logStreamName=stream, limit=4)["events"]
            messages = [e["message"] for e in events]
            assert messages[0].startswith(f"START RequestId: {rid} ") and messages[-1].startswith(
                f"REPORT RequestId: {rid}\t"), messages
    finally:
        srv.stop()


def _health(server):
    return json.loads(lt.http_get(server.url + "/health")[2])


def test_memory_size_is_enforced(server):
    if not _health(server).get("memory_limits"):
        pytest.skip("no writable memory cgroup on this machine: MemorySize is not enforced")
    lam = server.client("lambda")
    src = "def handler(e, c):\n    blocks = [bytearray(16 * 1024 * 1024) for _ in range(40)]\n    return len(blocks)\n"
    name = create(lam, src, MemorySize=128, Timeout=20)
    r, body = invoke(lam, name, LogType="Tail")
    assert r["FunctionError"] == "Unhandled"
    err = json.loads(body)
    assert err["errorType"] == "Runtime.OutOfMemory"
    assert err["errorMessage"] == f"RequestId: {r['ResponseMetadata']['RequestId']} Error: Runtime exited with error: signal: killed"
    assert "Error Type: Runtime.OutOfMemory" in base64.b64decode(r["LogResult"]).decode()
    # with room to spare the same code runs
    lam.update_function_configuration(FunctionName=name, MemorySize=1024)
    r, body = invoke(lam, name)
    assert "FunctionError" not in r, body
    assert json.loads(body) == 40


def test_report_max_memory_used_is_the_functions(server):
    if not _health(server).get("memory_limits"):
        pytest.skip("no memory cgroup: Max Memory Used is only approximate")
    lam = server.client("lambda")
    src = "def handler(e, c):\n    x = bytearray(60 * 1024 * 1024)\n    return len(x)\n"
    name = create(lam, src, MemorySize=256)
    r, _ = invoke(lam, name, LogType="Tail")
    report = [l for l in base64.b64decode(r["LogResult"]).decode().splitlines() if l.startswith("REPORT")][0]
    used = int(report.split("Max Memory Used: ")[1].split(" MB")[0])
    assert 60 <= used <= 256, report


def test_function_cannot_see_lamina_data_or_other_code(tmp_path):
    data = tmp_path / "data"
    srv = lt.LaminaServer(data_dir=data, log_path=tmp_path / "server.log")
    srv.start()
    try:
        if _health(srv).get("sandbox") != "bubblewrap":
            pytest.skip("needs the bubblewrap backend")
        lam = srv.client("lambda")
        other = create(lam, "SECRET = 'other function code'\ndef handler(e, c):\n    return SECRET\n")
        src = ("import os\ndef handler(e, c):\n"
               "    return {p: os.path.exists(p) for p in e['paths']}\n")
        name = create(lam, src)
        invoke(lam, other)  # its code is extracted on the host now
        extracted = [str(p) for p in (data / "extracted").iterdir()]
        paths = [str(data), str(data / "registry.db"), *extracted, "/etc/shadow", "/var/task/handler.py"]
        r, body = invoke(lam, name, json.dumps({"paths": paths}).encode())
        seen = json.loads(body)
        assert seen.pop("/var/task/handler.py") is True
        assert not any(seen.values()), seen
    finally:
        srv.stop()


IDENTITY = """
import os, pwd
def handler(e, c):
    status = dict(line.split(':\\t', 1) for line in open('/proc/self/status').read().splitlines() if ':\\t' in line)
    fds = {}
    for fd in os.listdir('/proc/self/fd'):
        try:
            fds[fd] = os.readlink('/proc/self/fd/' + fd)
        except OSError:
            pass
    try:
        name = pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        name = None
    open('/tmp/mine', 'w').write('x')
    return {"uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(), "groups": os.getgroups(), "name": name,
            "no_new_privs": status.get('NoNewPrivs', '').strip(), "cap_eff": status.get('CapEff', '').strip(),
            "fds": fds, "tmp_owner": os.stat('/tmp/mine').st_uid}
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="lamina drops to the sandbox user only when it runs as root")
def test_functions_run_as_aws_sandbox_user_when_lamina_is_root(server):
    if _health(server).get("sandbox") != "bubblewrap":
        pytest.skip("needs the bubblewrap backend")
    assert _health(server)["sandbox_user"] == "993:990"
    lam = server.client("lambda")
    name = create(lam, IDENTITY)
    r, body = invoke(lam, name)
    out = json.loads(body)
    assert "FunctionError" not in r, out
    assert (out["uid"], out["euid"], out["gid"], out["groups"]) == (993, 993, 990, [990]) or \
        (out["uid"], out["euid"], out["gid"]) == (993, 993, 990), out
    assert out["name"] == "sbx_user1051"
    assert out["no_new_privs"] == "1"
    assert int(out["cap_eff"], 16) == 0
    assert out["tmp_owner"] == 993
    assert_no_descriptor_of_lamina(out["fds"])
    # as on AWS, a file zipped without read permission for others cannot be read
    private = create(lam, lt.build_zip({"handler.py": "def handler(e, c):\n    return open('secret.txt').read()\n",
                                        "secret.txt": ("s", 0o600)}))
    r, body = invoke(lam, private)
    assert r.get("FunctionError") == "Unhandled" and "Permission denied" in json.loads(body)["errorMessage"], body


def test_run_as_a_chosen_user_and_as_root(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("--run-as applies only when lamina runs as root")
    for flag, expected in (("4321:4322", (4321, 4322, "4321:4322")), ("root", (0, 0, "root"))):
        srv = lt.LaminaServer(data_dir=tmp_path / flag.replace(":", "_"), log_path=tmp_path / "server.log",
                              extra_args=["--run-as", flag])
        srv.start()
        try:
            if _health(srv).get("sandbox") != "bubblewrap":
                pytest.skip("needs the bubblewrap backend")
            assert _health(srv)["sandbox_user"] == expected[2]
            lam = srv.client("lambda")
            r, body = invoke(lam, create(lam, IDENTITY))
            out = json.loads(body)
            assert (out["uid"], out["gid"]) == expected[:2], out
            assert out["no_new_privs"] == "1"
            assert int(out["cap_eff"], 16) == 0  # root in name only: every capability dropped
        finally:
            srv.stop()


def assert_no_descriptor_of_lamina(fds):
    """Only stdin, stdout/stderr, the listing of /proc/self/fd itself and the
    runtime's own connection to its Runtime API: none of lamina's sockets
    (clients' connections, other environments' Runtime APIs) or files."""
    extra = {fd: t for fd, t in fds.items() if fd not in ("0", "1", "2") and not t.startswith("/proc/")}
    sockets = [t for t in extra.values() if t.startswith("socket:")]
    assert len(sockets) <= 1 and len(extra) == len(sockets), fds


def test_process_backend_sets_no_new_privs_and_leaks_no_descriptor(process_server):
    lam = process_server.client("lambda")
    names = [create(lam, IDENTITY) for _ in range(2)]
    invoke(lam, names[0])
    out = json.loads(invoke(lam, names[1])[1])  # another environment is alive now
    assert out["no_new_privs"] == "1"
    assert_no_descriptor_of_lamina(out["fds"])


# ---- the Python runtime's Runtime API client (runtimes/python/bootstrap.py) ------------------

PROBE = """
import os
def handler(event, context):
    cc = context.client_context
    return {"event": event,
            "client_context": cc and {"custom": cc.custom, "env": cc.env,
                                      "client": cc.client and {"installation_id": cc.client.installation_id,
                                                               "app_title": cc.client.app_title}},
            "identity": [context.identity.cognito_identity_id, context.identity.cognito_identity_pool_id],
            "trace": os.environ.get("_X_AMZN_TRACE_ID"), "request_id": context.aws_request_id,
            "stream": context.log_stream_name}
"""


def test_python_context_client_context_trace_and_non_ascii(any_backend):
    name = create(any_backend, PROBE)
    cc = {"custom": {"greeting": "grüß dich ✓"}, "env": {"platform": "test"}, "client": {"installation_id": "i-1"}}
    event = {"text": "héllo wörld ✓ 日本語 🚀", "n": 1}
    r, body = invoke(any_backend, name, json.dumps(event, ensure_ascii=False).encode(),
                     ClientContext=base64.b64encode(json.dumps(cc, ensure_ascii=False).encode()).decode())
    assert "FunctionError" not in r, body
    out = json.loads(body)
    assert out["event"] == event
    # AWS's objects: context.client_context.custom / .env / .client.installation_id
    assert out["client_context"] == {"custom": cc["custom"], "env": cc["env"],
                                     "client": {"installation_id": "i-1", "app_title": None}}
    assert out["identity"] == [None, None]  # an object with empty fields when the caller has none
    assert out["trace"].startswith("Root=1-")
    assert out["request_id"] == r["ResponseMetadata"]["RequestId"]
    assert "[$LATEST]" in out["stream"]
    r2, body = invoke(any_backend, name, b'{"n": 2}')  # warm: a new request id and trace, no client context
    out2 = json.loads(body)
    assert out2["event"] == {"n": 2} and out2["client_context"] is None
    assert out2["request_id"] == r2["ResponseMetadata"]["RequestId"] != out["request_id"]
    assert out2["trace"].startswith("Root=1-") and out2["trace"] != out["trace"]


def test_client_context_limits(server):
    lam = server.client("lambda")
    name = create(lam, PROBE)
    cc = {"custom": {"k": "v"}}
    out = json.loads(invoke(lam, name, ClientContext=base64.b64encode(json.dumps(cc).encode()).decode())[1])
    assert out["client_context"]["custom"] == {"k": "v"}  # exactly the JSON sent, nothing appended
    biggest = base64.b64encode(json.dumps({"custom": {"pad": "x" * 2660}}).encode()).decode()
    assert len(biggest) <= 3583
    assert "FunctionError" not in invoke(lam, name, ClientContext=biggest)[0]
    too_big = base64.b64encode(json.dumps({"custom": {"pad": "x" * 2670}}).encode()).decode()
    assert len(too_big) > 3583
    with expect_error("InvalidParameterValueException", 400, message_contains="3583"):
        lam.invoke(FunctionName=name, ClientContext=too_big)
    with expect_error("InvalidParameterValueException", 400, "Client context must be a valid Base64-encoded JSON object."):
        lam.invoke(FunctionName=name, ClientContext="bm90IGpzb24=")  # "not json"


def check_large_event_and_response(client, name):
    """A 2.5 MB event in, a 5 MB response with non-ASCII out, then small ones on the same connection."""
    blob = "ab" * (1280 * 1024)  # a 2.5 MB event, a 5 MB response
    r, body = invoke(client, name, json.dumps({"blob": blob}).encode())
    assert "FunctionError" not in r, body[:300]
    assert len(body) > 5 * 1024 * 1024
    out = json.loads(body)
    assert out["n"] == len(blob) and out["blob"] == blob[::-1] * 2 and out["tail"] == "é✓" * 1000
    for i in range(3):  # the same connection keeps working after big messages
        r, body = invoke(client, name, json.dumps({"blob": str(i)}).encode())
        assert json.loads(body)["blob"] == str(i) * 2


def test_python_large_event_and_response(any_backend):
    src = ("def handler(e, c):\n"
           "    return {'n': len(e['blob']), 'blob': e['blob'][::-1] * 2, 'tail': 'é✓' * 1000}\n")
    name = create(any_backend, src, MemorySize=512)
    check_large_event_and_response(any_backend, name)


def test_python_response_too_large_then_the_environment_serves_on(server):
    lam = server.client("lambda")
    src = "def handler(e, c):\n    return 'x' * e['size']\n"
    name = create(lam, src, MemorySize=512)
    r, body = invoke(lam, name, b'{"size": 6500000}')
    assert r["FunctionError"] == "Unhandled"
    assert json.loads(body)["errorType"] == "Function.ResponseSizeTooLarge"
    r, body = invoke(lam, name, b'{"size": 3}')
    assert "FunctionError" not in r and json.loads(body) == "xxx"


def test_python_error_payloads(any_backend):
    # the function's own traceback.py must not stand in for the one the runtime formats errors with
    code = lt.make_zip({
        "handler.py": "def handler(e, c):\n    if e.get('set'):\n        return {1}\n    return helper(e)\n\n\n"
                      "def helper(e):\n    raise KeyError('missing ' + e['k'])\n",
        "traceback.py": "raise ImportError('not the standard traceback')\n"})
    name = create(any_backend, code)
    r, body = invoke(any_backend, name, b'{"k": "x"}')
    assert r["FunctionError"] == "Unhandled"
    err = json.loads(body)
    assert err["errorType"] == "KeyError" and err["errorMessage"] == "'missing x'"
    assert err["requestId"] == r["ResponseMetadata"]["RequestId"]
    trace = err["stackTrace"]
    assert len(trace) == 2, trace  # the runtime's own frame is left out
    # (newer Pythons add a line of ^^^ under the failing expression)
    assert trace[0].startswith('  File "') and 'handler.py", line 4, in handler\n    return helper(e)\n' in trace[0]
    assert "handler.py\", line 8, in helper\n    raise KeyError('missing ' + e['k'])\n" in trace[1]
    r, body = invoke(any_backend, name, b'{"set": true}')
    assert r["FunctionError"] == "Unhandled"
    assert json.loads(body) == {"errorMessage": "Unable to marshal response: Object of type set is not JSON serializable",
                                "errorType": "Runtime.MarshalError", "requestId": r["ResponseMetadata"]["RequestId"],
                                "stackTrace": []}


def test_python_init_error_raised_by_the_module_and_nested_handler_path(server):
    lam = server.client("lambda")
    name = create(lam, "import os\n\nraise RuntimeError('no config')\n")
    r, body = invoke(lam, name)
    assert r["FunctionError"] == "Unhandled"
    err = json.loads(body)
    assert err["errorType"] == "RuntimeError" and err["errorMessage"] == "no config" and err["requestId"] == ""
    assert "handler.py\", line 3, in <module>\n    raise RuntimeError('no config')\n" in err["stackTrace"][-1]
    code = lt.make_zip({"app/__init__.py": "", "app/main.py": "def handler(e, c):\n    return {'nested': e['who']}\n"})
    name = create(lam, code, handler="app/main.handler")
    r, body = invoke(lam, name, b'{"who": "python"}')
    assert "FunctionError" not in r, body
    assert json.loads(body) == {"nested": "python"}


# ---- the Node.js runtime's Runtime API client (runtimes/node/bootstrap.js) --------------------

def node_create(client, files, handler="index.handler", **kw):
    if not node_available():
        pytest.skip("node is not installed")
    return create(client, lt.make_zip(files), runtime="nodejs22.x", handler=handler, **kw)


NODE_PROBE = """
exports.handler = async (event, context) => ({
  event,
  clientContext: context.clientContext ?? null,
  identity: context.identity ?? null,
  trace: process.env._X_AMZN_TRACE_ID ?? null,
  requestId: context.awsRequestId,
  arn: context.invokedFunctionArn,
  name: context.functionName,
  version: context.functionVersion,
  memory: context.memoryLimitInMB,
  group: context.logGroupName,
  stream: context.logStreamName,
  remaining: context.getRemainingTimeInMillis(),
  waits: context.callbackWaitsForEmptyEventLoop,
  legacy: [typeof context.succeed, typeof context.fail, typeof context.done],
});
"""


def test_node_context_client_context_trace_and_non_ascii(any_backend):
    name = node_create(any_backend, {"index.js": NODE_PROBE}, MemorySize=256)
    cc = {"custom": {"greeting": "grüß dich ✓"}, "env": {"platform": "test"}, "client": {"installation_id": "i-1"}}
    event = {"text": "héllo wörld ✓ 日本語 🚀", "n": 1}
    r, body = invoke(any_backend, name, json.dumps(event, ensure_ascii=False).encode(),
                     ClientContext=base64.b64encode(json.dumps(cc, ensure_ascii=False).encode()).decode())
    assert "FunctionError" not in r, body
    out = json.loads(body)
    assert out["event"] == event
    assert out["clientContext"] == cc  # as AWS's Node runtime: the parsed JSON as sent
    assert out["identity"] is None
    assert out["trace"].startswith("Root=1-")
    assert out["requestId"] == r["ResponseMetadata"]["RequestId"]
    assert out["arn"] == lt.fn_arn(name) and out["name"] == name and out["version"] == "$LATEST"
    assert out["memory"] == "256" and out["group"] == f"/aws/lambda/{name}" and "[$LATEST]" in out["stream"]
    assert 0 < out["remaining"] <= 3000
    assert out["waits"] is True and out["legacy"] == ["function"] * 3
    r2, body = invoke(any_backend, name, '{"n": 2, "s": "ünïcödé"}'.encode())  # warm: new id and trace, no client context
    out2 = json.loads(body)
    assert out2["event"] == {"n": 2, "s": "ünïcödé"} and out2["clientContext"] is None
    assert out2["requestId"] == r2["ResponseMetadata"]["RequestId"] != out["requestId"]
    assert out2["trace"].startswith("Root=1-") and out2["trace"] != out["trace"]


def test_node_large_event_and_response(any_backend):
    src = "exports.handler = async (e) => ({ n: e.blob.length, blob: e.blob.split('').reverse().join('').repeat(2), tail: 'é✓'.repeat(1000) });"
    name = node_create(any_backend, {"index.js": src}, MemorySize=512)
    check_large_event_and_response(any_backend, name)


def test_node_response_too_large_then_the_environment_serves_on(server):
    lam = server.client("lambda")
    name = node_create(lam, {"index.js": "exports.handler = async (e) => 'x'.repeat(e.size);"}, MemorySize=512)
    r, body = invoke(lam, name, b'{"size": 6500000}')
    assert r["FunctionError"] == "Unhandled"
    assert json.loads(body)["errorType"] == "Function.ResponseSizeTooLarge"
    r, body = invoke(lam, name, b'{"size": 3}')
    assert "FunctionError" not in r and json.loads(body) == "xxx"


@pytest.mark.parametrize("src,expected", [
    # AWS's payloads: a value that is not an Error is reported by its type, with no trace
    ("exports.handler = async () => { throw 'boom'; };", {"errorType": "string", "errorMessage": "boom", "trace": []}),
    ("exports.handler = () => { throw { code: 7 }; };", {"errorType": "object", "errorMessage": "[object Object]", "trace": []}),
    ("exports.handler = () => Promise.reject();", {"errorType": "string", "errorMessage": "handled", "trace": []}),
    ("exports.handler = (e, c, callback) => callback('plain');", {"errorType": "string", "errorMessage": "plain", "trace": []}),
    ("exports.handler = (e, c, callback) => setTimeout(() => callback(new RangeError('out of range')), 5);",
     {"errorType": "RangeError", "errorMessage": "out of range"}),
    ("exports.handler = (e, c) => c.fail(new Error('legacy'));", {"errorType": "Error", "errorMessage": "legacy"}),
    ("exports.handler = async () => { const a = {}; a.self = a; return a; };",
     {"errorType": "Error", "errorMessage": "Unable to stringify response body"}),
])
def test_node_error_payloads(server, src, expected):
    lam = server.client("lambda")
    name = node_create(lam, {"index.js": src})
    r, body = invoke(lam, name)
    assert r["FunctionError"] == "Unhandled", body
    err = json.loads(body)
    assert {k: err[k] for k in expected} == expected
    if "trace" not in expected:
        assert isinstance(err["trace"], list) and err["trace"][0].startswith(("RangeError: out of range", "Error: legacy",
                                                                             "TypeError: Converting circular"))


CALLBACKS = """
let fired = 0;
exports.handler = (event, context, callback) => {
  const before = fired;
  if (event.mode === 'callback') {
    context.callbackWaitsForEmptyEventLoop = event.wait;
    setTimeout(() => { fired++; }, event.ms);
    return callback(null, { before });
  }
  if (event.mode === 'succeed') return setTimeout(() => context.succeed({ succeeded: true }), 20);
  if (event.mode === 'done') return context.done(null, { done: true });
  if (event.mode === 'twice') { callback(null, 'first'); context.callbackWaitsForEmptyEventLoop = false; return callback(null, 'second'); }
  if (event.mode === 'nothing') return;  // a callback never called: the empty event loop ends the invoke with null
};
"""


def test_node_callback_styles_and_callback_waits_for_empty_event_loop(server):
    import time
    lam = server.client("lambda")
    name = node_create(lam, {"index.js": CALLBACKS}, Timeout=20)
    invoke(lam, name, b'{"mode": "done"}')  # warm
    t = time.monotonic()
    r, body = invoke(lam, name, b'{"mode": "callback", "wait": true, "ms": 400}')
    assert time.monotonic() - t >= 0.4  # the response waited for the timer
    assert json.loads(body) == {"before": 0}
    t = time.monotonic()
    r, body = invoke(lam, name, b'{"mode": "callback", "wait": false, "ms": 5000}')
    assert time.monotonic() - t < 4  # sent at once, the timer still pending
    assert json.loads(body) == {"before": 1}
    assert json.loads(invoke(lam, name, b'{"mode": "succeed"}')[1]) == {"succeeded": True}
    assert json.loads(invoke(lam, name, b'{"mode": "done"}')[1]) == {"done": True}
    assert json.loads(invoke(lam, name, b'{"mode": "twice"}')[1]) == "first"


def test_node_plain_and_unsettled_handlers(server):
    lam = server.client("lambda")
    # a plain function's return value is its response; nothing returned and nothing pending is null
    name = node_create(lam, {"index.js": "exports.handler = (e) => e.v;"})
    assert json.loads(invoke(lam, name, b'{"v": 42}')[1]) == 42
    assert json.loads(invoke(lam, name, b'{}')[1]) is None
    # an async handler whose promise can never settle: AWS's Runtime.NodeJsExit, and the environment serves on
    name = node_create(lam, {"index.js": "exports.handler = async (e) => e.hang ? new Promise(() => {}) : 'ok';"})
    r, body = invoke(lam, name, b'{"hang": true}')
    assert r["FunctionError"] == "Unhandled" and json.loads(body)["errorType"] == "Runtime.NodeJsExit"
    r, body = invoke(lam, name, b'{}')
    assert "FunctionError" not in r and json.loads(body) == "ok"


@pytest.mark.parametrize("src,error_type,message", [
    ("exports.handler = async () => { setTimeout(() => { throw new TypeError('late'); }, 5); return new Promise((r) => setTimeout(r, 2000)); };",
     "TypeError", "late"),
    ("exports.handler = async () => { Promise.reject(new Error('lost')); return new Promise((r) => setTimeout(r, 2000)); };",
     "Runtime.UnhandledPromiseRejection", "Error: lost"),
])
def test_node_uncaught_errors_fail_the_invoke_then_a_new_environment_serves(server, src, error_type, message):
    import time
    lam = server.client("lambda")
    name = node_create(lam, {"index.js": src}, Timeout=10)
    r, body = invoke(lam, name)
    assert r["FunctionError"] == "Unhandled"
    err = json.loads(body)
    assert (err["errorType"], err["errorMessage"]) == (error_type, message), err
    time.sleep(1)  # the runtime exits once its report is acknowledged (an invoke sent meanwhile fails: Runtime.ExitError)
    r, body = invoke(lam, name)  # a fresh environment reports the same
    assert json.loads(body)["errorType"] == error_type


def test_node_esm_top_level_await_and_nested_handler(server):
    lam = server.client("lambda")
    src = "const config = await new Promise((r) => setTimeout(() => r({ ready: 'yes' }), 20));\n" \
          "export const handler = async (e) => ({ ...config, who: e.who });\n"
    name = node_create(lam, {"index.mjs": src})
    r, body = invoke(lam, name, b'{"who": "esm"}')
    assert "FunctionError" not in r, body
    assert json.loads(body) == {"ready": "yes", "who": "esm"}
    # as AWS reads module.nested.name: the module is up to the first dot
    name = node_create(lam, {"package.json": '{"type": "module"}',
                             "lib/app.js": "export const api = { v1: { handler: async () => 'nested' } };"},
                       handler="lib/app.api.v1.handler")
    r, body = invoke(lam, name)
    assert "FunctionError" not in r, body
    assert json.loads(body) == "nested"


@pytest.mark.parametrize("files,handler,error_type,message", [
    ({"index.js": "exports.handler = async () => {;"}, "index.handler", "Runtime.UserCodeSyntaxError",
     "SyntaxError: Unexpected end of input"),
    ({"index.js": "require('no-such-package');"}, "index.handler", "Runtime.ImportModuleError",
     "Error: Cannot find module 'no-such-package'"),
    ({"index.mjs": "import x from 'no-such-package'; export const handler = () => x;"}, "index.handler",
     "Runtime.ImportModuleError", "Error [ERR_MODULE_NOT_FOUND]: Cannot find package 'no-such-package'"),
    ({"index.js": ""}, "missing.handler", "Runtime.ImportModuleError", "Error: Cannot find module 'missing'"),
    ({"index.js": "exports.handler = 5;"}, "index.handler", "Runtime.HandlerNotFound", "index.handler is not a function"),
    ({"index.js": ""}, "index", "Runtime.MalformedHandlerName", "Bad handler index"),
    ({"index.js": "throw new RangeError('no config');"}, "index.handler", "RangeError", "no config"),
    ({"index.js": "throw 'no config';"}, "index.handler", "string", "no config"),
    ({"index.mjs": "Promise.reject(new Error('init lost')); export const handler = () => 1;"}, "index.handler",
     "Runtime.UnhandledPromiseRejection", "Error: init lost"),
])
def test_node_init_errors(server, files, handler, error_type, message):
    lam = server.client("lambda")
    name = node_create(lam, files, handler=handler)
    r, body = invoke(lam, name, LogType="Tail")
    assert r["FunctionError"] == "Unhandled"
    err = json.loads(body)
    assert err["errorType"] == error_type and err["errorMessage"].startswith(message), err
    assert isinstance(err["trace"], list)
    assert f"Error Type: {error_type}" in base64.b64decode(r["LogResult"]).decode()


def test_back_to_back_invocations_reuse_one_warm_environment(any_backend):
    """The environment is free before its caller hears the answer: a client's
    next invocation, sent at once, never needs a second environment."""
    src = "import uuid\nENV = uuid.uuid4().hex\ndef handler(e, c):\n    return ENV\n"
    name = create(any_backend, src)
    seen = {json.loads(invoke(any_backend, name)[1]) for _ in range(30)}
    assert len(seen) == 1, seen


TRACE_ECHO = """
import json, os
def handler(event, context):
    print("TRACE " + json.dumps({"env": os.environ.get("_X_AMZN_TRACE_ID"),
                                 "header": (event.get("headers") or {}).get("x-amzn-trace-id")}))
    return {"trace": os.environ.get("_X_AMZN_TRACE_ID")}
"""


def _fields(header):
    return dict(part.split("=", 1) for part in header.split(";"))


def test_the_callers_trace_header_reaches_the_function(tmp_path):
    """X-Amzn-Trace-Id on Invoke, on an Event invoke and on a function URL request is the one the
    function sees (_X_AMZN_TRACE_ID, from the Runtime API's Lambda-Runtime-Trace-Id): its Root and
    sampling decision, under Lambda's own Parent. Without one, each invocation gets a new Root."""
    server = lt.LaminaServer(data_dir=tmp_path / "data", log_path=tmp_path / "server.log").start()
    try:
        _trace_checks(server, tmp_path / "data")
    finally:
        server.stop()


def _trace_checks(server, data):
    lam = server.client("lambda")
    name = create(lam, TRACE_ECHO)
    root = "1-5759e988-bd862e3fe1be46a994272793"
    sent = f"Root={root};Parent=53995c3f42cd8ad8;Sampled=1"

    def add_trace(request, **_):
        request.headers["X-Amzn-Trace-Id"] = sent
    lam.meta.events.register("before-sign.lambda.Invoke", add_trace)
    try:
        r, body = invoke(lam, name)
        seen = _fields(json.loads(body)["trace"])
        assert seen["Root"] == root and seen["Sampled"] == "1" and seen["Parent"] != "53995c3f42cd8ad8"
        lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")
    finally:
        lam.meta.events.unregister("before-sign.lambda.Invoke", add_trace)
    event_trace = lt.wait_for(lambda: lt.log_lines(data, name, "TRACE "), count=2)
    assert len(event_trace) == 2 and _fields(event_trace[1]["env"])["Root"] == root

    # a function URL: the event's x-amzn-trace-id header is the caller's, and so is the Root
    url = lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    lam.add_permission(FunctionName=name, StatementId="url", Action="lambda:InvokeFunctionUrl", Principal="*",
                       FunctionUrlAuthType="NONE")
    host = url.split("//", 1)[1].rstrip("/")
    status, _, body = lt.http_request(f"http://127.0.0.1:{server.port}/", headers={"Host": host,
                                                                                  "X-Amzn-Trace-Id": sent})
    assert status == 200
    assert _fields(json.loads(body)["trace"])["Root"] == root
    last = lt.wait_for(lambda: lt.log_lines(data, name, "TRACE "), count=3)[-1]
    assert last["header"] == sent

    # without a header: a new Root each time
    roots = {_fields(json.loads(invoke(lam, name)[1])["trace"])["Root"] for _ in range(2)}
    assert len(roots) == 2 and root not in roots
