"""SAM / CloudFormation templates: `lamina serve --template`, `lamina deploy`, `lamina delete`.

Every deployment goes through the Lambda API, so what is checked here is what a
user's boto3 client sees afterwards."""
from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import textwrap
import threading
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

import lamina_testlib as lt

EXAMPLE = lt.REPO / "examples" / "sam-app"


def lamina_env(key: str = "test", secret: str = "test") -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAMINA_", "AWS_"))}
    env.update({"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret, "AWS_DEFAULT_REGION": lt.REGION})
    return env


def lamina(*args: str, key: str = "test", secret: str = "test", timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(lt.lamina_bin()), *args], capture_output=True, text=True, timeout=timeout,
                          env=lamina_env(key, secret), stdin=subprocess.DEVNULL)


def deploy(server, template: Path, *extra: str, key: str = "test", secret: str = "test",
           timeout: float = 120) -> subprocess.CompletedProcess:
    return lamina("deploy", str(template), "--endpoint", server.url, *extra, key=key, secret=secret, timeout=timeout)


def new_account() -> str:
    return str(random.randint(100000000000, 999999999999))


def stack_name(prefix: str = "stk") -> str:
    return f"{prefix}-{random.randint(0, 16**8):08x}"


def copy_app(tmp_path: Path) -> Path:
    dest = tmp_path / "app"
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns("run.sh", "__pycache__"))
    return dest


def deployed_app(srv, tmp_path: Path, prefix: str):
    """The sam-app example deployed as a new stack: (stack, lambda client, greet function,
    its source file to edit for the next deployment)."""
    app = copy_app(tmp_path)
    stack = stack_name(prefix)
    r = deploy(srv, app / "template.yaml", "--stack-name", stack)
    assert r.returncode == 0, r.stderr
    return app, stack, srv.client("lambda"), f"{stack}-greet", app / "src" / "greet" / "app.py"


def invoke(client, name: str, payload: dict | None = None) -> dict:
    r = client.invoke(FunctionName=name, Payload=json.dumps(payload or {}).encode())
    body = json.loads(r["Payload"].read())
    assert "FunctionError" not in r, body
    return body


def alias_state(client, fn: str, alias: str) -> tuple[str, dict]:
    a = client.get_alias(FunctionName=fn, Name=alias)
    return a["FunctionVersion"], a.get("RoutingConfig", {}).get("AdditionalVersionWeights", {})


def everything(client) -> tuple[list, list]:
    fns = sorted(f["FunctionName"] for f in client.list_functions()["Functions"])
    layers = sorted((l["LayerName"], l["LatestMatchingVersion"]["Version"]) for l in client.list_layers()["Layers"])
    return fns, layers


# --------------------------------------------------------------------------------------
# serve --template
# --------------------------------------------------------------------------------------

@pytest.mark.timeout_s(120)
def test_serve_template_deploys_the_sam_app_before_announcing_the_port(tmp_path):
    app = copy_app(tmp_path)
    srv = lt.LaminaServer(extra_args=["--template", str(app / "template.yaml"), "--stack-name", "demo",
                                      "--parameter-overrides", "Greeting=Bonjour", "Stage=prod",
                                      "--log-level", "info"])
    srv.start(timeout=60)
    try:
        lam = srv.client("lambda")
        # the functions are there as soon as the port is
        body = invoke(lam, "demo-greet:live", {"name": "Ada"})
        assert body["body"]["message"] == "Bonjour, Ada!"
        assert body["body"]["code"] == "v1"
        assert body["body"]["function_version"] == "1"
        assert body["stage"] == "prod" and body["layer"] == "shared_util 1.0"  # Globals env + the layer
        report = invoke(lam, "demo-report", {"items": [1, 2]})
        assert report["body"]["items"] == 2 and report["layer"] == "shared_util 1.0"

        cfg = lam.get_function_configuration(FunctionName="demo-greet")
        assert cfg["Runtime"] == "python3.12" and cfg["MemorySize"] == 128 and cfg["Timeout"] == 10
        assert cfg["Environment"]["Variables"] == {"STAGE": "prod", "GREETING": "Bonjour"}
        assert [l["Arn"] for l in cfg["Layers"]] == [lt.layer_version_arn("demo-shared", 1)]
        assert cfg["Role"].startswith(f"arn:aws:iam::{lt.ACCOUNT}:role/demo-GreetFunctionRole-")
        # Stage=prod makes the !If pick 2 provisioned environments on the alias
        pc = lam.get_provisioned_concurrency_config(FunctionName="demo-greet", Qualifier="live")
        assert pc["RequestedProvisionedConcurrentExecutions"] == 2
        assert lam.get_function_concurrency(FunctionName="demo-report")["ReservedConcurrentExecutions"] == 2
        assert lam.get_alias(FunctionName="demo-greet", Name="live")["FunctionVersion"] == "1"

        log = srv.log_tail(20000)
        warnings = [l for l in log.splitlines() if "not emulated by lamina" in l]
        assert len(warnings) == 1, warnings  # one warning lists them all
        assert "ReportFunction.Events.Nightly (Schedule)" in warnings[0]
        assert f"GreetLiveAlias = arn:aws:lambda:{lt.REGION}:{lt.ACCOUNT}:function:demo-greet:live" in log

        # a restart with the same template changes nothing
        versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName="demo-greet")["Versions"]]
        assert versions == ["$LATEST", "1"]
    finally:
        srv.stop()


def test_serve_refuses_a_template_it_cannot_apply(tmp_path):
    bad = tmp_path / "template.yaml"
    bad.write_text("Resources:\n  Fn:\n    Type: AWS::Lambda::Function\n    Properties:\n      Runtime: python3.12\n")
    srv = lt.LaminaServer(extra_args=["--template", str(bad)])
    with pytest.raises(RuntimeError) as e:
        srv.start(timeout=30)
    assert srv.proc.wait(10) == 1
    assert f"{bad}:4: Resources.Fn.Properties: Handler is required for a zip function" in str(e.value), str(e.value)


# --------------------------------------------------------------------------------------
# lamina deploy: redeploy, traffic shifting, deletion
# --------------------------------------------------------------------------------------

@pytest.mark.timeout_s(150)
def test_redeploy_updates_in_place_and_moves_the_alias(server, tmp_path):
    app = copy_app(tmp_path)
    stack = stack_name("redeploy")
    lam = server.client("lambda")
    first = deploy(server, app / "template.yaml", "--stack-name", stack)
    assert first.returncode == 0, first.stderr
    assert f"created  GreetFunction  function {stack}-greet" in first.stdout
    assert invoke(lam, f"{stack}-greet:live")["body"]["code"] == "v1"
    sha1 = lam.get_function_configuration(FunctionName=f"{stack}-greet")["CodeSha256"]

    # nothing changed: nothing new
    again = deploy(server, app / "template.yaml", "--stack-name", stack)
    assert again.returncode == 0, again.stderr
    assert f"unchanged GreetFunction" in again.stdout and "unchanged SharedLayer" in again.stdout
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName=f"{stack}-greet")["Versions"]] == ["$LATEST", "1"]
    assert [v["Version"] for v in lam.list_layer_versions(LayerName=f"{stack}-shared")["LayerVersions"]] == [1]

    # new code and a new setting: a new $LATEST, a new version, the alias moved (AllAtOnce)
    src = app / "src" / "greet" / "app.py"
    src.write_text(src.read_text().replace('VERSION = "v1"', 'VERSION = "v2"'))
    third = deploy(server, app / "template.yaml", "--stack-name", stack,
                   "--parameter-overrides", "DeploymentType=AllAtOnce", "Greeting=Hi")
    assert third.returncode == 0, third.stderr
    cfg = lam.get_function_configuration(FunctionName=f"{stack}-greet")
    assert cfg["CodeSha256"] != sha1
    assert cfg["Environment"]["Variables"]["GREETING"] == "Hi"
    assert alias_state(lam, f"{stack}-greet", "live") == ("2", {})
    body = invoke(lam, f"{stack}-greet:live", {"name": "Bo"})
    assert body["body"] == {"message": "Hi, Bo!", "code": "v2", "function_version": "2"}
    # version 1 is kept, as SAM keeps the versions it published
    assert invoke(lam, f"{stack}-greet:1")["body"]["code"] == "v1"
    assert lamina("delete", "--stack-name", stack, "--endpoint", server.url).returncode == 0


@pytest.mark.timeout_s(150)
@pytest.mark.parametrize("kind,expected", [
    ("Canary20Percent3Minutes", [0.2]),
    ("Linear25PercentEvery1Minute", [0.25, 0.5, 0.75]),
])
def test_deployment_preference_shifts_weights_over_time(server, tmp_path, kind, expected):
    app = copy_app(tmp_path)
    stack = stack_name("shift")
    lam = server.client("lambda")
    fn = f"{stack}-greet"
    assert deploy(server, app / "template.yaml", "--stack-name", stack).returncode == 0
    src = app / "src" / "greet" / "app.py"
    src.write_text(src.read_text().replace('VERSION = "v1"', 'VERSION = "v2"'))

    minute = 1.5
    started = time.monotonic()
    proc = subprocess.Popen([str(lt.lamina_bin()), "deploy", str(app / "template.yaml"), "--endpoint", server.url,
                             "--stack-name", stack, "--deployment-minute", str(minute),
                             "--parameter-overrides", f"DeploymentType={kind}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=lamina_env())
    seen = []
    try:
        while proc.poll() is None and time.monotonic() - started < 60:
            try:
                state = alias_state(lam, fn, "live")
            except ClientError:
                continue
            if not seen or seen[-1] != state:
                seen.append(state)
            time.sleep(0.05)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, err
    seen.append(alias_state(lam, fn, "live"))
    weights = [w["2"] for v, w in seen if v == "1" and "2" in w]
    # every step was seen, in order, and the alias ended on version 2 alone
    assert sorted(set(weights)) == expected, seen
    assert weights == sorted(weights), seen
    assert seen[-1] == ("2", {})
    steps = 3 if kind.startswith("Canary") else 3  # three minutes either way
    assert elapsed >= steps * minute * 0.9, elapsed  # it waited between steps
    assert "traffic  " + fn + ":live -> version 2 (100%)" in out
    assert lamina("delete", "--stack-name", stack, "--endpoint", server.url).returncode == 0


LAYERED = textwrap.dedent("""\
    Transform: AWS::Serverless-2016-10-31
    Parameters:
      Prefix: {Type: String}
    Resources:
      Libs:
        Type: AWS::Serverless::LayerVersion
        Properties:
          LayerName: !Sub "${Prefix}-libs"
          ContentUri: layer/
          RetentionPolicy: Delete
      Main:
        Type: AWS::Serverless::Function
        Properties:
          FunctionName: !Sub "${Prefix}-main"
          Runtime: python3.12
          Handler: main.handler
          CodeUri: main/
          Layers: [!Ref Libs]
      Extra:
        Type: AWS::Serverless::Function
        Properties:
          FunctionName: !Sub "${Prefix}-extra"
          Runtime: python3.12
          Handler: main.handler
          CodeUri: main/
""")


def write_layered(root: Path, lib_text: str, with_extra: bool = True):
    (root / "layer" / "python").mkdir(parents=True, exist_ok=True)
    (root / "main").mkdir(exist_ok=True)
    (root / "layer" / "python" / "lib.py").write_text(f"TEXT = {lib_text!r}\n")
    (root / "main" / "main.py").write_text("import lib\n\ndef handler(event, context):\n    return lib.TEXT\n")
    text = LAYERED if with_extra else LAYERED[:LAYERED.index("  Extra:")]
    (root / "template.yaml").write_text(text)


@pytest.mark.timeout_s(120)
def test_removed_resources_and_replaced_layer_versions_are_deleted(server, tmp_path):
    prefix = stack_name("rm")
    lam = server.client("lambda")
    write_layered(tmp_path, "one")
    r = deploy(server, tmp_path / "template.yaml", "--stack-name", prefix, "--parameter-overrides", f"Prefix={prefix}")
    assert r.returncode == 0, r.stderr
    assert invoke(lam, f"{prefix}-main") == "one"
    lam.get_function(FunctionName=f"{prefix}-extra")

    write_layered(tmp_path, "two", with_extra=False)
    r = deploy(server, tmp_path / "template.yaml", "--stack-name", prefix, "--parameter-overrides", f"Prefix={prefix}")
    assert r.returncode == 0, r.stderr
    assert f"deleted  Extra  function {prefix}-extra" in r.stdout
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName=f"{prefix}-extra")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    # the layer's new content is version 2; RetentionPolicy Delete removed version 1
    assert invoke(lam, f"{prefix}-main") == "two"
    assert [v["Version"] for v in lam.list_layer_versions(LayerName=f"{prefix}-libs")["LayerVersions"]] == [2]
    with pytest.raises(ClientError):
        lam.get_layer_version(LayerName=f"{prefix}-libs", VersionNumber=1)

    r = lamina("delete", "--stack-name", prefix, "--endpoint", server.url)
    assert r.returncode == 0, r.stderr
    assert not any(f["FunctionName"].startswith(prefix) for f in lam.list_functions()["Functions"])
    assert lam.list_layer_versions(LayerName=f"{prefix}-libs")["LayerVersions"] == []
    again = lamina("delete", "--stack-name", prefix, "--endpoint", server.url)
    assert again.returncode == 1 and f"no stack named {prefix}" in again.stderr


# --------------------------------------------------------------------------------------
# Templates that cannot be applied: refused with file, line and reason; nothing changes
# --------------------------------------------------------------------------------------

HEAD = "Transform: AWS::Serverless-2016-10-31\nResources:\n"
GOOD_FN = ("  Good:\n    Type: AWS::Serverless::Function\n    Properties:\n"
           "      Runtime: python3.12\n      Handler: main.handler\n      CodeUri: main/\n")   # lines 3-8
BAD_FN = ("  Bad:\n    Type: AWS::Serverless::Function\n    Properties:\n"
          "      Runtime: python3.12\n      Handler: main.handler\n")                     # lines 9-13

# case -> (template, line of the error (0: any), reason)
BAD_TEMPLATES = {
    "bad_yaml": (HEAD + "  Fn: [unclosed\n  Other: 1\n", 0, "not a valid YAML or JSON template"),
    "unknown_intrinsic": (HEAD + GOOD_FN + BAD_FN + "      CodeUri: main/\n      Description: !Frobnicate [a, b]\n", 15,
                          "unknown intrinsic function Fn::Frobnicate"),
    "missing_code_uri": (HEAD + GOOD_FN + BAD_FN, 11, "Resources.Bad.Properties: CodeUri or InlineCode is required"),
    "code_uri_not_there": (HEAD + GOOD_FN + BAD_FN + "      CodeUri: nowhere/\n", 14,
                           "Resources.Bad.Properties.CodeUri: the folder or zip"),
    "unknown_ref": (HEAD + GOOD_FN + "      Layers: [!Ref NoSuchLayer]\n", 9,
                    "Ref to 'NoSuchLayer', which is neither a parameter nor a resource of this template"),
    "unknown_property": (HEAD + GOOD_FN + "      MemorySise: 256\n", 9,
                         "property MemorySise is not defined for a resource of type AWS::Serverless::Function"),
    "bad_runtime": (HEAD + GOOD_FN.replace("python3.12", "python2.1"), 6, "Resources.Good.Properties.Runtime:"),
    "memory_too_big": (HEAD + GOOD_FN + "      MemorySize: 20000\n", 9, "must be between 128 and 10240, got 20000"),
    "cycle": (HEAD + GOOD_FN +
              "  A:\n    Type: AWS::Lambda::Permission\n    Properties:\n      FunctionName: !Ref B\n"
              "      Action: lambda:InvokeFunction\n      Principal: s3.amazonaws.com\n"
              "  B:\n    Type: AWS::Lambda::Permission\n    Properties:\n      FunctionName: !Ref A\n"
              "      Action: lambda:InvokeFunction\n      Principal: s3.amazonaws.com\n", 0,
              "circular dependency between resources"),
    "serverless_without_transform": ("Resources:\n" + GOOD_FN, 3, "needs 'Transform: AWS::Serverless-2016-10-31'"),
    "select_out_of_range": (HEAD + GOOD_FN + "      Description: !Select [5, [a, b]]\n", 9,
                            "Fn::Select index 5 is out of range"),
    "non_lambda_destination": (HEAD + GOOD_FN + "      EventInvokeConfig:\n        DestinationConfig:\n"
                               "          OnFailure: {Type: SQS}\n", 0, "lamina emulates Lambda destinations only"),
    "image_function": (HEAD + "  Img:\n    Type: AWS::Serverless::Function\n    Properties:\n"
                       "      PackageType: Image\n      ImageUri: repo/img:1\n      Runtime: python3.12\n", 8,
                       "Runtime is not for a PackageType: Image function"),
    "url_without_auth_type": (HEAD + GOOD_FN + "      FunctionUrlConfig:\n        InvokeMode: BUFFERED\n", 9,
                              "Resources.Good.Properties.FunctionUrlConfig: AuthType is required"),
    "url_without_target": (HEAD + GOOD_FN + "  Url:\n    Type: AWS::Lambda::Url\n    Properties:\n"
                           "      AuthType: NONE\n", 11, "Resources.Url.Properties: TargetFunctionArn is required"),
}


@pytest.mark.parametrize("case", sorted(BAD_TEMPLATES))
def test_a_template_that_cannot_be_applied_changes_nothing(server, tmp_path, case):
    text, line, reason = BAD_TEMPLATES[case]
    (tmp_path / "main").mkdir()
    (tmp_path / "main" / "main.py").write_text("def handler(e, c):\n    return 1\n")
    template = tmp_path / "template.yaml"
    template.write_text(text)
    account = new_account()
    lam = server.client("lambda", key=account)
    before = everything(lam)
    r = deploy(server, template, "--stack-name", "bad", key=account)
    assert r.returncode == 1, r.stdout
    assert "the template was not applied" in r.stderr
    where = f"{template}:{line}:" if line else f"{template}:"
    assert where in r.stderr, r.stderr
    assert reason in r.stderr, r.stderr
    assert everything(lam) == before
    assert r.stdout == ""  # nothing was created, so nothing was reported


def test_unknown_parameter_override_is_refused(server, tmp_path):
    app = copy_app(tmp_path)
    r = deploy(server, app / "template.yaml", "--stack-name", stack_name(), "--parameter-overrides", "Nope=1")
    assert r.returncode == 1
    assert "Parameters: [Nope] do not exist in the template" in r.stderr
    r = deploy(server, app / "template.yaml", "--stack-name", stack_name(), "--parameter-overrides", "Stage=qa")
    assert r.returncode == 1 and "Parameter 'Stage' must be one of AllowedValues, got 'qa'" in r.stderr


def test_a_failure_while_applying_removes_what_was_created(server, tmp_path):
    (tmp_path / "main").mkdir()
    (tmp_path / "main" / "main.py").write_text("def handler(e, c):\n    return 1\n")
    account = new_account()
    (tmp_path / "template.yaml").write_text(textwrap.dedent("""\
        Transform: AWS::Serverless-2016-10-31
        Resources:
          First:
            Type: AWS::Serverless::Function
            Properties: {FunctionName: first, Runtime: python3.12, Handler: main.handler, CodeUri: main/}
          Second:
            Type: AWS::Serverless::Function
            DependsOn: First
            Properties:
              FunctionName: second
              Runtime: python3.12
              Handler: main.handler
              CodeUri: main/
              ReservedConcurrentExecutions: 5000
        """))
    lam = server.client("lambda", key=account)
    r = deploy(server, tmp_path / "template.yaml", "--stack-name", "fails", key=account)
    assert r.returncode == 1
    assert "Second (PutFunctionConcurrency): InvalidParameterValueException" in r.stderr, r.stderr
    assert everything(lam) == ([], [])  # `first` was created, then removed again
    # and the stack was not recorded
    r = lamina("delete", "--stack-name", "fails", "--endpoint", server.url, key=account)
    assert r.returncode == 1 and "no stack named fails" in r.stderr


# --------------------------------------------------------------------------------------
# CloudFormation's own resource types, in a JSON template with long-form intrinsics
# --------------------------------------------------------------------------------------

@pytest.mark.timeout_s(120)
def test_json_template_with_cloudformation_resources(server, tmp_path):
    prefix = stack_name("cfn")
    (tmp_path / "shared" / "python").mkdir(parents=True)
    (tmp_path / "shared" / "python" / "shared.py").write_text("WORD = 'layered'\n")
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {"Env": {"Type": "String", "Default": "test"},
                       "Sizes": {"Type": "CommaDelimitedList", "Default": "128, 256, 512"}},
        "Mappings": {"ByEnv": {"test": {"Timeout": 7}, "prod": {"Timeout": 30}}},
        "Conditions": {"IsTest": {"Fn::Equals": [{"Ref": "Env"}, "test"]}},
        "Resources": {
            "Shared": {"Type": "AWS::Lambda::LayerVersion",
                       "Properties": {"LayerName": {"Fn::Join": ["-", [prefix, "shared"]]}, "Content": "shared",
                                      "CompatibleRuntimes": ["python3.12"]}},
            "Sink": {"Type": "AWS::Lambda::Function",
                     "Properties": {"FunctionName": f"{prefix}-sink", "Runtime": "python3.12", "Handler": "index.handler",
                                    "Role": f"arn:aws:iam::{lt.ACCOUNT}:role/r",
                                    "Code": {"ZipFile": "def handler(e, c):\n    return 'sink'\n"}}},
            "Worker": {"Type": "AWS::Lambda::Function",
                       "Properties": {
                           "FunctionName": {"Fn::Sub": ["${P}-worker", {"P": prefix}]},
                           "Runtime": "python3.12", "Handler": "index.handler",
                           "Role": {"Fn::Sub": "arn:aws:iam::${AWS::AccountId}:role/worker"},
                           "MemorySize": {"Fn::Select": [1, {"Ref": "Sizes"}]},
                           "Timeout": {"Fn::FindInMap": ["ByEnv", {"Ref": "Env"}, "Timeout"]},
                           "Layers": [{"Ref": "Shared"}],
                           "Environment": {"Variables": {
                               "MODE": {"Fn::If": ["IsTest", "testing", "live"]},
                               "SINK": {"Fn::GetAtt": ["Sink", "Arn"]},
                               "REGION": {"Ref": "AWS::Region"},
                               "GONE": {"Fn::If": ["IsTest", {"Ref": "AWS::NoValue"}, "x"]}}},
                           "Tags": [{"Key": "team", "Value": "core"}],
                           "Code": {"ZipFile": "import os, shared\ndef handler(e, c):\n"
                                               "    return [shared.WORD, os.environ['MODE'], c.function_version]\n"}}},
            "V1": {"Type": "AWS::Lambda::Version", "Properties": {"FunctionName": {"Ref": "Worker"}, "Description": "first"}},
            "Live": {"Type": "AWS::Lambda::Alias",
                     "Properties": {"FunctionName": {"Ref": "Worker"}, "Name": "live",
                                    "FunctionVersion": {"Fn::GetAtt": ["V1", "Version"]}}},
            "Allow": {"Type": "AWS::Lambda::Permission",
                      "Properties": {"FunctionName": {"Ref": "Live"}, "Action": "lambda:InvokeFunction",
                                     "Principal": "s3.amazonaws.com", "SourceAccount": {"Ref": "AWS::AccountId"}}},
            "Async": {"Type": "AWS::Lambda::EventInvokeConfig",
                      "Properties": {"FunctionName": {"Ref": "Worker"}, "Qualifier": "live", "MaximumRetryAttempts": 0,
                                     "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": ["Sink", "Arn"]}}}}},
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {}},
            "Topic": {"Type": "AWS::SNS::Topic", "Properties": {}},
        },
        "Outputs": {"Queue": {"Value": {"Fn::GetAtt": ["Queue", "Arn"]}},
                    "Alias": {"Value": {"Ref": "Live"}}},
    }
    path = tmp_path / "template.json"
    path.write_text(json.dumps(template, indent=2))
    r = deploy(server, path, "--stack-name", prefix)
    assert r.returncode == 0, r.stderr
    assert "Topic (AWS::SNS::Topic)" in r.stderr  # the one warning
    assert "Queue (AWS::SQS::Queue)" not in r.stderr  # queues are made
    lam = server.client("lambda")
    worker = f"{prefix}-worker"
    cfg = lam.get_function_configuration(FunctionName=worker)
    assert cfg["MemorySize"] == 256 and cfg["Timeout"] == 7
    assert cfg["Role"] == f"arn:aws:iam::{lt.ACCOUNT}:role/worker"
    assert cfg["Environment"]["Variables"] == {"MODE": "testing", "SINK": lt.fn_arn(f"{prefix}-sink"), "REGION": lt.REGION}
    assert [l["Arn"] for l in cfg["Layers"]] == [lt.layer_version_arn(f"{prefix}-shared", 1)]
    assert lam.list_tags(Resource=lt.fn_arn(worker))["Tags"] == {"team": "core"}
    assert invoke(lam, worker + ":live") == ["layered", "testing", "1"]
    assert lam.get_alias(FunctionName=worker, Name="live")["FunctionVersion"] == "1"
    policy = json.loads(lam.get_policy(FunctionName=worker, Qualifier="live")["Policy"])
    assert [s["Principal"] for s in policy["Statement"]] == [{"Service": "s3.amazonaws.com"}]
    eic = lam.get_function_event_invoke_config(FunctionName=worker, Qualifier="live")
    assert eic["MaximumRetryAttempts"] == 0
    assert eic["DestinationConfig"]["OnFailure"]["Destination"] == lt.fn_arn(f"{prefix}-sink")
    assert f"output   Alias = {lt.fn_arn(worker, 'live')}" in r.stdout
    assert f"output   Queue = arn:aws:sqs:{lt.REGION}:{lt.ACCOUNT}:{prefix}-Queue-" in r.stdout
    assert len(server.client("sqs").list_queues(QueueNamePrefix=f"{prefix}-Queue-")["QueueUrls"]) == 1

    # removing the permission and the event invoke config from the template removes them
    del template["Resources"]["Allow"], template["Resources"]["Async"]
    path.write_text(json.dumps(template))
    r = deploy(server, path, "--stack-name", prefix)
    assert r.returncode == 0, r.stderr
    with pytest.raises(ClientError):
        lam.get_policy(FunctionName=worker, Qualifier="live")
    with pytest.raises(ClientError):
        lam.get_function_event_invoke_config(FunctionName=worker, Qualifier="live")
    assert lamina("delete", "--stack-name", prefix, "--endpoint", server.url).returncode == 0


# --------------------------------------------------------------------------------------
# --watch
# --------------------------------------------------------------------------------------

def wait_for(check, timeout: float = 20):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"not true within {timeout}s (last: {last!r})")


@pytest.mark.timeout_s(120)
def test_watch_updates_latest_when_code_or_layer_folders_change(tmp_path):
    prefix = stack_name("watch")
    write_layered(tmp_path, "one", with_extra=False)
    srv = lt.LaminaServer(extra_args=["--template", str(tmp_path / "template.yaml"), "--watch",
                                      "--parameter-overrides", f"Prefix={prefix}", "--log-level", "info"])
    srv.start(timeout=60)
    try:
        lam = srv.client("lambda")
        main = f"{prefix}-main"
        assert invoke(lam, main) == "one"
        # function code: $LATEST picks it up
        (tmp_path / "main" / "main.py").write_text("import lib\n\ndef handler(event, context):\n    return 'edited ' + lib.TEXT\n")
        wait_for(lambda: invoke(lam, main) == "edited one")
        # a file added in a new sub folder counts too
        (tmp_path / "main" / "pkg").mkdir()
        (tmp_path / "main" / "pkg" / "__init__.py").write_text("X = 'sub'\n")
        (tmp_path / "main" / "main.py").write_text("import lib, pkg\n\ndef handler(event, context):\n    return pkg.X + lib.TEXT\n")
        wait_for(lambda: invoke(lam, main) == "subone")
        # layer content: a new layer version, and $LATEST uses it
        (tmp_path / "layer" / "python" / "lib.py").write_text("TEXT = 'two'\n")
        wait_for(lambda: invoke(lam, main) == "subtwo")
        cfg = lam.get_function_configuration(FunctionName=main)
        assert [l["Arn"] for l in cfg["Layers"]] == [lt.layer_version_arn(f"{prefix}-libs", 2)]
        # the template itself: deployed again
        t = (tmp_path / "template.yaml").read_text()
        (tmp_path / "template.yaml").write_text(t.replace("Handler: main.handler", "Handler: main.handler\n      MemorySize: 256"))
        wait_for(lambda: lam.get_function_configuration(FunctionName=main)["MemorySize"] == 256)
    finally:
        srv.stop()


# --------------------------------------------------------------------------------------
# --auth sigv4
# --------------------------------------------------------------------------------------

@pytest.mark.timeout_s(120)
def test_templates_under_sigv4_deploy_into_the_signing_account(tmp_path):
    creds = tmp_path / "credentials"
    creds.write_text("AKIDALICE0000000000A alice-secret 111111111111\nAKIDBOB000000000000B bob-secret 222222222222\n")
    write_layered(tmp_path, "one", with_extra=False)
    srv = lt.LaminaServer(extra_args=["--auth", "sigv4", "--credentials", str(creds), "--account-id", "111111111111",
                                      "--template", str(tmp_path / "template.yaml"), "--stack-name", "boot",
                                      "--parameter-overrides", "Prefix=boot"])
    srv.start(timeout=60)
    try:
        import boto3
        from botocore.config import Config

        def client(key, secret):
            return boto3.client("lambda", endpoint_url=srv.url, region_name=lt.REGION, aws_access_key_id=key,
                                aws_secret_access_key=secret, config=Config(retries={"total_max_attempts": 1}))
        alice = client("AKIDALICE0000000000A", "alice-secret")
        bob = client("AKIDBOB000000000000B", "bob-secret")
        assert [f["FunctionName"] for f in alice.list_functions()["Functions"]] == ["boot-main"]
        assert bob.list_functions()["Functions"] == []
        # lamina deploy signs with the environment's key: bob's stack lands in bob's account
        r = deploy(srv, tmp_path / "template.yaml", "--stack-name", "bobs", "--parameter-overrides", "Prefix=bob",
                   key="AKIDBOB000000000000B", secret="bob-secret")
        assert r.returncode == 0, r.stderr
        assert [f["FunctionName"] for f in bob.list_functions()["Functions"]] == ["bob-main"]
        assert invoke(bob, "bob-main") == "one"
        # a wrong secret is refused before anything happens
        r = deploy(srv, tmp_path / "template.yaml", "--stack-name", "evil", "--parameter-overrides", "Prefix=evil",
                   key="AKIDBOB000000000000B", secret="wrong")
        assert r.returncode == 1 and "InvalidSignatureException" in r.stderr
        # stack records are AWS calls too: unsigned requests are refused
        status, _, body = lt.http_get(srv.url + "/_lamina/stacks/bobs")
        assert status == 403, body
    finally:
        srv.stop()


@pytest.mark.timeout_s(90)
def test_sam_event_invoke_config_goes_on_the_alias(server, tmp_path):
    prefix = stack_name("eic")
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "app.py").write_text("def handler(e, c):\n    return 'ok'\n")
    (tmp_path / "template.yaml").write_text(textwrap.dedent(f"""\
        Transform: AWS::Serverless-2016-10-31
        Globals:
          Function: {{Runtime: python3.12, Handler: app.handler, CodeUri: fn/}}
        Resources:
          Sink:
            Type: AWS::Serverless::Function
            Properties: {{FunctionName: {prefix}-sink}}
          Worker:
            Type: AWS::Serverless::Function
            Properties:
              FunctionName: {prefix}-worker
              AutoPublishAlias: prod
              EventInvokeConfig:
                MaximumRetryAttempts: 1
                MaximumEventAgeInSeconds: 120
                DestinationConfig:
                  OnSuccess: {{Type: Lambda, Destination: !GetAtt Sink.Arn}}
                  OnFailure: {{Type: Lambda, Destination: !GetAtt Sink.Arn}}
        """))
    r = deploy(server, tmp_path / "template.yaml", "--stack-name", prefix)
    assert r.returncode == 0, r.stderr
    lam = server.client("lambda")
    eic = lam.get_function_event_invoke_config(FunctionName=f"{prefix}-worker", Qualifier="prod")
    assert eic["FunctionArn"] == lt.fn_arn(f"{prefix}-worker", "prod")
    assert eic["MaximumRetryAttempts"] == 1 and eic["MaximumEventAgeInSeconds"] == 120
    assert eic["DestinationConfig"] == {"OnSuccess": {"Destination": lt.fn_arn(f"{prefix}-sink")},
                                        "OnFailure": {"Destination": lt.fn_arn(f"{prefix}-sink")}}
    with pytest.raises(ClientError):  # not on $LATEST
        lam.get_function_event_invoke_config(FunctionName=f"{prefix}-worker")
    assert lamina("delete", "--stack-name", prefix, "--endpoint", server.url).returncode == 0


@pytest.mark.timeout_s(120)
def test_a_new_deployment_ends_a_canary_in_progress(server, tmp_path):
    app, stack, lam, fn, src = deployed_app(server, tmp_path, "cancel")
    src.write_text(src.read_text().replace('VERSION = "v1"', 'VERSION = "v2"'))
    r = deploy(server, app / "template.yaml", "--stack-name", stack, "--deployment-minute", "1", "--no-wait")
    assert r.returncode == 0, r.stderr
    assert alias_state(lam, fn, "live") == ("1", {"2": 0.1})
    # version 3, all at once, while the 5-"minute" canary to 2 is still running
    src.write_text(src.read_text().replace('VERSION = "v2"', 'VERSION = "v3"'))
    r = deploy(server, app / "template.yaml", "--stack-name", stack, "--parameter-overrides", "DeploymentType=AllAtOnce")
    assert r.returncode == 0, r.stderr
    assert alias_state(lam, fn, "live") == ("3", {})
    time.sleep(6.5)  # past the end of the cancelled canary: it must not move the alias back to 2
    assert alias_state(lam, fn, "live") == ("3", {})
    assert invoke(lam, fn + ":live")["body"]["code"] == "v3"
    assert lamina("delete", "--stack-name", stack, "--endpoint", server.url).returncode == 0


@pytest.mark.timeout_s(150)
def test_a_shift_in_progress_survives_a_restart_on_its_schedule(tmp_path):
    """kill -9 in the middle of a linear shift: the restarted server resumes it on the original
    wall-clock schedule (the steps that fell due while it was down collapse into the latest),
    and a shift cancelled by a newer deployment stays cancelled after a restart."""
    srv = lt.LaminaServer(data_dir=tmp_path / "data", log_path=tmp_path / "server.log",
                          extra_args=["--log-level", "info"]).start()
    try:
        app, stack, lam, fn, src = deployed_app(srv, tmp_path, "resume")
        src.write_text(src.read_text().replace('VERSION = "v1"', 'VERSION = "v2"'))
        minute = 3.0  # steps due at 3 s (50%), 6 s (75%) and 9 s (100%)
        started = time.monotonic()
        r = deploy(srv, app / "template.yaml", "--stack-name", stack, "--deployment-minute", str(minute),
                   "--parameter-overrides", "DeploymentType=Linear25PercentEvery1Minute", "--no-wait")
        assert r.returncode == 0, r.stderr
        returned = time.monotonic()  # the shift started before this
        assert alias_state(lam, fn, "live") == ("1", {"2": 0.25})
        srv.kill9()
        time.sleep(max(0.0, returned + 2 * minute + 1.0 - time.monotonic()))  # the 50% and 75% steps fell due
        srv.start(port=srv.port)
        seen = []
        while time.monotonic() - started < 40:
            state = alias_state(lam, fn, "live")
            if not seen or seen[-1] != state:
                seen.append((state, time.monotonic() - started))
            if state == ("2", {}):
                break
            time.sleep(0.05)
        states = [st for st, _ in seen]
        assert states[-1] == ("2", {}), seen
        # never the 50% step: it and the 75% one were applied as one, on resumption
        assert ("1", {"2": 0.5}) not in states, seen
        assert all(st in [("1", {"2": 0.25}), ("1", {"2": 0.75}), ("2", {})] for st in states), seen
        assert seen[-1][1] >= 3 * minute * 0.9, seen  # the last step kept its time, not earlier
        assert invoke(lam, fn + ":live")["body"]["code"] == "v2"
        assert "sam.shift_resumed function=" + fn + " alias=live" in srv.log_tail(200000)

        # a canary cancelled by a newer deployment is not resumed by a restart
        src.write_text(src.read_text().replace('VERSION = "v2"', 'VERSION = "v3"'))
        r = deploy(srv, app / "template.yaml", "--stack-name", stack, "--deployment-minute", "1", "--no-wait")
        assert r.returncode == 0, r.stderr
        assert alias_state(lam, fn, "live") == ("2", {"3": 0.1})
        src.write_text(src.read_text().replace('VERSION = "v3"', 'VERSION = "v4"'))
        r = deploy(srv, app / "template.yaml", "--stack-name", stack, "--parameter-overrides",
                   "DeploymentType=AllAtOnce")
        assert r.returncode == 0, r.stderr
        assert alias_state(lam, fn, "live") == ("4", {})
        srv.kill9()
        srv.start(port=srv.port)
        time.sleep(6.5)  # past the end of the cancelled 5-"minute" canary
        assert alias_state(lam, fn, "live") == ("4", {})
    finally:
        srv.stop()


@pytest.mark.timeout_s(90)
def test_code_uri_in_s3(server, tmp_path):
    """CodeUri s3://bucket/key (and ContentUri {Bucket, Key}) read code from lamina's S3."""
    prefix = stack_name("s3code")
    s3 = server.client("s3")
    bucket = prefix.lower()
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="fn.zip",
                  Body=lt.make_zip({"app.py": "import lib\ndef handler(e, c):\n    return 'from s3 ' + lib.X\n"}))
    s3.put_object(Bucket=bucket, Key="layer.zip", Body=lt.make_zip({"python/lib.py": "X = 'and layer'\n"}))
    (tmp_path / "template.yaml").write_text(textwrap.dedent(f"""\
        Transform: AWS::Serverless-2016-10-31
        Resources:
          Lib:
            Type: AWS::Serverless::LayerVersion
            Properties: {{LayerName: {prefix}-lib, ContentUri: {{Bucket: {bucket}, Key: layer.zip}}}}
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              FunctionName: {prefix}-fn
              Runtime: python3.12
              Handler: app.handler
              CodeUri: s3://{bucket}/fn.zip
              Layers: [!Ref Lib]
        """))
    r = deploy(server, tmp_path / "template.yaml", "--stack-name", prefix)
    assert r.returncode == 0, r.stderr
    lam = server.client("lambda")
    assert invoke(lam, f"{prefix}-fn") == "from s3 and layer"
    # unchanged S3 source: nothing to update
    r = deploy(server, tmp_path / "template.yaml", "--stack-name", prefix)
    assert f"unchanged Fn  function {prefix}-fn" in r.stdout
    # a key that is not there is refused with AWS's S3 error, and nothing changes
    (tmp_path / "template.yaml").write_text((tmp_path / "template.yaml").read_text().replace("fn.zip", "missing.zip"))
    r = deploy(server, tmp_path / "template.yaml", "--stack-name", prefix)
    assert r.returncode == 1
    assert "S3 Error Code: NoSuchKey" in r.stderr, r.stderr
    assert lamina("delete", "--stack-name", prefix, "--endpoint", server.url).returncode == 0


def test_a_function_made_outside_the_stack_is_not_taken_over(server, tmp_path):
    lam = server.client("lambda")
    name = lt.unique("mine")
    lt.create_function(lam, name)
    sha = lam.get_function_configuration(FunctionName=name)["CodeSha256"]
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "app.py").write_text("def handler(e, c):\n    return 'stack'\n")
    (tmp_path / "template.yaml").write_text(textwrap.dedent(f"""\
        Transform: AWS::Serverless-2016-10-31
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties: {{FunctionName: {name}, Runtime: python3.12, Handler: app.handler, CodeUri: fn/}}
        """))
    r = deploy(server, tmp_path / "template.yaml", "--stack-name", stack_name("takeover"))
    assert r.returncode == 1
    assert f"the function {name} already exists and was not made by stack" in r.stderr, r.stderr
    assert lam.get_function_configuration(FunctionName=name)["CodeSha256"] == sha  # untouched


# --------------------------------------------------------------------------------------
# Function URLs: SAM's FunctionUrlConfig and AWS::Lambda::Url
# --------------------------------------------------------------------------------------

def printed_urls(stdout: str) -> dict:
    """The `url      <LogicalId> = <url>` lines `lamina deploy` ends with."""
    out = {}
    for line in stdout.splitlines():
        if line.startswith("url      "):
            k, _, v = line[len("url      "):].partition(" = ")
            out[k] = v
    return out


def url_statements(lam, fn: str, qualifier: str) -> list:
    try:
        return json.loads(lam.get_policy(FunctionName=fn, Qualifier=qualifier)["Policy"])["Statement"]
    except ClientError as e:
        assert e.response["Error"]["Code"] == "ResourceNotFoundException"
        return []


SAM_URL_TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Api:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: {fn}
      Runtime: python3.12
      Handler: app.handler
      CodeUri: fn/
      AutoPublishAlias: live
{url}"""
SAM_URL_CONFIG = """\
      FunctionUrlConfig:
        AuthType: {auth}
        Cors:
          AllowOrigins: [https://example.com]
          AllowMethods: [GET, POST]
          AllowCredentials: true
          MaxAge: 300
"""


@pytest.mark.timeout_s(150)
def test_sam_function_url_config_on_the_alias_kept_updated_and_removed(server, tmp_path):
    prefix = stack_name("url")
    fn = f"{prefix}-api"
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "app.py").write_text("def handler(e, c):\n    return 'ok'\n")
    template = tmp_path / "template.yaml"
    template.write_text(SAM_URL_TEMPLATE.format(fn=fn, url=SAM_URL_CONFIG.format(auth="NONE")))
    lam = server.client("lambda")

    r = deploy(server, template, "--stack-name", prefix)
    assert r.returncode == 0, r.stderr
    urls = printed_urls(r.stdout)
    assert list(urls) == ["ApiUrl"], r.stdout
    cfg = lam.get_function_url_config(FunctionName=fn, Qualifier="live")
    assert urls["ApiUrl"] == cfg["FunctionUrl"]
    assert cfg["FunctionUrl"].endswith(f".lambda-url.{lt.REGION}.localhost:{server.port}/")
    assert cfg["FunctionArn"] == lt.fn_arn(fn, "live")  # on the AutoPublishAlias alias
    assert cfg["AuthType"] == "NONE" and cfg["InvokeMode"] == "BUFFERED"
    assert cfg["Cors"] == {"AllowOrigins": ["https://example.com"], "AllowMethods": ["GET", "POST"],
                           "AllowCredentials": True, "MaxAge": 300}
    with pytest.raises(ClientError) as e:  # not on $LATEST
        lam.get_function_url_config(FunctionName=fn)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    # SAM's public-access statements for AuthType NONE, on the alias
    statements = {s["Action"]: s for s in url_statements(lam, fn, "live")}
    assert set(statements) == {"lambda:InvokeFunctionUrl", "lambda:InvokeFunction"}, statements
    public = statements["lambda:InvokeFunctionUrl"]
    assert public["Sid"].startswith(f"{prefix}-ApiUrlPublicPermissions-")
    assert public["Principal"] == "*"
    assert public["Condition"] == {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}}
    assert statements["lambda:InvokeFunction"]["Condition"] == {"Bool": {"lambda:InvokedViaFunctionUrl": "true"}}

    # the same template again: the same URL (bookmarked URLs keep working)
    r = deploy(server, template, "--stack-name", prefix)
    assert r.returncode == 0, r.stderr
    assert printed_urls(r.stdout) == urls
    again = lam.get_function_url_config(FunctionName=fn, Qualifier="live")
    assert again["FunctionUrl"] == cfg["FunctionUrl"] and again["CreationTime"] == cfg["CreationTime"]

    # AuthType edited: the same URL, updated; the public statements go
    template.write_text(SAM_URL_TEMPLATE.format(fn=fn, url=SAM_URL_CONFIG.format(auth="AWS_IAM")))
    r = deploy(server, template, "--stack-name", prefix)
    assert r.returncode == 0, r.stderr
    assert printed_urls(r.stdout) == urls
    updated = lam.get_function_url_config(FunctionName=fn, Qualifier="live")
    assert updated["AuthType"] == "AWS_IAM"
    assert updated["FunctionUrl"] == cfg["FunctionUrl"] and updated["Cors"] == cfg["Cors"]
    assert url_statements(lam, fn, "live") == []

    # FunctionUrlConfig removed: the URL is deleted
    template.write_text(SAM_URL_TEMPLATE.format(fn=fn, url=""))
    r = deploy(server, template, "--stack-name", prefix)
    assert r.returncode == 0, r.stderr
    assert printed_urls(r.stdout) == {}
    with pytest.raises(ClientError) as e:
        lam.get_function_url_config(FunctionName=fn, Qualifier="live")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert lamina("delete", "--stack-name", prefix, "--endpoint", server.url).returncode == 0


@pytest.mark.timeout_s(120)
def test_lambda_url_resource_with_outputs_and_stack_deletion(server, tmp_path):
    prefix = stack_name("cfnurl")
    fn = f"{prefix}-fn"
    template = tmp_path / "template.yaml"
    text = textwrap.dedent(f"""\
        Resources:
          Fn:
            Type: AWS::Lambda::Function
            Properties:
              FunctionName: {fn}
              Runtime: python3.12
              Handler: index.handler
              Role: arn:aws:iam::{lt.ACCOUNT}:role/r
              Code: {{ZipFile: "def handler(e, c):\\n    return 1\\n"}}
          Url:
            Type: AWS::Lambda::Url
            Properties:
              TargetFunctionArn: !GetAtt Fn.Arn
              AuthType: AWS_IAM
              InvokeMode: RESPONSE_STREAM
        Outputs:
          Endpoint:
            Value: !GetAtt Url.FunctionUrl
          Target:
            Value: !GetAtt Url.FunctionArn
          Physical:
            Value: !Ref Url
        """)
    template.write_text(text)
    lam = server.client("lambda")
    r = deploy(server, template, "--stack-name", prefix)
    assert r.returncode == 0, r.stderr
    cfg = lam.get_function_url_config(FunctionName=fn)
    assert cfg["AuthType"] == "AWS_IAM" and cfg["InvokeMode"] == "RESPONSE_STREAM"
    assert "Cors" not in cfg
    assert f"output   Endpoint = {cfg['FunctionUrl']}" in r.stdout.splitlines(), r.stdout
    assert f"output   Target = {lt.fn_arn(fn)}" in r.stdout.splitlines(), r.stdout
    assert f"output   Physical = {lt.fn_arn(fn)}" in r.stdout.splitlines(), r.stdout  # as CloudFormation
    assert printed_urls(r.stdout) == {"Url": cfg["FunctionUrl"]}

    # InvokeMode dropped from the template: back to AWS's default, same URL
    template.write_text(text.replace("      InvokeMode: RESPONSE_STREAM\n", ""))
    r = deploy(server, template, "--stack-name", prefix)
    assert r.returncode == 0, r.stderr
    assert f"output   Endpoint = {cfg['FunctionUrl']}" in r.stdout.splitlines(), r.stdout
    now = lam.get_function_url_config(FunctionName=fn)
    assert now["InvokeMode"] == "BUFFERED" and now["FunctionUrl"] == cfg["FunctionUrl"]

    r = lamina("delete", "--stack-name", prefix, "--endpoint", server.url)
    assert r.returncode == 0, r.stderr
    with pytest.raises(ClientError) as e:
        lam.get_function_url_config(FunctionName=fn)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError):
        lam.get_function(FunctionName=fn)


# --------------------------------------------------------------------------------------
# event sources: queues, buckets, event source mappings, SAM's SQS and S3 events
# --------------------------------------------------------------------------------------

# Sends each event it gets to the queue at $OUT_URL (SQS's query protocol), so a
# test sees what the function received by reading that queue with boto3.
RELAY = """\
import json, os, urllib.parse, urllib.request
def handler(event, context):
    form = urllib.parse.urlencode({"Action": "SendMessage", "Version": "2012-11-05",
                                   "MessageBody": json.dumps(event)}).encode()
    req = urllib.request.Request(os.environ["OUT_URL"], data=form,
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    urllib.request.urlopen(req, timeout=5).read()
    return {}
"""


def outputs(stdout: str) -> dict:
    out = {}
    for line in stdout.splitlines():
        if line.startswith("output   ") and " = " in line:
            k, v = line[len("output   "):].split(" = ", 1)
            out[k] = v
    return out


def relayed(sqs, out_url: str, want: int = 1, timeout: float = 30) -> list:
    """The events the relay function forwarded, at least `want` of them (or what came in time)."""
    got, deadline = [], time.time() + timeout
    while len(got) < want and time.time() < deadline:
        r = sqs.receive_message(QueueUrl=out_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for m in r.get("Messages", []):
            got.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=out_url, ReceiptHandle=m["ReceiptHandle"])
    return got


def relay_yaml(code: str = RELAY, indent: int = 8) -> str:
    pad = " " * indent
    return "|\n" + "".join(pad + line + "\n" for line in code.splitlines())


def queue_gone(sqs, name: str) -> bool:
    try:
        sqs.get_queue_url(QueueName=name)
        return False
    except ClientError as e:
        return e.response["Error"]["Code"] in ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")


@pytest.mark.timeout_s(180)
def test_sam_sqs_event_feeds_the_function_updates_in_place_and_is_deleted(server, tmp_path):
    stack = stack_name("sqsev")
    template = tmp_path / "template.yaml"
    text = textwrap.dedent("""\
        Transform: AWS::Serverless-2016-10-31
        Resources:
          Inbox:
            Type: AWS::SQS::Queue
            Properties:
              VisibilityTimeout: 20
              RedrivePolicy:
                deadLetterTargetArn: !GetAtt Dead.Arn
                maxReceiveCount: 3
              Tags:
                - Key: team
                  Value: core
          Dead:
            Type: AWS::SQS::Queue
            DeletionPolicy: Retain
            Properties:
              QueueName: !Sub "${AWS::StackName}-dead"
          Out:
            Type: AWS::SQS::Queue
          Worker:
            Type: AWS::Serverless::Function
            Properties:
              FunctionName: !Sub "${AWS::StackName}-worker"
              Runtime: python3.12
              Handler: index.handler
              Environment:
                Variables:
                  OUT_URL: !Ref Out
              InlineCode: RELAY
              Events:
                Work:
                  Type: SQS
                  Properties:
                    Queue: !GetAtt Inbox.Arn
                    BatchSize: 5
                Nightly:
                  Type: Schedule
                  Properties:
                    Schedule: rate(1 day)
        Outputs:
          InboxUrl:
            Value: !Ref Inbox
          InboxName:
            Value: !GetAtt Inbox.QueueName
          InboxArn:
            Value: !GetAtt Inbox.Arn
          Mapping:
            Value: !Ref WorkerWork
        """).replace("RELAY", relay_yaml())
    template.write_text(text)
    r = deploy(server, template, "--stack-name", stack)
    assert r.returncode == 0, r.stderr
    out = outputs(r.stdout)
    lam, sqs = server.client("lambda"), server.client("sqs")
    fn = f"{stack}-worker"
    # CloudFormation's generated name, and Ref/GetAtt as AWS gives them
    assert out["InboxName"].startswith(f"{stack}-Inbox-")
    assert sqs.get_queue_url(QueueName=out["InboxName"])["QueueUrl"] == out["InboxUrl"]
    assert out["InboxArn"] == f"arn:aws:sqs:{lt.REGION}:{lt.ACCOUNT}:{out['InboxName']}"
    attrs = sqs.get_queue_attributes(QueueUrl=out["InboxUrl"], AttributeNames=["All"])["Attributes"]
    assert attrs["VisibilityTimeout"] == "20"
    dead_arn = f"arn:aws:sqs:{lt.REGION}:{lt.ACCOUNT}:{stack}-dead"
    assert json.loads(attrs["RedrivePolicy"]) == {"deadLetterTargetArn": dead_arn, "maxReceiveCount": 3}
    assert sqs.list_queue_tags(QueueUrl=out["InboxUrl"])["Tags"] == {"team": "core"}
    # the mapping SAM makes (<Function><Event>), Schedule still skipped
    mappings = lam.list_event_source_mappings(FunctionName=fn)["EventSourceMappings"]
    assert [(m["UUID"], m["BatchSize"], m["EventSourceArn"]) for m in mappings] == \
        [(out["Mapping"], 5, out["InboxArn"])]
    assert "Worker.Events.Nightly (Schedule)" in r.stdout + r.stderr
    assert "Worker.Events.Work" not in r.stdout + r.stderr

    [out_url] = sqs.list_queues(QueueNamePrefix=f"{stack}-Out-")["QueueUrls"]
    sqs.send_message(QueueUrl=out["InboxUrl"], MessageBody="hello from boto3")
    events = relayed(sqs, out_url)
    assert [rec["body"] for e in events for rec in e["Records"]] == ["hello from boto3"]
    assert events[0]["Records"][0]["eventSourceARN"] == out["InboxArn"]

    # update: BatchSize and VisibilityTimeout change in place (same mapping, same queue)
    template.write_text(text.replace("BatchSize: 5", "BatchSize: 7").replace("VisibilityTimeout: 20",
                                                                               "VisibilityTimeout: 40"))
    r = deploy(server, template, "--stack-name", stack)
    assert r.returncode == 0, r.stderr
    again = outputs(r.stdout)
    assert again["Mapping"] == out["Mapping"] and again["InboxUrl"] == out["InboxUrl"]
    assert lam.get_event_source_mapping(UUID=out["Mapping"])["BatchSize"] == 7
    attrs = sqs.get_queue_attributes(QueueUrl=out["InboxUrl"], AttributeNames=["VisibilityTimeout"])
    assert attrs["Attributes"]["VisibilityTimeout"] == "40"
    sqs.send_message(QueueUrl=out["InboxUrl"], MessageBody="after the update")
    assert [rec["body"] for e in relayed(sqs, out_url) for rec in e["Records"]] == ["after the update"]

    # removal: the mapping, the function and the queues go; Dead is retained
    r = lamina("delete", "--stack-name", stack, "--endpoint", server.url)
    assert r.returncode == 0, r.stderr
    with pytest.raises(ClientError) as e:
        lam.get_event_source_mapping(UUID=out["Mapping"])
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert queue_gone(sqs, out["InboxName"]) and queue_gone(sqs, out_url.rsplit("/", 1)[1])
    assert not queue_gone(sqs, f"{stack}-dead")
    with pytest.raises(ClientError):
        lam.get_function(FunctionName=fn)
    sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=f"{stack}-dead")["QueueUrl"])


@pytest.mark.timeout_s(120)
def test_event_source_mapping_resource_with_ref_and_getatt(server, tmp_path):
    stack = stack_name("esm")
    fn = f"{stack}-fn"
    template = tmp_path / "template.json"
    template.write_text(json.dumps({
        "Resources": {
            "Jobs": {"Type": "AWS::SQS::Queue",
                     "Properties": {"QueueName": f"{stack}-jobs.fifo", "FifoQueue": True,
                                    "ContentBasedDeduplication": True}},
            "Fn": {"Type": "AWS::Lambda::Function",
                   "Properties": {"FunctionName": fn, "Runtime": "python3.12", "Handler": "index.handler",
                                  "Role": f"arn:aws:iam::{lt.ACCOUNT}:role/r",
                                  "Code": {"ZipFile": "def handler(e, c):\n    return 1\n"}}},
            "Mapping": {"Type": "AWS::Lambda::EventSourceMapping",
                        "Properties": {"FunctionName": {"Fn::GetAtt": ["Fn", "Arn"]},
                                       "EventSourceArn": {"Fn::GetAtt": ["Jobs", "Arn"]},
                                       "BatchSize": 3, "Enabled": False,
                                       "FunctionResponseTypes": ["ReportBatchItemFailures"],
                                       "FilterCriteria": {"Filters": [{"Pattern": '{"body": {"kind": ["a"]}}'}]},
                                       "ScalingConfig": {"MaximumConcurrency": 4}}}},
        "Outputs": {"Id": {"Value": {"Ref": "Mapping"}},
                    "Same": {"Value": {"Fn::GetAtt": ["Mapping", "Id"]}},
                    "Arn": {"Value": {"Fn::GetAtt": ["Mapping", "EventSourceMappingArn"]}},
                    "Url": {"Value": {"Fn::GetAtt": ["Jobs", "QueueUrl"]}}}}))
    r = deploy(server, template, "--stack-name", stack)
    assert r.returncode == 0, r.stderr
    out = outputs(r.stdout)
    lam, sqs = server.client("lambda"), server.client("sqs")
    m = lam.get_event_source_mapping(UUID=out["Id"])
    assert out["Same"] == out["Id"]
    assert out["Arn"] == m["EventSourceMappingArn"] == \
        f"arn:aws:lambda:{lt.REGION}:{lt.ACCOUNT}:event-source-mapping:{out['Id']}"
    assert m["FunctionArn"] == lt.fn_arn(fn) and m["BatchSize"] == 3 and m["State"] == "Disabled"
    assert m["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert m["FilterCriteria"] == {"Filters": [{"Pattern": '{"body": {"kind": ["a"]}}'}]}
    assert m["ScalingConfig"] == {"MaximumConcurrency": 4}
    attrs = sqs.get_queue_attributes(QueueUrl=out["Url"], AttributeNames=["All"])["Attributes"]
    assert attrs["FifoQueue"] == "true" and attrs["ContentBasedDeduplication"] == "true"
    r = lamina("delete", "--stack-name", stack, "--endpoint", server.url)
    assert r.returncode == 0, r.stderr
    assert lam.list_event_source_mappings(FunctionName=lt.fn_arn(fn))["EventSourceMappings"] == []
    assert queue_gone(sqs, f"{stack}-jobs.fifo")


@pytest.mark.timeout_s(120)
def test_a_mapping_on_a_kinesis_stream_is_refused_and_nothing_stays(server, tmp_path):
    stack = stack_name("kin")
    fn = f"{stack}-fn"
    template = tmp_path / "template.yaml"
    template.write_text(textwrap.dedent(f"""\
        Resources:
          Fn:
            Type: AWS::Lambda::Function
            Properties:
              FunctionName: {fn}
              Runtime: python3.12
              Handler: index.handler
              Role: arn:aws:iam::{lt.ACCOUNT}:role/r
              Code: {{ZipFile: "def handler(e, c):\\n    return 1\\n"}}
          Q:
            Type: AWS::SQS::Queue
            Properties:
              QueueName: {stack}-q
          Stream:
            Type: AWS::Lambda::EventSourceMapping
            DependsOn: Q
            Properties:
              FunctionName: !Ref Fn
              EventSourceArn: arn:aws:kinesis:{lt.REGION}:{lt.ACCOUNT}:stream/clicks
              StartingPosition: LATEST
        """))
    r = deploy(server, template, "--stack-name", stack)
    assert r.returncode != 0
    assert "Stream (CreateEventSourceMapping)" in r.stderr and "Kinesis" in r.stderr, r.stderr
    lam, sqs = server.client("lambda"), server.client("sqs")
    with pytest.raises(ClientError):
        lam.get_function(FunctionName=fn)
    assert queue_gone(sqs, f"{stack}-q")
    r = lamina("delete", "--stack-name", stack, "--endpoint", server.url)
    assert r.returncode != 0 and "no stack named" in r.stderr


@pytest.mark.timeout_s(180)
def test_sam_s3_event_invokes_the_function_with_the_s3_record(server, tmp_path):
    stack = stack_name("s3ev")
    template = tmp_path / "template.yaml"
    template.write_text(textwrap.dedent("""\
        Transform: AWS::Serverless-2016-10-31
        Resources:
          Uploads:
            Type: AWS::S3::Bucket
          Out:
            Type: AWS::SQS::Queue
            Properties:
              QueueName: !Sub "${AWS::StackName}-out"
          Thumbnailer:
            Type: AWS::Serverless::Function
            Properties:
              Runtime: python3.12
              Handler: index.handler
              AutoPublishAlias: live
              Environment:
                Variables:
                  OUT_URL: !Ref Out
              InlineCode: RELAY
              Events:
                Created:
                  Type: S3
                  Properties:
                    Bucket: !Ref Uploads
                    Events: s3:ObjectCreated:*
                    Filter:
                      S3Key:
                        Rules:
                          - Name: prefix
                            Value: in/
        Outputs:
          Bucket:
            Value: !Ref Uploads
          BucketArn:
            Value: !GetAtt Uploads.Arn
          Function:
            Value: !Ref Thumbnailer
        """).replace("RELAY", relay_yaml()))
    r = deploy(server, template, "--stack-name", stack)
    assert r.returncode == 0, r.stderr
    out = outputs(r.stdout)
    bucket, fn = out["Bucket"], out["Function"]
    assert bucket.startswith(f"{stack}-uploads-") and bucket == bucket.lower()
    assert out["BucketArn"] == f"arn:aws:s3:::{bucket}"
    lam, s3, sqs = server.client("lambda"), server.client("s3"), server.client("sqs")
    # SAM's <Function><Event>Permission, on the alias, for S3 from this account
    policy = json.loads(lam.get_policy(FunctionName=fn, Qualifier="live")["Policy"])
    [st] = policy["Statement"]
    assert st["Principal"] == {"Service": "s3.amazonaws.com"}
    assert st["Condition"] == {"StringEquals": {"AWS:SourceAccount": lt.ACCOUNT}}
    [cfg] = s3.get_bucket_notification_configuration(Bucket=bucket)["LambdaFunctionConfigurations"]
    assert cfg["LambdaFunctionArn"] == lt.fn_arn(fn) + ":live"
    assert cfg["Events"] == ["s3:ObjectCreated:*"]

    out_url = sqs.get_queue_url(QueueName=f"{stack}-out")["QueueUrl"]
    s3.put_object(Bucket=bucket, Key="other/skip.txt", Body=b"no")
    s3.put_object(Bucket=bucket, Key="in/photo.jpg", Body=b"jpeg")
    [event] = relayed(sqs, out_url, timeout=20)
    [rec] = event["Records"]
    assert rec["eventSource"] == "aws:s3" and rec["eventName"] == "ObjectCreated:Put"
    assert rec["s3"]["bucket"]["name"] == bucket and rec["s3"]["object"]["key"] == "in/photo.jpg"
    assert relayed(sqs, out_url, timeout=2) == []  # other/ is filtered out

    # the event dropped from the template: the bucket's configuration and the permission go
    text = template.read_text()
    template.write_text(text.split("      Events:\n")[0] + "Outputs:" + text.split("\nOutputs:")[1])
    r = deploy(server, template, "--stack-name", stack)
    assert r.returncode == 0, r.stderr
    assert not s3.get_bucket_notification_configuration(Bucket=bucket).get("LambdaFunctionConfigurations")
    with pytest.raises(ClientError):
        lam.get_policy(FunctionName=fn, Qualifier="live")
    s3.put_object(Bucket=bucket, Key="in/later.jpg", Body=b"jpeg")
    assert relayed(sqs, out_url, timeout=2) == []
    s3.delete_object(Bucket=bucket, Key="in/later.jpg")

    # a bucket that still holds objects is not deleted (as CloudFormation: BucketNotEmpty)
    r = lamina("delete", "--stack-name", stack, "--endpoint", server.url)
    assert r.returncode != 0 and "BucketNotEmpty" in r.stderr, r.stderr
    with pytest.raises(ClientError):
        lam.get_function(FunctionName=fn)
    for key in ("other/skip.txt", "in/photo.jpg"):
        s3.delete_object(Bucket=bucket, Key=key)
    r = lamina("delete", "--stack-name", stack, "--endpoint", server.url)
    assert r.returncode == 0, r.stderr
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket=bucket)
    assert e.value.response["Error"]["Code"] in ("404", "NoSuchBucket")
    assert queue_gone(sqs, f"{stack}-out")


@pytest.mark.timeout_s(120)
def test_bucket_notification_configuration_to_a_queue_and_its_removal(server, tmp_path):
    stack = stack_name("s3q")
    template = tmp_path / "template.yaml"
    text = textwrap.dedent("""\
        Resources:
          Drop:
            Type: AWS::SQS::Queue
          Box:
            Type: AWS::S3::Bucket
            Properties:
              BucketName: !Sub "${AWS::StackName}-box"
              NotificationConfiguration:
                QueueConfigurations:
                  - Event: s3:ObjectCreated:*
                    Queue: !GetAtt Drop.Arn
                    Filter:
                      S3Key:
                        Rules:
                          - Name: suffix
                            Value: .csv
        Outputs:
          Drop:
            Value: !Ref Drop
          Domain:
            Value: !GetAtt Box.DomainName
        """)
    template.write_text(text)
    r = deploy(server, template, "--stack-name", stack)
    assert r.returncode == 0, r.stderr
    out = outputs(r.stdout)
    bucket = f"{stack}-box"
    assert out["Domain"] == f"{bucket}.s3.amazonaws.com"
    s3, sqs = server.client("s3"), server.client("sqs")
    s3.put_object(Bucket=bucket, Key="a.csv", Body=b"1,2")
    keys, deadline = [], time.time() + 20  # (S3's s3:TestEvent has no Records)
    while not keys and time.time() < deadline:
        keys = [rec["s3"]["object"]["key"] for e in relayed(sqs, out["Drop"], timeout=1)
                for rec in e.get("Records", [])]
    assert keys == ["a.csv"]
    s3.delete_object(Bucket=bucket, Key="a.csv")
    # the configuration dropped from the template: the bucket has none left
    template.write_text(text.split("      NotificationConfiguration:")[0] + text.split(".csv\n")[1])
    r = deploy(server, template, "--stack-name", stack)
    assert r.returncode == 0, r.stderr
    cfg = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert not cfg.get("QueueConfigurations"), cfg
    r = lamina("delete", "--stack-name", stack, "--endpoint", server.url)
    assert r.returncode == 0, r.stderr


@pytest.mark.timeout_s(120)
def test_serve_template_with_an_sqs_event_polls_from_the_start(tmp_path):
    template = tmp_path / "template.yaml"
    template.write_text(textwrap.dedent("""\
        Transform: AWS::Serverless-2016-10-31
        Resources:
          Inbox:
            Type: AWS::SQS::Queue
            Properties:
              QueueName: inbox
          Out:
            Type: AWS::SQS::Queue
            Properties:
              QueueName: out
          Worker:
            Type: AWS::Serverless::Function
            Properties:
              Runtime: python3.12
              Handler: index.handler
              Environment:
                Variables:
                  OUT_URL: !Ref Out
              InlineCode: RELAY
              Events:
                Work:
                  Type: SQS
                  Properties:
                    Queue: !GetAtt Inbox.Arn
        """).replace("RELAY", relay_yaml()))
    srv = lt.LaminaServer(extra_args=["--template", str(template), "--stack-name", "svc"])
    srv.start(timeout=60)
    try:
        sqs = srv.client("sqs")
        inbox = sqs.get_queue_url(QueueName="inbox")["QueueUrl"]
        out_url = sqs.get_queue_url(QueueName="out")["QueueUrl"]
        assert out_url.startswith(f"http://127.0.0.1:{srv.port}/")  # Ref: the URL clients use
        sqs.send_message(QueueUrl=inbox, MessageBody="served")
        assert [rec["body"] for e in relayed(sqs, out_url) for rec in e["Records"]] == ["served"]
    finally:
        srv.stop()
