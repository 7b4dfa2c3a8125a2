"""Hot reload (LocalStack's convention): Code.S3Bucket `hot-reload` and S3Key an absolute folder
path run that folder's live contents at /var/task (Content.S3Bucket: at /opt for a layer); a change
of its files retires the environments that run it, so the next invocation sees the new code.
Driven through the aws CLI, boto3, `lamina deploy --hot-reload` and Terraform."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

import lamina_testlib as lt
from lamina_testlib import expect_error
from test_terraform import PROVIDER_TF

HOT_SHA = "hot-reloading-hash-not-available"

HANDLER = '''
import time

def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {"v": VALUE}
'''


def folder(tmp_path: Path, name: str = "code") -> Path:
    d = tmp_path / name
    d.mkdir()
    d.chmod(0o755)  # read by the sandbox user when lamina runs as root
    return d


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp~")
    tmp.write_text(text)
    tmp.chmod(0o644)
    os.replace(tmp, path)  # as editors save


def handler(value) -> str:
    return HANDLER.replace("VALUE", repr(value))


def invoke(client, name: str, payload: dict | None = None) -> dict:
    r = client.invoke(FunctionName=name, Payload=json.dumps(payload or {}).encode())
    body = json.loads(r["Payload"].read())
    assert "FunctionError" not in r, body
    return body


def changes_within(client, name: str, expected: dict, seconds: float = 10.0) -> float:
    """Invokes until the answer is `expected` (nothing else done: no update, no restart);
    returns how long it took. The bound only ends a test that would hang: how soon a change
    shows (about 0.2 s here; the issue asks for under 1 s) is a measurement, not asserted
    (a loaded CI machine under ASan must not fail on it)."""
    start = time.monotonic()
    got = None
    while time.monotonic() - start < seconds:
        got = invoke(client, name)
        if got == expected:
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"still {got} instead of {expected} after {seconds:.0f}s")


@pytest.mark.cli
def test_cli_function_runs_the_folder_live(cli, lam, tmp_path):
    code = folder(tmp_path)
    write(code / "handler.py", handler(1))
    name = lt.unique("hot")
    made = cli.json("lambda", "create-function", "--function-name", name, "--runtime", lt.RUNTIME,
                    "--role", lt.ROLE_ARN, "--handler", "handler.handler",
                    "--code", f"S3Bucket=hot-reload,S3Key={code}")
    assert (made["CodeSha256"], made["CodeSize"]) == (HOT_SHA, 0)
    got = cli.json("lambda", "get-function", "--function-name", name)
    assert got["Code"]["Location"] == f"Code location: {code}"
    assert got["Configuration"]["CodeSha256"] == HOT_SHA
    out = tmp_path / "out.json"
    cli.run("lambda", "invoke", "--function-name", name, str(out))
    assert json.loads(out.read_text()) == {"v": 1}

    # an edit shows in the next invocations (a fresh environment)
    write(code / "handler.py", handler(2))
    changes_within(lam, name, {"v": 2})

    # a folder made later is watched too
    write(code / "pkg" / "__init__.py", "")
    write(code / "pkg" / "value.py", "V = 'a'\n")
    write(code / "handler.py", "from pkg import value\n\ndef handler(event, context):\n"
                               "    return {'v': value.V}\n")
    changes_within(lam, name, {"v": "a"})
    write(code / "pkg" / "value.py", "V = 'b'\n")
    changes_within(lam, name, {"v": "b"})

    # a published version keeps pointing at the folder
    published = cli.json("lambda", "publish-version", "--function-name", name)
    assert published["CodeSha256"] == HOT_SHA
    write(code / "pkg" / "value.py", "V = 'c'\n")
    changes_within(lam, f"{name}:{published['Version']}", {"v": "c"})


def test_a_busy_environment_finishes_its_invocation_first(lam, tmp_path):
    code = folder(tmp_path)
    write(code / "handler.py", handler("old"))
    name = lt.unique("hot")
    lam.create_function(FunctionName=name, Runtime=lt.RUNTIME, Role=lt.ROLE_ARN, Handler="handler.handler",
                        Code={"S3Bucket": "hot-reload", "S3Key": str(code)}, Timeout=10)
    assert invoke(lam, name) == {"v": "old"}
    slow: dict = {}
    t = threading.Thread(target=lambda: slow.update(invoke(lam, name, {"sleep": 2})))
    t.start()
    time.sleep(0.6)  # it holds the warm environment by now
    write(code / "handler.py", handler("new"))
    changes_within(lam, name, {"v": "new"})  # meanwhile, in a fresh environment
    t.join(10)
    assert slow == {"v": "old"}  # not killed: it finished in its own environment


def test_provisioned_environments_are_replaced_on_a_change(lam, tmp_path):
    code = folder(tmp_path)
    write(code / "handler.py", "import os\nV = 'one'\n\ndef handler(event, context):\n"
                               "    return {'v': V, 'init': os.environ['AWS_LAMBDA_INITIALIZATION_TYPE']}\n")
    name = lt.unique("hot")
    lam.create_function(FunctionName=name, Runtime=lt.RUNTIME, Role=lt.ROLE_ARN, Handler="handler.handler",
                        Code={"S3Bucket": "hot-reload", "S3Key": str(code)}, Publish=True)
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="1",
                                           ProvisionedConcurrentExecutions=1)
    ready = lt.wait_for(lambda: lam.get_provisioned_concurrency_config(
        FunctionName=name, Qualifier="1")["Status"] == "READY", timeout=20)
    assert ready
    assert invoke(lam, f"{name}:1") == {"v": "one", "init": "provisioned-concurrency"}
    write(code / "handler.py", (code / "handler.py").read_text().replace("'one'", "'two'"))
    assert lt.wait_for(lambda: invoke(lam, f"{name}:1")["v"] == "two", timeout=10)
    # the provisioned environment was replaced by one running the new code (until it is ready,
    # invocations spill over to on-demand environments, which run it too)
    assert lt.wait_for(lambda: invoke(lam, f"{name}:1") == {"v": "two", "init": "provisioned-concurrency"},
                       timeout=10)
    lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="1")


@pytest.mark.cli
def test_cli_layer_runs_its_folder_at_opt(cli, lam, tmp_path):
    layer_dir = folder(tmp_path, "layer")
    write(layer_dir / "python" / "greeting.py", "TEXT = 'hello'\n")
    (layer_dir / "python").chmod(0o755)
    layer = lt.unique("hotlayer")
    published = cli.json("lambda", "publish-layer-version", "--layer-name", layer,
                         "--content", f"S3Bucket=hot-reload,S3Key={layer_dir}")
    assert published["Content"]["CodeSha256"] == HOT_SHA
    assert published["Content"]["Location"] == f"Code location: {layer_dir}"
    name = lt.unique("hot")
    zip_code = lt.make_zip({"handler.py": "import greeting\n\ndef handler(event, context):\n"
                                          "    return {'v': greeting.TEXT}\n"})
    lt.create_function(lam, name, zip_bytes=zip_code, Layers=[published["LayerVersionArn"]])
    assert invoke(lam, name) == {"v": "hello"}
    write(layer_dir / "python" / "greeting.py", "TEXT = 'bonjour'\n")
    changes_within(lam, name, {"v": "bonjour"})

    # bound at /opt as it is: no other layer beside it
    other = lam.publish_layer_version(LayerName=lt.unique("zl"), Content={"ZipFile": lt.make_zip({"x.txt": "x"})})
    with expect_error("InvalidParameterValueException", 400, message_contains="hot-reloaded from"):
        lam.update_function_configuration(
            FunctionName=name, Layers=[published["LayerVersionArn"], other["LayerVersionArn"]])
    assert [l["Arn"] for l in lam.get_function_configuration(FunctionName=name)["Layers"]] == \
        [published["LayerVersionArn"]]


@pytest.mark.cli
@pytest.mark.parametrize("key, reason", [
    ("relative/code", "is relative"),
    ("/no/such/lamina/folder", "does not exist"),
    ("FILE", "is not a folder"),
])
def test_bad_hot_reload_paths_are_refused_and_change_nothing(cli, lam, tmp_path, key, reason):
    if key == "FILE":
        key = str(tmp_path / "handler.py")
        Path(key).write_text(handler(1))
    name = lt.unique("hot")
    p = cli.run("lambda", "create-function", "--function-name", name, "--runtime", lt.RUNTIME,
                "--role", lt.ROLE_ARN, "--handler", "handler.handler",
                "--code", f"S3Bucket=hot-reload,S3Key={key}", check=False)
    assert p.returncode != 0
    assert "InvalidParameterValueException" in p.stderr and reason in p.stderr, p.stderr
    with expect_error("ResourceNotFoundException", 404):
        lam.get_function(FunctionName=name)

    # UpdateFunctionCode: refused, the function keeps its code
    made = lt.create_function(lam, name)
    with expect_error("InvalidParameterValueException", 400, message_contains=reason):
        lam.update_function_code(FunctionName=name, S3Bucket="hot-reload", S3Key=key)
    assert lam.get_function_configuration(FunctionName=name)["CodeSha256"] == made["CodeSha256"]

    layer = lt.unique("hotlayer")
    with expect_error("InvalidParameterValueException", 400, message_contains=reason):
        lam.publish_layer_version(LayerName=layer, Content={"S3Bucket": "hot-reload", "S3Key": key})
    assert lam.list_layer_versions(LayerName=layer)["LayerVersions"] == []


def test_code_moved_away_from_hot_reload_stops_following_the_folder(lam, tmp_path):
    code = folder(tmp_path)
    write(code / "handler.py", handler("folder"))
    name = lt.unique("hot")
    lam.create_function(FunctionName=name, Runtime=lt.RUNTIME, Role=lt.ROLE_ARN, Handler="handler.handler",
                        Code={"S3Bucket": "hot-reload", "S3Key": str(code)})
    assert invoke(lam, name) == {"v": "folder"}
    updated = lam.update_function_code(FunctionName=name, ZipFile=lt.make_zip({"handler.py": handler("zip")}))
    assert updated["CodeSha256"] != HOT_SHA and updated["CodeSize"] > 0
    lt.wait_updated(lam, name)
    assert invoke(lam, name) == {"v": "zip"}
    write(code / "handler.py", handler("folder again"))
    time.sleep(0.8)
    assert invoke(lam, name) == {"v": "zip"}
    assert lam.get_function(FunctionName=name)["Code"]["Location"].startswith("http://")


def test_survives_a_restart_and_the_bucket_name_is_a_flag(tmp_path):
    code = folder(tmp_path)
    write(code / "handler.py", handler(1))
    data = tmp_path / "data"
    flags = ["--hot-reload-bucket", "my-live-code"]
    srv = lt.LaminaServer(data_dir=data, extra_args=flags).start()
    try:
        lam = srv.client("lambda")
        name = lt.unique("hot")
        # with another marker, hot-reload is an ordinary (here missing) bucket
        with expect_error("InvalidParameterValueException", 400, message_contains="NoSuchBucket"):
            lam.create_function(FunctionName=name, Runtime=lt.RUNTIME, Role=lt.ROLE_ARN,
                                Handler="handler.handler", Code={"S3Bucket": "hot-reload", "S3Key": str(code)})
        lam.create_function(FunctionName=name, Runtime=lt.RUNTIME, Role=lt.ROLE_ARN, Handler="handler.handler",
                            Code={"S3Bucket": "my-live-code", "S3Key": str(code)})
        assert invoke(lam, name) == {"v": 1}
    finally:
        srv.stop()
    srv = lt.LaminaServer(data_dir=data, extra_args=flags).start()
    try:
        lam = srv.client("lambda")
        assert lam.get_function(FunctionName=name)["Code"]["Location"] == f"Code location: {code}"
        assert invoke(lam, name) == {"v": 1}
        write(code / "handler.py", handler(2))
        changes_within(lam, name, {"v": 2})
    finally:
        srv.stop()


TEMPLATE = '''
Transform: AWS::Serverless-2016-10-31
Resources:
  Live:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: NAME
      Runtime: python3.12
      Handler: handler.handler
      CodeUri: src
'''


def test_lamina_deploy_hot_reload_binds_a_codeuri_folder(server, lam, tmp_path):
    app = folder(tmp_path, "app")
    src = folder(app, "src")
    write(src / "handler.py", handler("sam"))
    name = lt.unique("hotsam")
    (app / "template.yaml").write_text(TEMPLATE.replace("NAME", name))
    r = subprocess.run([str(lt.lamina_bin()), "deploy", str(app / "template.yaml"), "--endpoint", server.url,
                        "--stack-name", lt.unique("hot"), "--hot-reload"], capture_output=True, text=True,
                       timeout=60, env=dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test"))
    assert r.returncode == 0, r.stderr
    got = lam.get_function(FunctionName=name)
    assert got["Code"]["Location"] == f"Code location: {src.resolve()}"
    assert got["Configuration"]["CodeSha256"] == HOT_SHA
    assert invoke(lam, name) == {"v": "sam"}
    write(src / "handler.py", handler("edited"))
    changes_within(lam, name, {"v": "edited"})


TF = PROVIDER_TF + r'''
resource "aws_lambda_function" "fn" {
  function_name = var.name
  role          = "arn:aws:iam::123456789012:role/lambda-role"
  handler       = "handler.handler"
  runtime       = "python3.12"
  s3_bucket     = "hot-reload"
  s3_key        = "${dirname(var.zip)}/src"
}
'''


@pytest.fixture
def tf_hot(server, lam, tmp_path):
    """Terraform set up as test_terraform.py does, without its destroy at the end (each terraform
    run costs seconds): the function it made is deleted through the API instead."""
    from test_terraform import make_tf
    steps = make_tf(server, tmp_path, TF, handler("unused"))
    run = next(steps)
    yield run
    try:
        lam.delete_function(FunctionName=run.name)
    except lam.exceptions.ResourceNotFoundException:
        pass


@pytest.mark.timeout_s(300)
def test_terraform_function_from_a_folder(tf_hot, lam, tmp_path):
    src = folder(tmp_path / "tf", "src")
    write(src / "handler.py", handler("tf"))
    tf_hot("apply", "-auto-approve", "-input=false", timeout=120)
    name = tf_hot.name
    got = lam.get_function(FunctionName=name)
    assert got["Code"]["Location"] == f"Code location: {src}"
    assert got["Configuration"]["CodeSha256"] == HOT_SHA
    assert invoke(lam, name) == {"v": "tf"}
    write(src / "handler.py", handler("tf edited"))
    changes_within(lam, name, {"v": "tf edited"})
    # (a `terraform plan` right after showed no changes when this was written; it is left out
    # here because each terraform run loads the provider again: seconds of CI)
