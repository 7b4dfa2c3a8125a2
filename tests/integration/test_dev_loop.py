"""The developer loop: `lamina run [serve flags] -- COMMAND`, POST /_lamina/reset and
GET /_lamina/invocations.

Every test here starts its own server (`lamina run` makes one; reset clears everything,
so it never touches the shared session server)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

import lamina_testlib as lt

PY = sys.executable  # has boto3: the tests' own interpreter


def clean_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAMINA_", "AWS_"))}
    env.update(extra)
    return env


def run(*args: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([str(lt.lamina_bin()), "run", *args], capture_output=True, text=True,
                          timeout=timeout, env=env if env is not None else clean_env(),
                          stdin=subprocess.DEVNULL)


def descendants(root: int) -> list[int]:
    """Every process below `root` (by parent pid), from /proc."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [root]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def cgroups_named(name: str) -> list[str]:
    """Every cgroup folder called `name` (lamina's own are lamina-<pid>), v1 and v2 alike."""
    found = []
    for root, dirs, _ in os.walk("/sys/fs/cgroup"):
        if name in dirs:
            found.append(os.path.join(root, name))
    return found


def lamina_mounts() -> set[str]:
    """The mount table's lines that name a lamina path (a data or environment folder)."""
    with open("/proc/self/mounts") as f:
        return {line for line in f if "lamina" in line}


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Echo:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: {name}
      Runtime: python3.12
      Handler: index.handler
      InlineCode: |
        import os, time
        def handler(event, context):
            time.sleep(event.get("sleep", 0))
            return {{"pid": os.getpid(), "got": event}}
"""


# --------------------------------------------------------------------------------------
# lamina run
# --------------------------------------------------------------------------------------

def test_run_passes_the_exit_status_through():
    started = time.monotonic()
    assert run("--", "true").returncode == 0
    took = time.monotonic() - started
    assert run("--", "sh", "-c", "exit 3").returncode == 3
    print(f"lamina run -- true took {took * 1000:.0f} ms")


def test_run_reports_a_signal_as_128_plus_its_number():
    r = run("--", "sh", "-c", "kill -TERM $$")
    assert r.returncode == 128 + signal.SIGTERM


def test_run_forwards_sigterm_to_the_command(tmp_path):
    ready = tmp_path / "ready"
    script = ("import signal, sys, time, pathlib\n"
              "signal.signal(signal.SIGTERM, lambda *a: sys.exit(7))\n"
              f"pathlib.Path({str(ready)!r}).write_text('x')\n"
              "time.sleep(30)\n")
    proc = subprocess.Popen([str(lt.lamina_bin()), "run", "--", PY, "-c", script], env=clean_env(),
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        lt.wait_for(ready.exists, timeout=20)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 7
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_run_command_not_found_is_127():
    r = run("--", "no-such-command-lamina-test")
    assert r.returncode == 127
    assert "no-such-command-lamina-test: command not found" in r.stderr


@pytest.mark.parametrize("args", [[], ["--"], ["true"], ["--port", "0", "true"]])
def test_run_without_a_command_after_dashdash_is_a_usage_error(args):
    r = run(*args)
    assert r.returncode == 2
    assert "-- COMMAND" in r.stderr


ENV_NAMES = ("AWS_ENDPOINT_URL", "LAMINA_ENDPOINT", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION",
             "AWS_DEFAULT_REGION")


@pytest.mark.timeout_s(60)
def test_run_deploys_the_template_points_boto3_at_it_and_leaves_no_process(tmp_path):
    name = lt.unique("runfn")
    template = tmp_path / "template.yaml"
    template.write_text(TEMPLATE.format(name=name))
    # the command reports its environment and the functions boto3 finds, invokes twice at
    # once, and lists lamina's other descendants (the environments) while they are up
    script = textwrap.dedent(f"""\
        import json, os, sys, threading, urllib.request, boto3
        sys.path.insert(0, {str(lt.HERE)!r})
        from test_dev_loop import descendants
        lam = boto3.client("lambda")
        out = {{k: os.environ.get(k) for k in {ENV_NAMES!r}}}
        out["functions"] = [f["FunctionName"] for f in lam.list_functions()["Functions"]]
        t = threading.Thread(target=lambda: lam.invoke(FunctionName={name!r}, Payload=b'{{"sleep": 1}}'))
        t.start()
        out["status"] = lam.invoke(FunctionName={name!r}, Payload=b"{{}}")["StatusCode"]
        mine = set(descendants(os.getpid())) | {{os.getpid()}}
        out["others"] = [p for p in descendants(os.getppid()) if p not in mine]
        t.join()
        # lamina run serves from this command's parent: its memory cgroup is lamina-<ppid>
        from test_dev_loop import cgroups_named
        out["lamina_pid"] = os.getppid()
        out["cgroups"] = cgroups_named(f"lamina-{{os.getppid()}}")
        out["health"] = json.load(urllib.request.urlopen(os.environ["AWS_ENDPOINT_URL"] + "/health",
                                                         timeout=10))
        print(json.dumps(out))
    """)
    mounts_before = lamina_mounts()
    r = run("--template", str(template), "--", PY, "-c", script)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    assert out["LAMINA_ENDPOINT"] == out["AWS_ENDPOINT_URL"]
    assert (out["AWS_ACCESS_KEY_ID"], out["AWS_SECRET_ACCESS_KEY"]) == ("test", "test")
    assert out["AWS_REGION"] == out["AWS_DEFAULT_REGION"] == lt.REGION
    assert out["functions"] == [name] and out["status"] == 200
    assert out["others"], "the command saw no environment process under lamina"
    assert [p for p in out["others"] if alive(p)] == []
    # nothing else left behind either: its cgroups (when it made some) and mounts
    if out["health"].get("memory_limits"):
        assert out["cgroups"], "lamina made no cgroup although it enforces MemorySize"
    assert cgroups_named(f"lamina-{out['lamina_pid']}") == []
    assert lamina_mounts() <= mounts_before


def test_run_keeps_the_credentials_and_region_already_set():
    r = run("--", "env", env=clean_env(AWS_ACCESS_KEY_ID="210987654321", AWS_SECRET_ACCESS_KEY="mine",
                                       AWS_DEFAULT_REGION="eu-west-1", AWS_ENDPOINT_URL="http://elsewhere:1"))
    assert r.returncode == 0, r.stderr
    env = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
    assert (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]) == ("210987654321", "mine")
    assert env["AWS_DEFAULT_REGION"] == "eu-west-1" and "AWS_REGION" not in env
    assert env["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")  # always lamina's


def test_run_with_a_failing_template_does_not_run_the_command(tmp_path):
    template = tmp_path / "template.yaml"
    template.write_text("Resources:\n  Bad:\n    Type: AWS::Serverless::Function\n    Properties: {}\n")
    touched = tmp_path / "ran"
    r = run("--template", str(template), "--", "touch", str(touched))
    assert r.returncode != 0
    assert "the template was not applied" in r.stderr
    assert not touched.exists()


# --------------------------------------------------------------------------------------
# POST /_lamina/reset
# --------------------------------------------------------------------------------------

@pytest.fixture
def own_server():
    srv = lt.LaminaServer()
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def module_server():
    """For the tests that only read: never reset."""
    srv = lt.LaminaServer()
    srv.start()
    yield srv
    srv.stop()


def reset(srv) -> tuple[int, dict]:
    status, _, body = lt.http_request(srv.url + "/_lamina/reset", method="POST", body=b"")
    return status, json.loads(body or b"{}")


SLOW_ZIP = lt.make_zip({"handler.py": "import time\n"
                                      "def handler(event, context):\n"
                                      "    time.sleep(event.get('sleep', 0))\n"
                                      "    return {'ok': True}\n"})


@pytest.mark.timeout_s(60)
def test_reset_removes_everything(own_server):
    srv = own_server
    lam, sqs, s3 = srv.client("lambda"), srv.client("sqs"), srv.client("s3")
    name = lt.unique("reset")
    lt.create_function(lam, name, zip_bytes=SLOW_ZIP)
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    lam.create_function_url_config(FunctionName=name, AuthType="NONE")
    assert lam.invoke(FunctionName=name, Payload=b"{}")["StatusCode"] == 200
    queue_url = sqs.create_queue(QueueName="reset-q")["QueueUrl"]
    sqs.send_message(QueueUrl=queue_url, MessageBody="hi")
    s3.create_bucket(Bucket="reset-bucket")
    s3.put_object(Bucket="reset-bucket", Key="k", Body=b"v")
    lam.create_event_source_mapping(FunctionName=name, EventSourceArn=sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"], Enabled=False)

    status, body = reset(srv)
    assert status == 200, body
    assert body["reset"] is True and body["functions"] == 1 and body["took_ms"] < 5000

    assert lam.list_functions()["Functions"] == []
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName=name)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert lam.list_event_source_mappings()["EventSourceMappings"] == []
    assert sqs.list_queues().get("QueueUrls", []) == []
    assert s3.list_buckets()["Buckets"] == []
    _, _, raw = lt.http_get(srv.url + "/_lamina/invocations")
    assert json.loads(raw)["invocations"] == []
    _, _, health = lt.http_get(srv.url + "/health")
    assert json.loads(health)["functions"] == 0

    # the same names can be used again: nothing of the old ones is left
    lt.create_function(lam, name, zip_bytes=SLOW_ZIP)
    assert lam.publish_version(FunctionName=name)["Version"] == "1"
    assert sqs.create_queue(QueueName="reset-q")["QueueUrl"]
    s3.create_bucket(Bucket="reset-bucket")
    assert s3.list_objects_v2(Bucket="reset-bucket").get("KeyCount") == 0


@pytest.mark.timeout_s(60)
def test_an_invocation_in_flight_during_reset_finishes_or_fails_cleanly(own_server):
    srv = own_server
    lam = srv.client("lambda")
    name = lt.unique("inflight")
    lt.create_function(lam, name, zip_bytes=SLOW_ZIP, Timeout=10)
    outcome = {}

    def slow():
        try:
            r = lam.invoke(FunctionName=name, Payload=b'{"sleep": 2}')
            outcome["status"] = r["StatusCode"]
            outcome["error"] = r.get("FunctionError")
        except ClientError as e:
            outcome["status"] = e.response["ResponseMetadata"]["HTTPStatusCode"]

    t = threading.Thread(target=slow)
    t.start()
    lt.wait_for(lambda: json.loads(lt.http_get(srv.url + "/_lamina/ui/state")[2])["concurrency"]["in_use"] > 0,
                timeout=20)
    status, body = reset(srv)
    assert status == 200, body
    t.join(20)
    assert not t.is_alive() and outcome.get("status") in (200, 404, 500, 502, 503), outcome
    assert srv.alive()
    assert lam.list_functions()["Functions"] == []


def test_reset_is_refused_by_a_server_that_keeps_its_data(tmp_path):
    srv = lt.LaminaServer(data_dir=tmp_path / "data")
    srv.start()
    try:
        lt.create_function(srv.client("lambda"), "kept", zip_bytes=SLOW_ZIP)
        status, body = reset(srv)
        assert status == 409 and "ephemeral" in body["message"]
        assert [f["FunctionName"] for f in srv.client("lambda").list_functions()["Functions"]] == ["kept"]
    finally:
        srv.stop()


def test_reset_only_takes_post(module_server):
    status, _, _ = lt.http_request(module_server.url + "/_lamina/reset", method="GET")
    assert status != 200


# --------------------------------------------------------------------------------------
# GET /_lamina/invocations
# --------------------------------------------------------------------------------------

ERROR_ZIP = lt.make_zip({"handler.py": "def handler(event, context):\n"
                                       "    if event.get('fail'):\n"
                                       "        raise ValueError('asked to')\n"
                                       "    return {'echo': event}\n"})


@pytest.mark.timeout_s(60)
def test_invocations_lists_recent_invocations_newest_first(module_server):
    srv = module_server
    lam = srv.client("lambda")
    name = lt.unique("recent")
    lt.create_function(lam, name, zip_bytes=ERROR_ZIP)
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    lam.invoke(FunctionName=name, Payload=b'{"a": 1}')
    lam.invoke(FunctionName=name, Qualifier="live", Payload=b'{"b": 2}')
    lam.invoke(FunctionName=name, Qualifier="live", Payload=b'{"b": 3}')
    failed = lam.invoke(FunctionName=name, Qualifier="1", Payload=b'{"fail": true}')
    assert failed["FunctionError"] == "Unhandled"

    status, _, raw = lt.http_get(f"{srv.url}/_lamina/invocations?function={name}")
    assert status == 200
    inv = json.loads(raw)["invocations"]
    assert [(i["qualifier"], i["version"], i["status"]) for i in inv] == [
        ("1", "1", "Error"), ("live", "1", "Success"), ("live", "1", "Success"), (None, "$LATEST", "Success")]
    err, warm, cold_live, first = inv
    assert err["error_type"] == "ValueError"
    assert first["cold"] is True and first["init_type"] == "on-demand"
    assert cold_live["cold"] is True and warm["cold"] is False and warm["error_type"] is None
    assert first["payload_bytes_in"] == len(b'{"a": 1}') and first["payload_bytes_out"] > 0
    assert all(i["function"] == name and i["duration_ms"] >= 0 and lt.UUID_RE.match(i["request_id"])
               for i in inv)
    assert first["started_ms"] <= first["ended_ms"] <= warm["started_ms"]

    _, _, raw = lt.http_get(f"{srv.url}/_lamina/invocations?function={name}&qualifier=live&limit=1")
    assert [i["qualifier"] for i in json.loads(raw)["invocations"]] == ["live"]
    _, _, raw = lt.http_get(f"{srv.url}/_lamina/invocations?function={name}&qualifier=$LATEST")
    assert [i["version"] for i in json.loads(raw)["invocations"]] == ["$LATEST"]
    _, _, raw = lt.http_get(f"{srv.url}/_lamina/invocations?function={name}&limit=1")
    assert len(json.loads(raw)["invocations"]) == 1


@pytest.mark.parametrize("query", ["limit=0", "limit=abc", "limit=100000", "limit=-1", "nope=1",
                                   "function=a&function=b"])
def test_invocations_refuses_bad_queries(module_server, query):
    status, headers, raw = lt.http_get(f"{module_server.url}/_lamina/invocations?{query}")
    assert status == 400
    assert headers.get("Content-Type") == "application/json"
    assert json.loads(raw)["message"]
