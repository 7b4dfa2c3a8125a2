"""Ruby functions (ruby3.2, ruby3.3, ruby3.4) on lamina's Ruby bootstrap, through the aws CLI
and boto3: handler forms, the event and the context, results as JSON, AWS's error payloads
(`Function<Class>`, `Init<Class>`), logs, gems from layers and vendor/bundle via GEM_PATH,
timeouts, and ruby4.0 refused by name."""

from __future__ import annotations

import base64
import json
import shutil

import pytest

import lamina_testlib as lt

ROLE = lt.ROLE_ARN

pytestmark = pytest.mark.skipif(shutil.which("ruby") is None, reason="the host has no ruby")

INTROSPECT = """require 'json'

def handler(event:, context:)
  puts "hello from #{context.function_name}"
  $stderr.puts "stderr line"
  {
    'event' => event,
    'event_class' => event.class.name,
    'aws_request_id' => context.aws_request_id,
    'invoked_function_arn' => context.invoked_function_arn,
    'function_name' => context.function_name,
    'function_version' => context.function_version,
    'memory_limit_in_mb' => context.memory_limit_in_mb,
    'log_group_name' => context.log_group_name,
    'log_stream_name' => context.log_stream_name,
    'deadline_ms' => context.deadline_ms,
    'remaining' => context.get_remaining_time_in_millis,
    'identity' => context.identity,
    'client_context' => context.client_context,
    'env' => ENV.to_h.slice('GEM_PATH', 'RUBYLIB', 'AWS_EXECUTION_ENV', '_HANDLER', 'LAMBDA_TASK_ROOT')
  }
end
"""

CLASS_HANDLER = """module LambdaFunctions
  class Handler
    def self.process(event:, context:)
      "Hello, #{event.is_a?(Hash) ? event['name'] : event}!"
    end
  end
end
"""

RAISES = """def handler(event:, context:)
  raise "Error: some_error_msg"
end
"""

TINYGEM_SPEC = """Gem::Specification.new do |s|
  s.name = 'tinygem'
  s.version = '1.0.0'
  s.summary = 'a gem made by hand'
  s.authors = ['lamina']
  s.files = ['lib/tinygem.rb']
  s.require_paths = ['lib']
end
"""

USES_GEMS = """require 'tinygem'
require 'vendored'
require 'optlib'

def handler(event:, context:)
  { 'tinygem' => Tinygem::WHERE, 'vendored' => Vendored::WHERE, 'optlib' => Optlib::WHERE,
    'loaded' => Gem.loaded_specs.keys.sort }
end
"""


def rb_zip(source: str, name: str = "function.rb", extra: dict | None = None) -> bytes:
    return lt.make_zip({name: source, **(extra or {})})


def create(lam, source, *, runtime="ruby3.3", handler="function.handler", zip_bytes=None, **kw) -> str:
    name = lt.unique("rb")
    lam.create_function(FunctionName=name, Runtime=runtime, Role=ROLE, Handler=handler,
                        Code={"ZipFile": zip_bytes if zip_bytes is not None else rb_zip(source)}, **kw)
    return name


def invoke(lam, name, payload=b"{}", **kw):
    r = lam.invoke(FunctionName=name, Payload=payload, **kw)
    return r, r["Payload"].read()


@pytest.mark.cli
def test_cli_create_and_invoke(cli, tmp_path):
    src = tmp_path / "function.rb"
    src.write_text(INTROSPECT)
    fzip = shutil.make_archive(str(tmp_path / "function"), "zip", root_dir=tmp_path, base_dir="function.rb")
    name = lt.unique("rbcli")
    created = cli.json("lambda", "create-function", "--function-name", name, "--runtime", "ruby3.3",
                       "--role", ROLE, "--handler", "function.handler", "--zip-file", f"fileb://{fzip}",
                       "--memory-size", "256")
    assert created["Runtime"] == "ruby3.3" and created["Handler"] == "function.handler"
    cli.run("lambda", "wait", "function-active-v2", "--function-name", name)
    out = tmp_path / "out.json"
    payload = tmp_path / "payload.json"
    payload.write_text('{"name": "Ruby", "n": [1, 2.5, null]}')
    r = cli.json("lambda", "invoke", "--function-name", name, "--payload", f"fileb://{payload}",
                 "--log-type", "Tail", str(out))
    assert r["StatusCode"] == 200 and "FunctionError" not in r
    body = json.loads(out.read_text())
    assert body["event"] == {"name": "Ruby", "n": [1, 2.5, None]}
    assert body["event_class"] == "Hash"
    assert body["function_name"] == name
    assert body["function_version"] == "$LATEST"
    assert body["invoked_function_arn"] == lt.fn_arn(name)
    assert body["memory_limit_in_mb"] == "256"  # a String, as AWS's Ruby runtime gives it
    assert body["log_group_name"] == f"/aws/lambda/{name}"
    assert "[$LATEST]" in body["log_stream_name"]
    assert 0 < body["remaining"] <= 3000
    assert body["deadline_ms"] > 1_700_000_000_000
    assert body["client_context"] is None
    env = body["env"]
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_ruby3.3"
    assert env["_HANDLER"] == "function.handler"
    gem_path = env["GEM_PATH"].split(":")
    assert gem_path[0] == f"{env['LAMBDA_TASK_ROOT']}/vendor/bundle/ruby/3.3.0"
    assert gem_path[1].endswith("/ruby/gems/3.3.0")
    assert env["RUBYLIB"].split(":")[0] == env["LAMBDA_TASK_ROOT"]
    assert env["RUBYLIB"].endswith("/ruby/lib")
    log = base64.b64decode(r["LogResult"]).decode()
    assert f"hello from {name}\n" in log
    assert "stderr line\n" in log
    assert f"END RequestId: {body['aws_request_id']}" in log


def test_class_method_handler_and_string_results(lam):
    name = create(lam, CLASS_HANDLER, handler="source.LambdaFunctions::Handler.process",
                  zip_bytes=rb_zip(CLASS_HANDLER, "source.rb"))
    r, body = invoke(lam, name, b'{"name": "class"}')
    assert "FunctionError" not in r
    assert json.loads(body) == "Hello, class!"
    # a payload that is not a JSON object: the event is what JSON makes of it
    r, body = invoke(lam, name, b'"text"')
    assert json.loads(body) == "Hello, text!"


@pytest.mark.parametrize("runtime", ["ruby3.2", "ruby3.4"])
def test_other_versions_run_with_their_gem_path(lam, runtime):
    name = create(lam, INTROSPECT, runtime=runtime)
    client_context = {"custom": {"k": "v"}, "env": {"platform": "lamina"}}
    r, body = invoke(lam, name, b'{"k": "v"}',
                     ClientContext=base64.b64encode(json.dumps(client_context).encode()).decode())
    assert "FunctionError" not in r, body
    out = json.loads(body)
    assert out["client_context"] == client_context
    abi = runtime.removeprefix("ruby") + ".0"
    assert out["env"]["AWS_EXECUTION_ENV"] == f"AWS_Lambda_{runtime}"
    assert out["env"]["GEM_PATH"].split(":")[0].endswith(f"/vendor/bundle/ruby/{abi}")


@pytest.mark.cli
def test_uncaught_error_payload(cli, lam, tmp_path):
    name = create(lam, RAISES)
    r, body = invoke(lam, name, LogType="Tail")
    assert r["StatusCode"] == 200
    assert r["FunctionError"] == "Unhandled"  # X-Amz-Function-Error
    err = json.loads(body)
    assert set(err) == {"errorMessage", "errorType", "stackTrace"}
    assert err["errorType"] == "Function<RuntimeError>"
    assert err["errorMessage"] == "Error: some_error_msg"
    assert err["stackTrace"][0].startswith("/var/task/function.rb:2:in ")
    assert "handler" in err["stackTrace"][0]
    log = base64.b64decode(r["LogResult"]).decode()
    assert "[ERROR] Function<RuntimeError>: Error: some_error_msg\n  /var/task/function.rb:2:in " in log
    # the same through the CLI
    p = cli.json("lambda", "invoke", "--function-name", name, str(tmp_path / "out.json"))
    assert p["FunctionError"] == "Unhandled"
    assert json.loads((tmp_path / "out.json").read_text())["errorType"] == "Function<RuntimeError>"


@pytest.mark.parametrize("files,handler,error_type,message", [
    ({"function.rb": "x = 1\n"}, "missing.handler", "Init<LoadError>", "cannot load such file"),
    ({"function.rb": "def handler(event:, context:)\n"}, "function.handler", "Init<SyntaxError>", ""),
    ({"function.rb": "raise ArgumentError, 'bad config'\n"}, "function.handler", "Init<ArgumentError>",
     "bad config"),
    ({"function.rb": "x = 1\n"}, "function", "Init<ArgumentError>", "Invalid handler"),
    ({"function.rb": "x = 1\n"}, "function.nope", "Function<NoMethodError>", "nope"),
    ({"function.rb": "x = 1\n"}, "function.Missing::Klass.run", "Function<NameError>", "Missing"),
])
def test_handler_errors(lam, files, handler, error_type, message):
    name = create(lam, None, handler=handler, zip_bytes=lt.make_zip(files))
    r, body = invoke(lam, name)
    assert r["FunctionError"] == "Unhandled"
    err = json.loads(body)
    assert err["errorType"] == error_type, err
    assert message in err["errorMessage"]
    assert isinstance(err["stackTrace"], list)


@pytest.fixture(scope="module")
def process_server(tmp_path_factory):
    srv = lt.LaminaServer(log_path=tmp_path_factory.mktemp("rbproc") / "server.log",
                          extra_args=["--sandbox", "process"])
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(params=["session", "process"])
def any_backend(request, server):
    """boto3 lambda clients of the session's server (bubblewrap when it can) and of a server
    running functions as plain processes (host paths in GEM_PATH and RUBYLIB)."""
    srv = server if request.param == "session" else request.getfixturevalue("process_server")
    return srv.client("lambda")


def test_gems_from_a_layer_and_vendor_bundle(any_backend):
    lam = any_backend
    layer = lt.make_zip({
        "ruby/gems/3.3.0/specifications/tinygem-1.0.0.gemspec": TINYGEM_SPEC,
        "ruby/gems/3.3.0/gems/tinygem-1.0.0/lib/tinygem.rb": "module Tinygem\n  WHERE = __FILE__\nend\n",
        "ruby/lib/optlib.rb": "module Optlib\n  WHERE = __FILE__\nend\n",
    })
    published = lam.publish_layer_version(LayerName=lt.unique("rbgems"), Content={"ZipFile": layer},
                                          CompatibleRuntimes=["ruby3.3"])
    code = rb_zip(USES_GEMS, extra={
        "vendor/bundle/ruby/3.3.0/specifications/vendored-0.1.0.gemspec":
            TINYGEM_SPEC.replace("tinygem", "vendored").replace("1.0.0", "0.1.0"),
        "vendor/bundle/ruby/3.3.0/gems/vendored-0.1.0/lib/vendored.rb":
            "module Vendored\n  WHERE = __FILE__\nend\n",
    })
    name = create(lam, None, zip_bytes=code, Layers=[published["LayerVersionArn"]])
    r, body = invoke(lam, name)
    assert "FunctionError" not in r, body
    out = json.loads(body)
    assert out["tinygem"].endswith("/ruby/gems/3.3.0/gems/tinygem-1.0.0/lib/tinygem.rb")
    assert out["vendored"].endswith("/vendor/bundle/ruby/3.3.0/gems/vendored-0.1.0/lib/vendored.rb")
    assert out["optlib"].endswith("/ruby/lib/optlib.rb")
    assert {"tinygem", "vendored"} <= set(out["loaded"])


def test_timeout(lam):
    name = create(lam, "def handler(event:, context:)\n  sleep 5\nend\n", Timeout=1)
    r, body = invoke(lam, name)
    assert r["FunctionError"] == "Unhandled"
    err = json.loads(body)
    assert err["errorMessage"] == f"RequestId: {r['ResponseMetadata']['RequestId']} Error: Task timed out after 1.00 seconds"


def test_warm_invokes_reuse_the_environment_and_logs_reach_cloudwatch(server, lam):
    src = ("$count = 0\n\ndef handler(event:, context:)\n  $count += 1\n"
           "  puts \"invoke #{$count} #{context.aws_request_id}\"\n  $count\nend\n")
    name = create(lam, src)
    ids = []
    for expected in (1, 2):
        r, body = invoke(lam, name)
        assert json.loads(body) == expected
        ids.append(r["ResponseMetadata"]["RequestId"])
    logs = server.client("logs")
    group = f"/aws/lambda/{name}"

    def messages():
        streams = logs.describe_log_streams(logGroupName=group).get("logStreams", [])
        out = []
        for s in streams:
            out += [e["message"] for e in logs.get_log_events(logGroupName=group,
                                                             logStreamName=s["logStreamName"])["events"]]
        return [m for m in out if m.startswith("invoke ")]

    got = lt.wait_for(messages, timeout=10, count=2)
    assert [m.strip() for m in got] == [f"invoke 1 {ids[0]}", f"invoke 2 {ids[1]}"]


def test_json_log_format_formats_logger_records(lam):
    src = ("require 'logger'\n\ndef handler(event:, context:)\n  log = Logger.new($stdout)\n"
           "  log.debug('hidden')\n  log.info('shown')\n  puts 'plain'\n  1\nend\n")
    name = create(lam, src, LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "INFO"})
    r, _ = invoke(lam, name, LogType="Tail")
    lines = base64.b64decode(r["LogResult"]).decode().splitlines()
    records = [json.loads(line) for line in lines if line.startswith("{") and '"message"' in line]
    shown = [x for x in records if x.get("message") == "shown"]
    assert shown and shown[0]["level"] == "INFO"
    assert shown[0]["requestId"] == r["ResponseMetadata"]["RequestId"]
    assert not any(x.get("message") == "hidden" for x in records)


def test_ruby4_is_refused_by_name(lam_nv):
    with pytest.raises(lam_nv.exceptions.InvalidParameterValueException) as e:
        lam_nv.create_function(FunctionName=lt.unique("rb4"), Runtime="ruby4.0", Role=ROLE,
                               Handler="function.handler", Code={"ZipFile": rb_zip(RAISES)})
    assert "ruby4.0" in e.value.response["Error"]["Message"]
    assert "lamina" in e.value.response["Error"]["Message"]


def test_debugging_a_ruby_function_is_refused_by_name(lam):
    # lamina attaches debuggers to Python and Node.js only: asked for one, a Ruby invoke says so
    name = create(lam, INTROSPECT, Environment={"Variables": {"LAMINA_DEBUG_PORT": "5999"}})
    r, body = invoke(lam, name)
    assert r["FunctionError"] == "Unhandled"
    err = json.loads(body)
    assert "attaches debuggers to Python and Node.js functions only" in err["errorMessage"]
    assert "ruby3.3" in err["errorMessage"]
