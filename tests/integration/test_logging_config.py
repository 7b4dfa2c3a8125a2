"""LoggingConfig applied: the configuration's rules (JSON brings INFO levels, Text drops them,
levels need JSON, AWS's enums), the variables runtimes read (AWS_LAMBDA_LOG_FORMAT,
AWS_LAMBDA_LOG_LEVEL), and what the logs then hold for Python (`logging`) and Node.js (`console`)
functions at every application level, the platform's records (platform.initStart,
platform.initRuntimeDone, platform.initReport, platform.start, platform.runtimeDone, platform.report)
by SystemLogLevel, and the same in an invoke's Tail (LogType Tail)."""
import base64
import json
import re

import pytest

import lamina_testlib as lt
from lamina_testlib import expect_error

ROLE = "arn:aws:iam::123456789012:role/lambda-role"

PY = r'''
import json, logging, os
logger = logging.getLogger()

def handler(event, context):
    logger.debug("d")
    logger.info("i", extra={"order": 7})
    logger.warning("w")
    logger.error("e")
    logger.critical("c")
    try:
        1 / 0
    except ZeroDivisionError:
        logger.exception("boom")
    print("plain")
    return {"format": os.environ.get("AWS_LAMBDA_LOG_FORMAT"), "level": os.environ.get("AWS_LAMBDA_LOG_LEVEL")}
'''

NODE = r'''
exports.handler = async () => {
  console.trace('t');
  console.debug('d');
  console.info('i');
  console.log('l', {a: 1});
  console.warn('w');
  console.error('e', new TypeError('bad type'));
  return {format: process.env.AWS_LAMBDA_LOG_FORMAT, level: process.env.AWS_LAMBDA_LOG_LEVEL};
};
'''

PY_RANK = {"DEBUG": 1, "INFO": 2, "WARNING": 3, "ERROR": 4, "CRITICAL": 5}
NODE_RANK = {"TRACE": 0, "DEBUG": 1, "INFO": 2, "WARN": 3, "ERROR": 4, "FATAL": 5}
LEVELS = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"]


def make(lam, runtime, logging_config=None):
    name = lt.unique("logcfg")
    files = {"handler.py": PY} if runtime.startswith("python") else {"index.js": NODE}
    handler = "handler.handler" if runtime.startswith("python") else "index.handler"
    kw = {"LoggingConfig": logging_config} if logging_config else {}
    lam.create_function(FunctionName=name, Runtime=runtime, Role=ROLE, Handler=handler, Timeout=10,
                        Code={"ZipFile": lt.make_zip(files)}, **kw)
    lt.wait_active(lam, name)
    return name


def invoke_tail(lam, name):
    r = lam.invoke(FunctionName=name, LogType="Tail", Payload=b"{}")
    assert "FunctionError" not in r, r["Payload"].read()
    return r, json.loads(r["Payload"].read()), base64.b64decode(r["LogResult"]).decode()


def records(tail):
    return [json.loads(line) for line in tail.splitlines() if line.startswith("{")]


def test_configuration_rules_are_aws_s(lam):
    name = make(lam, "python3.12")
    arn_group = f"/aws/lambda/{name}"
    assert lam.get_function_configuration(FunctionName=name)["LoggingConfig"] == {"LogFormat": "Text",
                                                                                 "LogGroup": arn_group}
    got = lam.update_function_configuration(FunctionName=name, LoggingConfig={"LogFormat": "JSON"})
    assert got["LoggingConfig"] == {"ApplicationLogLevel": "INFO", "LogFormat": "JSON", "LogGroup": arn_group,
                                    "SystemLogLevel": "INFO"}
    lt.wait_updated(lam, name)
    got = lam.update_function_configuration(FunctionName=name, LoggingConfig={"ApplicationLogLevel": "DEBUG"})
    assert got["LoggingConfig"]["ApplicationLogLevel"] == "DEBUG" and got["LoggingConfig"]["SystemLogLevel"] == "INFO"
    lt.wait_updated(lam, name)
    got = lam.update_function_configuration(FunctionName=name, LoggingConfig={"LogFormat": "Text"})
    assert got["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": arn_group}
    lt.wait_updated(lam, name)
    with expect_error("InvalidParameterValueException", 400,
                      'LogLevel is not supported when LogFormat is set to "Text". Remove LogLevel from your '
                      'request or change the LogFormat to "Json" and try again.'):
        lam.update_function_configuration(FunctionName=name, LoggingConfig={"ApplicationLogLevel": "WARN"})
    with expect_error("ValidationException", 400):
        lam.update_function_configuration(FunctionName=name, LoggingConfig={"LogFormat": "JSON",
                                                                            "SystemLogLevel": "ERROR"})
    assert lam.get_function_configuration(FunctionName=name)["LoggingConfig"] == {"LogFormat": "Text",
                                                                                 "LogGroup": arn_group}


def test_python_text_logging_is_aws_s_line(lam):
    name = make(lam, "python3.12")
    r, out, tail = invoke_tail(lam, name)
    request_id = r["ResponseMetadata"]["RequestId"]
    assert out == {"format": "Text", "level": None}
    lines = tail.splitlines()
    assert lines[0] == f"START RequestId: {request_id} Version: $LATEST" or \
        any(l == f"START RequestId: {request_id} Version: $LATEST" for l in lines)
    # the root logger stays at WARNING, as on AWS: no debug or info
    warning = [l for l in lines if l.startswith("[WARNING]")]
    assert len(warning) == 1
    assert re.fullmatch(r"\[WARNING\]\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t" + request_id + r"\tw", warning[0])
    assert not any(l.startswith("[INFO]") or l.startswith("[DEBUG]") for l in lines)
    assert "plain" in lines and any(l.startswith("REPORT RequestId: " + request_id) for l in lines)


@pytest.mark.parametrize("level", LEVELS)
def test_python_json_records_by_application_level(lam, level):
    name = make(lam, "python3.12", {"LogFormat": "JSON", "ApplicationLogLevel": level})
    r, out, tail = invoke_tail(lam, name)
    request_id = r["ResponseMetadata"]["RequestId"]
    assert out == {"format": "JSON", "level": level}
    recs = records(tail)
    app = [x for x in recs if "level" in x]
    want = NODE_RANK[level]
    expected = [lv for lv in ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", "ERROR"] if PY_RANK[lv] >= want]
    assert [x["level"] for x in app] == expected, tail
    for x in app:
        assert list(x)[:5] == ["timestamp", "level", "message", "logger", "requestId"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", x["timestamp"])
        assert x["logger"] == "root" and x["requestId"] == request_id
    if want <= 2:
        assert next(x for x in app if x["message"] == "i")["order"] == 7  # extra= keys
    boom = [x for x in app if x["message"] == "boom"]
    assert len(boom) == (1 if want <= 4 else 0)
    if boom:
        assert boom[0]["errorType"] == "ZeroDivisionError" and boom[0]["errorMessage"] == "division by zero"
        assert boom[0]["location"].startswith("/var/task/handler.py:handler:")
        assert any("1 / 0" in frame for frame in boom[0]["stackTrace"])
    # print() has no level: Lambda keeps it as INFO
    assert ("plain" in tail.splitlines()) == (want <= 2)
    platform = [x["type"] for x in recs if "type" in x]
    # a cold start: init's records lead the invocation's
    assert platform == ["platform.initStart", "platform.initReport", "platform.start", "platform.report"]


@pytest.mark.parametrize("system", ["DEBUG", "INFO", "WARN"])
def test_platform_records_follow_the_system_level(lam, system):
    name = make(lam, "python3.12", {"LogFormat": "JSON", "SystemLogLevel": system})
    r, _, tail = invoke_tail(lam, name)
    request_id = r["ResponseMetadata"]["RequestId"]
    assert "START RequestId" not in tail and "REPORT RequestId" not in tail
    platform = [x for x in records(tail) if "type" in x]
    if system == "WARN":
        assert platform == []
        return
    # a cold start: init's records first; runtimeDone and initRuntimeDone are DEBUG records
    debug = system == "DEBUG"
    assert [x["type"] for x in platform] == (
        ["platform.initStart"] + ["platform.initRuntimeDone"] * debug + ["platform.initReport", "platform.start"] +
        ["platform.runtimeDone"] * debug + ["platform.report"])
    init_start, init_report = platform[0], platform[1 + debug]
    assert init_start["record"] == {"initializationType": "on-demand", "phase": "init"}
    assert init_report["record"]["status"] == "success" and init_report["record"]["phase"] == "init"
    assert init_report["record"]["metrics"]["durationMs"] > 0
    if debug:
        done = platform[4]["record"]
        assert done["requestId"] == request_id and done["status"] == "success"
        assert set(done["metrics"]) == {"durationMs", "producedBytes"}
    start, report = platform[2 + debug], platform[-1]
    assert list(start) == ["time", "type", "record"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", start["time"])
    assert start["record"] == {"requestId": request_id, "version": "$LATEST"}
    assert report["type"] == "platform.report" and report["record"]["requestId"] == request_id
    assert report["record"]["status"] == "success"
    m = report["record"]["metrics"]
    assert list(m)[:4] == ["durationMs", "billedDurationMs", "memorySizeMB", "maxMemoryUsedMB"]
    assert m["memorySizeMB"] == 128 and m["billedDurationMs"] >= m["durationMs"] >= 0
    assert "initDurationMs" in m  # a cold start
    _, _, again = invoke_tail(lam, name)
    assert [x["type"] for x in records(again) if "type" in x] == (
        ["platform.start"] + ["platform.runtimeDone"] * debug + ["platform.report"])
    assert "initDurationMs" not in [x for x in records(again) if x.get("type") == "platform.report"][0]["record"][
        "metrics"]


def test_node_text_console_lines(lam):
    name = make(lam, "nodejs22.x")
    r, out, tail = invoke_tail(lam, name)
    request_id = r["ResponseMetadata"]["RequestId"]
    assert out == {"format": "Text"}
    app = [l for l in tail.splitlines() if re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t", l)]
    assert [l.split("\t")[1:3] for l in app] == [[request_id, lv] for lv in
                                                 ["TRACE", "DEBUG", "INFO", "INFO", "WARN", "ERROR"]]
    assert app[3].split("\t")[3] == "l { a: 1 }"


@pytest.mark.parametrize("level", LEVELS)
def test_node_json_records_by_application_level(lam, level):
    name = make(lam, "nodejs22.x", {"LogFormat": "JSON", "ApplicationLogLevel": level})
    r, out, tail = invoke_tail(lam, name)
    request_id = r["ResponseMetadata"]["RequestId"]
    assert out == {"format": "JSON", "level": level}
    app = [x for x in records(tail) if "level" in x]
    want = NODE_RANK[level]
    expected = [lv for lv in ["TRACE", "DEBUG", "INFO", "INFO", "WARN", "ERROR"] if NODE_RANK[lv] >= want]
    assert [x["level"] for x in app] == expected, tail
    for x in app:
        assert list(x)[:4] == ["timestamp", "level", "requestId", "message"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", x["timestamp"]) and x["requestId"] == request_id
    if want <= 4:
        err = app[-1]
        assert err["errorType"] == "TypeError" and err["errorMessage"] == "bad type"
        assert err["stackTrace"][0] == "TypeError: bad type" and err["message"].startswith("e TypeError: bad type")
