"""Every example under examples/ runs green against a live lamina, and prints
what the tutorial (lambda-advanced.md) says its exercise shows."""
import json
import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest

import lamina_testlib as lt
from serve_check import serve_and_check_health, substitute

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
EXAMPLES = os.path.join(REPO, "examples")


def run_example(server, folder, timeout=140, path_prefix=None, **env_extra):
    env = dict(os.environ, LAMINA_ENDPOINT=server.url, AWS_ACCESS_KEY_ID="test",
               AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION="us-east-1", **env_extra)
    if path_prefix:
        env["PATH"] = path_prefix + os.pathsep + env["PATH"]
    out = subprocess.run(["bash", os.path.join(EXAMPLES, folder, "run.sh")], env=env,
                         capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"stdout:\n{out.stdout}\nstderr:\n{out.stderr}"
    lines = out.stdout.splitlines()
    assert lines[-1] == "done", out.stdout
    return out.stdout, lines


def sections(lines):
    """{header: [lines]} for the '=== ... ===' headers the examples print."""
    out, cur = {}, None
    for line in lines:
        if line.startswith("=== ") and line.endswith(" ==="):
            cur = line[4:-4]
            out[cur] = []
        elif cur is not None:
            out[cur].append(line)
    return out


def responses(block):
    """The function results (response.json) printed in a block, parsed."""
    return [json.loads(line) for line in block if line.startswith('{"statusCode"')]


def body(resp):
    assert resp["statusCode"] == 200, resp
    return json.loads(resp["body"])


def version_counts(block):
    """The `sort | uniq -c` lines ("     18 1") of a block: {version: count}."""
    counts = {}
    for line in block:
        m = re.fullmatch(r"\s*(\d+) (\d+)", line)
        if m:
            counts[int(m.group(2))] = int(m.group(1))
    return counts


# ---------------------------------------------------------------- versions

V1 = {"message": "Version 1.0 - Initial release", "version": "1.0"}
V2 = {"message": "Version 2.0 - Added new feature", "version": "2.0", "feature": "New functionality"}


def aws_clis():
    """The aws CLIs on this machine, one per major version (v1 and v2 differ on --payload)."""
    found = {}
    for path in (shutil.which("aws"), "/usr/bin/aws", "/usr/local/bin/aws"):
        if not path or not os.access(path, os.X_OK):
            continue
        try:
            v = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        m = re.match(r"aws-cli/(\d+)\.", (v.stdout + v.stderr).strip())
        if m and m.group(1) not in found:
            found[m.group(1)] = path
    return found


CLIS = aws_clis()


@pytest.mark.timeout_s(150)
@pytest.mark.parametrize("major", sorted(CLIS) or ["none"])
def test_versions_example(server, major, tmp_path):
    if major == "none":
        pytest.skip("no aws CLI on this machine")
    (tmp_path / "aws").symlink_to(CLIS[major])
    out, lines = run_example(server, "versions", path_prefix=str(tmp_path))
    s = sections(lines)
    assert s["Step 1: Create Initial Function"][0] == "account: 123456789012"
    # Step 2: $LATEST runs the code just deployed
    assert [body(r) for r in responses(s["Step 2: Test $LATEST"])] == [V1]
    assert s["Step 3: Publish Version 1"] == ["published version: 1"]
    assert "published version: 2" in s["Step 4: Update Code and Publish Version 2"]
    # Step 5: the tutorial's expected results; version 1 is unchanged
    assert [body(r) for r in responses(s["$LATEST"])] == [V2]
    assert [body(r) for r in responses(s["Version 1"])] == [V1]
    assert [body(r) for r in responses(s["Version 2"])] == [V2]
    assert '"ExecutedVersion": "1"' in "\n".join(s["Version 1"])
    assert '"ExecutedVersion": "2"' in "\n".join(s["Version 2"])
    listed = [line.split("\t") for line in s["Step 6: List All Versions"]]
    assert [row[0] for row in listed] == ["$LATEST", "1", "2"]
    assert listed[1][1] == "v1.0.0 - Initial release" and listed[2][1] == "v2.0.0 - Added new feature"
    assert s["Cleanup"][0].startswith("deleted: VersionedFunction-")


# ---------------------------------------------------------------- aliases

A1 = {"message": "Version 1 - Stable", "version": 1}
A2 = {"message": "Version 2 - New Feature", "version": 2, "feature": "Enhanced response"}


@pytest.mark.timeout_s(150)
def test_aliases_example(server):
    out, lines = run_example(server, "aliases")
    s = sections(lines)
    step1 = s["Step 1: Create Function with Two Versions"]
    assert "published version: 1" in step1 and "published version: 2" in step1
    assert [body(r) for r in responses(s["Step 2: Create PROD Alias (100% Version 1)"])] == [A1]

    canary = s["Step 3: Canary Deployment (10% on Version 2)"]
    assert '"2": 0.1' in "\n".join(canary)
    c10 = version_counts(canary)
    assert sum(c10.values()) == 20 and set(c10) <= {1, 2}, canary
    # 10% of 20 is about 2: more than 10 on version 2 has probability < 1e-6
    assert c10.get(2, 0) <= 10, c10

    half = s["Step 4: Increase to 50/50 Split"]
    assert '"2": 0.5' in "\n".join(half)
    c50 = version_counts(half)
    assert sum(c50.values()) == 20 and set(c50) <= {1, 2}, half
    # both versions answer: all 20 on one side has probability 2e-6
    assert c50.get(1, 0) >= 1 and c50.get(2, 0) >= 1, c50

    assert version_counts(s["Step 5: Complete Migration (100% Version 2)"]) == {2: 10}
    assert [body(r) for r in responses(s["Step 6: Rollback Test"])] == [A1]
    assert s["Cleanup"][0].startswith("deleted: AliasTestFunction-")


# ---------------------------------------------------------------- layers

TUTORIAL_LAYER_BODY = '{"message": "Successfully used layer!", "response_code": 200, "layer_test": "PASSED"}'


@pytest.mark.timeout_s(150)
def test_layers_example(server):
    # LAYER_PIP=0: the test never reaches for PyPI; the layer is built from Debian's packages
    out, lines = run_example(server, "layers", LAYER_PIP="0")
    s = sections(lines)
    step1 = s["Step 1: Create Layer with Dependencies"]
    listing = [line for line in step1 if line.startswith("ls python/lib/python3.9/site-packages/:")]
    assert len(listing) == 1
    assert set(listing[0].split(":", 1)[1].split()) == {"requests", "urllib3", "certifi", "charset_normalizer", "idna"}

    arn1 = s["Step 2: Publish Layer"][0]
    assert re.fullmatch(r"LayerVersionArn: arn:aws:lambda:us-east-1:123456789012:layer:requests-layer-[0-9-]+:1", arn1)
    # Step 5: exactly the tutorial's expected output
    step5 = responses(s["Step 5: Test Function"])
    assert step5 == [{"statusCode": 200, "body": TUTORIAL_LAYER_BODY}]
    # requests was imported from the layer, not from anywhere else
    check = [line for line in s["Verify imports work (best practice 5)"] if line.startswith("import requests: ")]
    found = json.loads(check[0].split(": ", 1)[1])
    assert found["requests_file"].startswith("/opt/python/lib/python3.9/site-packages/requests/"), found

    step6 = s["Step 6: Update Layer and Test"]
    arn2 = [line for line in step6 if line.startswith("LayerVersionArn: ")]
    assert arn2 == [arn1[:-1] + "2"]
    assert f"function layers: {arn1[len('LayerVersionArn: '):-1]}2" in step6
    assert responses(step6) == [{"statusCode": 200, "body": TUTORIAL_LAYER_BODY}]

    cleanup = s["Cleanup"]
    assert "layer versions left: 0" in cleanup
    # the function really made its two HTTP calls, with the layer's requests
    assert "httpbin stand-in served 2 requests:" in cleanup
    assert sum(1 for line in cleanup if re.fullmatch(r"  GET /get python-requests/[0-9.]+", line)) == 2


# ---------------------------------------------------------------- concurrency

@pytest.mark.timeout_s(150)
def test_concurrency_example(server):
    out, lines = run_example(server, "concurrency")
    s = sections(lines)
    assert "Reserved concurrency set to 3" in s["Step 2: Set Reserved Concurrency"]
    step3 = s["Step 3: Generate Concurrent Requests"]
    throttled = [line for line in step3 if "TooManyRequestsException" in line]
    ok = [line for line in step3 if line.strip() == '"StatusCode": 200,']
    # reserved concurrency 3, ten 10-second invocations at once: 3 run, 7 are throttled
    assert len(ok) == 3 and len(throttled) == 7, step3
    assert all(line.endswith("Rate Exceeded.") for line in throttled), throttled
    assert step3[step3.index("Checking responses...") + 1].strip() == "3"
    assert "succeeded: 3" in step3

    step4 = s["Step 4: Monitor Concurrency"]
    assert "ConcurrentExecutions Maximum: 3.0" in step4, step4
    assert "Throttles Sum: 7.0" in step4, step4

    step5 = s["Step 5: Remove Concurrency Limit"]
    assert "without the limit: 10 of 10 succeeded" in step5
    assert not any("TooManyRequestsException" in line for line in step5)
    assert s["Cleanup"][0].startswith("deleted: ConcurrencyTest-")


# ---------------------------------------------------------------- github-actions

WORKFLOW = os.path.join(EXAMPLES, "github-actions", "lamina-ci.yml")


def workflow_steps():
    yaml = pytest.importorskip("yaml")
    with open(WORKFLOW) as f:
        doc = yaml.safe_load(f)
    triggers = doc.get("on", doc.get(True))  # YAML 1.1 reads a bare `on` as true
    assert {"push", "pull_request"} <= set(triggers)
    (job,) = doc["jobs"].values()
    return job, {s.get("name", s.get("uses")): s for s in job["steps"]}


def test_github_actions_workflow_runs_commands_of_this_repo(tmp_path):
    job, steps = workflow_steps()
    env = job["env"]
    # install-deps.sh targets Debian 12
    assert job["container"]["image"] == "debian:12"
    assert job["timeout-minutes"] <= 60

    build = steps["Install and build lamina"]["run"]
    m = re.search(r'bash "\$LAMINA_DIR/(scripts/install-deps\.sh)" (\w+)', build)
    assert m and os.path.isfile(os.path.join(REPO, m.group(1)))
    with open(os.path.join(REPO, m.group(1))) as f:
        modes = re.findall(r"^\s*([a-z|]+)\)", f.read(), re.M)
    assert m.group(2) in "|".join(modes).split("|"), modes
    # the build is scripts/serve.sh's
    with open(os.path.join(REPO, "scripts", "serve.sh")) as f:
        serve_cmake = re.search(r"^cmake (.*)$", f.read(), re.M).group(1)
    wf_cmake = re.search(r"^\s*cmake (.*)$", build, re.M).group(1)
    opts = lambda s: {o for o in shlex.split(s) if o.startswith("-D") or o in ("-G", "Ninja")}
    assert opts(wf_cmake) == opts(serve_cmake)
    assert re.search(r'ninja -C "\$LAMINA_DIR/build" .*lamina$', build, re.M)

    # start: the command line is accepted by lamina serve, and the health wait is bounded
    start = steps["Start lamina"]["run"]
    cmd = re.search(r'^nohup (.*?)\\\n(.*?)$', start, re.M | re.S)
    line = (cmd.group(1) + " " + cmd.group(2)).split(">")[0]
    argv = shlex.split(line)
    assert argv[0] == "$LAMINA_DIR/build/lamina" and argv[1] == "serve"
    values = {"$LAMINA_PORT": env["LAMINA_PORT"], "$RUNNER_TEMP/lamina-data": "/tmp/x"}
    argv = [values.get(a, a) for a in argv]
    assert env["LAMINA_ENDPOINT"] == f"http://127.0.0.1:{env['LAMINA_PORT']}"
    status, log = serve_and_check_health([str(lt.lamina_bin())] +
                                         substitute(argv[1:], tmp_path / "data"), tmp_path / "serve.log")
    assert status == 200, log[-3000:]
    assert re.search(r'curl -fsS --max-time \d+ "\$LAMINA_ENDPOINT/health"', start)
    assert re.search(r"for _ in \$\(seq \d+\); do", start)

    # the test it runs is in this repo, and lamina is stopped whatever happened
    test = steps["Test the functions with boto3"]["run"]
    assert '"$TESTS_DIR/test_with_lamina.py"' in test
    assert os.path.isfile(os.path.join(REPO, env["TESTS_DIR"], "test_with_lamina.py"))
    assert os.path.isfile(os.path.join(REPO, env["TESTS_DIR"], "function", "handler.py"))
    stop = steps["Stop lamina"]
    assert stop["if"] == "always()" and 'kill "$pid"' in stop["run"]


@pytest.mark.timeout_s(120)
def test_github_actions_boto3_test_passes_against_lamina(server, tmp_path):
    env = dict(os.environ, LAMINA_ENDPOINT=server.url)
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
                          os.path.join(EXAMPLES, "github-actions", "test_with_lamina.py")],
                         env=env, capture_output=True, text=True, timeout=110, cwd=str(tmp_path))
    assert out.returncode == 0, out.stdout + out.stderr
    assert re.search(r"\b3 passed\b", out.stdout), out.stdout


@pytest.mark.timeout_s(180)
def test_sam_app_example(server):
    """examples/sam-app: deploy, invoke through the layer, canary to version 2, delete."""
    stdout, lines = run_example(server, "sam-app", timeout=170, LAMINA=str(lt.lamina_bin()), MINUTE_SECONDS="3")
    assert "greet: Hello, Ada! code=v1 stage=dev layer=shared_util 1.0" in lines
    assert "report: items=3 layer=shared_util 1.0" in lines
    assert "provisioned on live: READY\t1" in lines
    assert "reserved on report: 2" in lines
    # right after the canary deployment: 10% on version 2, version 1 primary
    assert 'alias live: ["1",{"2":0.1}]' in lines
    during = next(l for l in lines if l.startswith("during the canary:"))
    v1 = int(re.search(r"v1=(\d+)", during).group(1))
    assert v1 >= 1  # version 1 still answered during the canary
    # after it: version 2 alone
    assert 'alias live: ["2",null]' in lines
    assert "greet: Hello, Grace! code=v2 version=2" in lines
    assert "functions left: 0" in lines
