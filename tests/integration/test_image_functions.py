"""Container-image functions (PackageType Image) run in lamina's sandbox,
without Docker: images built here (a static runtime binary as the root file
system, two layers with a whiteout and an opaque directory), pushed to
lamina's own registry over the OCI distribution API (oci_push), created and
invoked with boto3 and the aws CLI."""

import base64
import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

import lamina_testlib as lt
import oci_push as oci

ACCOUNT, REGION = lt.ACCOUNT, lt.REGION
ECR = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def registry(server):
    if not oci.registry_available(server.url):
        pytest.skip("lamina's image registry (/v2/) is not in this build")
    return server.url


@pytest.fixture(scope="module")
def bootstrap(tmp_path_factory):
    if not shutil.which("gcc"):
        pytest.skip("gcc is needed to build the test image's static runtime")
    out = tmp_path_factory.mktemp("image") / "bootstrap"
    r = subprocess.run(["gcc", "-static", "-O1", "-o", str(out),
                        str(HERE / "image_fixtures" / "bootstrap.c")], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"gcc -static failed (libc6-dev's libc.a missing?): {r.stderr[-300:]}")
    return out.read_bytes()


@pytest.fixture(scope="module")
def extension(bootstrap, tmp_path_factory):
    """image_fixtures/extension.c, static: an extension for an image with no shell or libc."""
    out = tmp_path_factory.mktemp("image") / "extension"
    r = subprocess.run(["gcc", "-static", "-O1", "-o", str(out),
                        str(HERE / "image_fixtures" / "extension.c")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return out.read_bytes()


def layers(bootstrap: bytes, version: str = "1", *, compress_second: bool = False):
    base = oci.tar_layer([
        ("bin", "dir", None, 0o755),
        ("bin/bootstrap", "file", bootstrap, 0o755),
        ("data", "dir", None, 0o755),
        ("data/kept.txt", "file", b"kept", 0o644),
        ("data/gone.txt", "file", b"gone", 0o644),
        ("opq", "dir", None, 0o755),
        ("opq/old.txt", "file", b"old", 0o644),
    ])
    top = oci.tar_layer([
        ("data/.wh.gone.txt", "file", b"", 0o644),
        ("opq", "dir", None, 0o755),
        ("opq/.wh..wh..opq", "file", b"", 0o644),
        ("opq/new.txt", "file", b"new", 0o644),
        ("etc", "dir", None, 0o755),
        ("etc/version", "file", version.encode() + b"\n", 0o644),
        ("var/task", "dir", None, 0o755),
    ], compress=compress_second)
    return [base, top]


def config(**kw):
    args = dict(entrypoint=["/bin/bootstrap"], cmd=["handler.main"],
                env=["PATH=/bin", "MY_VAR=from-image", "IMAGE_ONLY=yes"], workdir="/var/task")
    args.update(kw)
    return oci.image_config(**args)


def ensure_repo(base, repo):
    """As in ECR, a push needs the repository (CreateRepository, with boto3's ecr client)."""
    ecr = lt.make_client(int(base.rsplit(":", 1)[1]), "ecr")
    try:
        ecr.create_repository(repositoryName=repo)
    except ecr.exceptions.RepositoryAlreadyExistsException:
        pass


def push_plain(base, repo, tag, bootstrap, version="1", *, docker=False, **cfg) -> str:
    """Both layer kinds: gzip then plain tar (OCI), or gzip only (Docker)."""
    ensure_repo(base, repo)
    ls = layers(bootstrap, version, compress_second=docker)
    types = [oci.DOCKER_LAYER, oci.DOCKER_LAYER] if docker else [oci.OCI_LAYER_GZIP, oci.OCI_LAYER_TAR]
    return oci.push_image(base, repo, tag, ls, config(**cfg), docker=docker, layer_types=types)


def create_image_fn(lam, uri, **extra):
    name = lt.unique("img")
    lam.create_function(FunctionName=name, Role=lt.ROLE_ARN, PackageType="Image",
                        Code={"ImageUri": uri}, **extra)
    lt.wait_active(lam, name)
    return name


def invoke(lam, name, qualifier=None, payload=b"{}"):
    kw = {"Qualifier": qualifier} if qualifier else {}
    r = lam.invoke(FunctionName=name, Payload=payload, **kw)
    body = r["Payload"].read()
    return r, json.loads(body)


def test_run_both_manifest_formats(lam, registry, bootstrap):
    for docker in (False, True):
        repo = lt.unique("run").lower()
        digest = push_plain(registry, repo, "v1", bootstrap, docker=docker)
        name = create_image_fn(lam, f"{ECR}/{repo}:v1",
                               Environment={"Variables": {"MY_VAR": "from-function"}})
        cfg = lam.get_function(FunctionName=name)
        assert cfg["Configuration"]["CodeSha256"] == digest[len("sha256:"):]
        assert cfg["Code"] == {"ImageUri": f"{ECR}/{repo}:v1", "RepositoryType": "ECR",
                               "ResolvedImageUri": f"{ECR}/{repo}@{digest}"}
        r, out = invoke(lam, name)
        assert "FunctionError" not in r, out
        assert out["argv"] == "/bin/bootstrap handler.main"
        assert out["cwd"] == "/var/task"
        assert out["MY_VAR"] == "from-function"  # Lambda's variables win over the image's
        assert out["IMAGE_ONLY"] == "yes"
        assert out["FUNCTION_NAME"] == name
        assert out["/data/kept.txt"] == "yes" and out["/data/gone.txt"] == "no"  # whiteout
        assert out["/opq/old.txt"] == "no" and out["/opq/new.txt"] == "yes"  # opaque dir
        assert out["tmp_writable"] == "yes" and out["root_writable"] == "no"


def test_image_config_overrides_and_round_trips(lam, registry, bootstrap):
    repo = lt.unique("cfg").lower()
    push_plain(registry, repo, "v1", bootstrap)
    ic = {"EntryPoint": ["/bin/bootstrap", "--from-config"], "Command": ["other.handler"],
          "WorkingDirectory": "/data"}
    name = create_image_fn(lam, f"{ECR}/{repo}:v1", ImageConfig=ic)
    got = lam.get_function_configuration(FunctionName=name)
    assert got["ImageConfigResponse"] == {"ImageConfig": ic}
    _, out = invoke(lam, name)
    assert out["argv"] == "/bin/bootstrap --from-config other.handler"
    assert out["cwd"] == "/data"
    lam.update_function_configuration(FunctionName=name, ImageConfig={"Command": ["third"]})
    lt.wait_updated(lam, name)
    got = lam.get_function_configuration(FunctionName=name)
    assert got["ImageConfigResponse"] == {"ImageConfig": {"Command": ["third"]}}
    _, out = invoke(lam, name)
    assert out["argv"] == "/bin/bootstrap third"
    assert out["cwd"] == "/var/task"
    lam.update_function_configuration(FunctionName=name, ImageConfig={})
    lt.wait_updated(lam, name)
    assert "ImageConfigResponse" not in lam.get_function_configuration(FunctionName=name)


def test_update_tag_and_version_pinning(lam, registry, bootstrap):
    repo = lt.unique("pin").lower()
    d1 = push_plain(registry, repo, "latest", bootstrap, "1")
    name = create_image_fn(lam, f"{ECR}/{repo}:latest", Publish=True)
    d2 = push_plain(registry, repo, "latest", bootstrap, "2")  # the tag moves
    assert d1 != d2
    _, out = invoke(lam, name)
    assert out["version"] == "1"  # $LATEST changes only on UpdateFunctionCode
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as e:
        lam.update_function_code(FunctionName=name, ZipFile=lt.handler_zip())
    assert "Please provide ImageUri when updating a function with packageType Image." in str(e.value)
    up = lam.update_function_code(FunctionName=name, ImageUri=f"{ECR}/{repo}:latest")
    assert up["CodeSha256"] == d2[7:]
    lt.wait_updated(lam, name)
    _, out = invoke(lam, name)
    assert out["version"] == "2"
    _, out = invoke(lam, name, "1")
    assert out["version"] == "1"
    v = lam.publish_version(FunctionName=name, CodeSha256=d2[7:])
    assert v["Version"] == "2" and v["CodeSha256"] == d2[7:]
    # the lamina-endpoint form of the URI, resolved to the same digest
    host = registry.split("//")[1]
    d3 = push_plain(registry, repo, "v3", bootstrap, "3")
    lam.update_function_code(FunctionName=name, ImageUri=f"{host}/{repo}:v3")
    lt.wait_updated(lam, name)
    code = lam.get_function(FunctionName=name)["Code"]
    assert code["ImageUri"] == f"{host}/{repo}:v3"
    assert code["ResolvedImageUri"] == f"{ECR}/{repo}@{d3}"
    _, out = invoke(lam, name)
    assert out["version"] == "3"


def test_errors(lam, registry, bootstrap):
    repo = lt.unique("err").lower()
    digest = push_plain(registry, repo, "v1", bootstrap)
    cases = [
        (f"{ACCOUNT}.dkr.ecr.eu-west-3.amazonaws.com/{repo}:v1", "is not valid. Provide a valid source image."),
        (f"public.ecr.aws/lambda/python:3.12", "is not valid. Provide a valid source image."),
        (f"{ECR}/{repo}:nope", "does not exist. Provide a valid source image."),
        (f"{ECR}/{repo}-missing:v1", "does not exist. Provide a valid source image."),
    ]
    oci.push_index(registry, repo, "multi", digest, 500)
    cases.append((f"{ECR}/{repo}:multi",
                  "The image manifest, config or layer media type for the source image"))
    for uri, message in cases:
        with pytest.raises(lam.exceptions.InvalidParameterValueException) as e:
            lam.create_function(FunctionName=lt.unique("bad"), Role=lt.ROLE_ARN,
                                PackageType="Image", Code={"ImageUri": uri})
        assert message in str(e.value) and uri in str(e.value)
    for extra in ({"Runtime": "python3.12"}, {"Handler": "a.b"}):
        with pytest.raises(lam.exceptions.InvalidParameterValueException) as e:
            lam.create_function(FunctionName=lt.unique("bad"), Role=lt.ROLE_ARN,
                                PackageType="Image", Code={"ImageUri": f"{ECR}/{repo}:v1"}, **extra)
        assert "Please don't provide Handler or Runtime or Layer" in str(e.value)
    zip_fn = lt.create_function(lam)["FunctionName"]
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as e:
        lam.update_function_code(FunctionName=zip_fn, ImageUri=f"{ECR}/{repo}:v1")
    assert "Please don't provide ImageUri when updating a function with packageType Zip." in str(e.value)
    # an arm64 image on an x86_64 function: the invoke fails as on AWS
    push_plain(registry, repo, "arm", bootstrap, arch="arm64")
    name = create_image_fn(lam, f"{ECR}/{repo}:arm")
    r, out = invoke(lam, name)
    assert r["FunctionError"] == "Unhandled"
    assert out["errorType"] == "Runtime.InvalidEntrypoint"
    assert "exec format error" in out["errorMessage"]


def test_bad_layers_fail_the_invoke_and_leave_nothing(lam, registry, bootstrap, server):
    repo = lt.unique("badlayer").lower()
    good = layers(bootstrap)[0]
    corrupt = bytearray(good)
    corrupt[len(corrupt) // 2] ^= 0x55
    escaping = oci.tar_layer([("../../escape.txt", "file", b"x", 0o644)])
    symlink_escape = oci.tar_layer([("esc", "symlink", "/", 0o777),
                                    ("esc/etc/evil", "file", b"x", 0o644)])
    cfg = config()
    cases = {"corrupt": ([bytes(corrupt)], None, "cannot be unpacked"),
             "lying": ([good], [len(good) + 10], None),
             "escape": ([escaping], None, "climbs out"),
             "symlink": ([symlink_escape], None, "symlink or a file")}
    ensure_repo(registry, repo)
    for tag, (ls, sizes, message) in cases.items():
        try:
            oci.push_image(registry, repo, tag, ls, cfg, layer_sizes=sizes)
        except RuntimeError:
            continue  # the registry itself refused the lying manifest: nothing to run
        name = create_image_fn(lam, f"{ECR}/{repo}:{tag}")
        r, out = invoke(lam, name)
        assert r.get("FunctionError") == "Unhandled", (tag, out)
        if message:
            assert message in out["errorMessage"], (tag, out)
    assert not Path("/escape.txt").exists()


def test_aws_cli_create_and_invoke(cli, registry, bootstrap, tmp_path):
    repo = lt.unique("cli").lower()
    digest = push_plain(registry, repo, "v1", bootstrap)
    name = lt.unique("imgcli")
    out = cli.json("lambda", "create-function", "--function-name", name, "--package-type", "Image",
                   "--code", f"ImageUri={ECR}/{repo}:v1", "--role", lt.ROLE_ARN)
    assert out["PackageType"] == "Image" and out["CodeSha256"] == digest[7:]
    lt.wait_for(lambda: cli.json("lambda", "get-function", "--function-name", name)
                ["Configuration"]["State"] == "Active", timeout=20)
    result = tmp_path / "out.json"
    cli.json("lambda", "invoke", "--function-name", name, str(result))
    assert json.loads(result.read_text())["argv"] == "/bin/bootstrap handler.main"


def test_restart_keeps_image_functions(registry, bootstrap, tmp_path):
    data = tmp_path / "data"
    srv = lt.LaminaServer(data_dir=data)
    srv.start()
    try:
        if not oci.registry_available(srv.url):
            pytest.skip("no registry")
        lam = lt.make_client(srv.port)
        repo = lt.unique("restart").lower()
        digest = push_plain(srv.url, repo, "v1", bootstrap)
        name = create_image_fn(lam, f"{ECR}/{repo}:v1", ImageConfig={"WorkingDirectory": "/data"})
        _, out = invoke(lam, name)
        assert out["cwd"] == "/data"
    finally:
        srv.stop()
    srv = lt.LaminaServer(data_dir=data)
    srv.start()
    try:
        lam = lt.make_client(srv.port)
        cfg = lam.get_function_configuration(FunctionName=name)
        assert cfg["PackageType"] == "Image" and cfg["CodeSha256"] == digest[7:]
        assert cfg["ImageConfigResponse"] == {"ImageConfig": {"WorkingDirectory": "/data"}}
        _, out = invoke(lam, name)
        assert out["cwd"] == "/data" and out["/opq/new.txt"] == "yes"
    finally:
        srv.stop()


def test_sam_image_function(lam, registry, bootstrap, server, tmp_path):
    repo = lt.unique("sam").lower()
    push_plain(registry, repo, "v1", bootstrap)
    stack = lt.unique("imgstack")
    template = tmp_path / "template.yaml"
    template.write_text(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  Img:\n"
        "    Type: AWS::Serverless::Function\n"
        "    Metadata:\n      DockerContext: ./app\n      Dockerfile: Dockerfile\n"
        f"    Properties:\n      FunctionName: {stack}-img\n      PackageType: Image\n"
        f"      ImageUri: {ECR}/{repo}:v1\n"
        "      ImageConfig:\n        WorkingDirectory: /data\n")
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith(("LAMINA_", "AWS_"))}
    env.update({"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": REGION})
    r = subprocess.run([str(lt.lamina_bin()), "deploy", str(template), "--endpoint", server.url,
                        "--stack-name", stack], capture_output=True, text=True, timeout=120, env=env,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "lamina does not build images" in r.stdout + r.stderr
    lt.wait_active(lam, f"{stack}-img")
    _, out = invoke(lam, f"{stack}-img")
    assert out["cwd"] == "/data" and out["argv"] == "/bin/bootstrap handler.main"


def push_with_extension(base, repo, bootstrap, extension) -> str:
    """The plain image plus a layer with /opt/extensions/recorder; its ENV names a
    LAMBDA_TASK_ROOT, which only the runtime may see."""
    ensure_repo(base, repo)
    ls = layers(bootstrap) + [oci.tar_layer([("opt", "dir", None, 0o755),
                                             ("opt/extensions", "dir", None, 0o755),
                                             ("opt/extensions/recorder", "file", extension, 0o755)])]
    cfg = config(env=["PATH=/bin", "LAMBDA_TASK_ROOT=/var/task"])
    types = [oci.OCI_LAYER_GZIP, oci.OCI_LAYER_TAR, oci.OCI_LAYER_GZIP]
    return oci.push_image(base, repo, "v1", ls, cfg, layer_types=types)


def test_extensions_in_the_image_run_as_for_zip_functions(registry, bootstrap, extension, tmp_path):
    """The image has no shell: lamina's own launcher starts /opt/extensions/recorder, which
    registers, gets each INVOKE and, when the idle environment is reclaimed, SHUTDOWN; its
    lines are in the function's log stream (read with the CloudWatch Logs API)."""
    srv = lt.LaminaServer(data_dir=tmp_path / "data", log_path=tmp_path / "server.log",
                          extra_args=["--idle-timeout", "1"])
    srv.start()
    try:
        lam = srv.client("lambda")
        repo = lt.unique("ext").lower()
        push_with_extension(srv.url, repo, bootstrap, extension)
        name = create_image_fn(lam, f"{ECR}/{repo}:v1")
        ids = []
        for _ in range(2):
            r, out = invoke(lam, name)
            assert "FunctionError" not in r, out
            assert out["argv"] == "/bin/bootstrap handler.main"  # the runtime, after the launcher
            ids.append(r["ResponseMetadata"]["RequestId"])
            time.sleep(0.3)  # the extension is back at /event/next: the environment is free again
        logs = srv.client("logs")
        text = ""
        deadline = time.time() + 20
        while time.time() < deadline and "EXTENSION recorder SHUTDOWN spindown" not in text:
            time.sleep(0.2)
            events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
            text = "\n".join(e["message"] for e in events)
        assert "EXTENSION recorder SHUTDOWN spindown" in text, text
        registered = [line.split(" registered ", 1)[1] for line in text.splitlines()
                      if line.startswith("EXTENSION recorder registered ")]
        assert len(registered) == 1, "one environment served both invokes"
        info = json.loads(registered[0])
        assert (info["functionName"], info["functionVersion"]) == (name, "$LATEST"), info
        assert f"EXTENSION recorder env LAMBDA_TASK_ROOT=- AWS_LAMBDA_FUNCTION_NAME={name}" in text
        for request_id in ids:
            assert f"EXTENSION recorder INVOKE {request_id}" in text, text
    finally:
        srv.stop()


def test_an_image_extension_that_crashes_fails_the_init(lam, registry, bootstrap, extension):
    repo = lt.unique("extcrash").lower()
    push_with_extension(registry, repo, bootstrap, extension)
    name = create_image_fn(lam, f"{ECR}/{repo}:v1", Environment={"Variables": {"EXT_CRASH": "1"}})
    r = lam.invoke(FunctionName=name, Payload=b"{}", LogType="Tail")
    out = json.loads(r["Payload"].read())
    assert r["FunctionError"] == "Unhandled"
    assert out["errorType"] == "Extension.Crash"
    assert "recorder" in out["errorMessage"] and "exit status 3" in out["errorMessage"]
    log = base64.b64decode(r["LogResult"]).decode()
    assert "crashing" in log and "Error Type: Extension.Crash" in log
