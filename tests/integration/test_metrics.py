"""AWS/Lambda metrics through the CloudWatch API (the aws CLI's awsJson 1.0,
smithy-rpc-v2-cbor as newer Smithy SDKs send it, and the query protocol) and
the Prometheus page: the tutorial's monitoring steps, with counts a user would
check."""
import copy
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import boto3
import botocore.loaders
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

import lamina_testlib as lt

ROLE = "arn:aws:iam::123456789012:role/lambda-role"


def window():
    now = datetime.now(timezone.utc)
    return now - timedelta(minutes=5), now + timedelta(minutes=1)


def account_clients(server, fresh_account):
    acct, lam = fresh_account
    return acct, lam, server.client("cloudwatch", key=acct)


def create(lam, source="def handler(e, c):\n    if e.get('fail'):\n        raise ValueError('x')\n    return 1\n", **kw):
    name = lt.unique("met")
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="handler.handler", Timeout=10,
                        Code={"ZipFile": lt.make_zip({"handler.py": source})}, **kw)
    return name


def total(cw, metric, dims, stat="Sum"):
    start, end = window()
    out = cw.get_metric_statistics(Namespace="AWS/Lambda", MetricName=metric, Dimensions=dims, StartTime=start,
                                   EndTime=end, Period=60, Statistics=[stat])
    points = out["Datapoints"]
    assert out["Label"] == metric
    if stat in ("Maximum",):
        return max((p[stat] for p in points), default=None)
    return sum(p[stat] for p in points)


def test_invocations_errors_duration_and_throttles_by_function(server, fresh_account):
    acct, lam, cw = account_clients(server, fresh_account)
    name = create(lam)
    for payload in (b"{}", b"{}", b'{"fail": true}'):
        lam.invoke(FunctionName=name, Payload=payload)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    with pytest.raises(ClientError):
        lam.invoke(FunctionName=name, Payload=b"{}")
    fn = [{"Name": "FunctionName", "Value": name}]
    assert total(cw, "Invocations", fn) == 3  # throttles are not invocations
    assert total(cw, "Errors", fn) == 1
    assert total(cw, "Throttles", fn) == 1
    assert total(cw, "Invocations", []) == 3  # the account level of this account only
    start, end = window()
    d = cw.get_metric_statistics(Namespace="AWS/Lambda", MetricName="Duration", Dimensions=fn, StartTime=start,
                                 EndTime=end, Period=300, Statistics=["SampleCount", "Average", "Maximum"])["Datapoints"]
    assert sum(p["SampleCount"] for p in d) == 3 and all(p["Unit"] == "Milliseconds" for p in d)
    assert all(p["Maximum"] >= p["Average"] > 0 for p in d)
    # a dimension set that was never recorded has no datapoints
    assert total(cw, "Invocations", [{"Name": "FunctionName", "Value": "nobody"}]) == 0


def test_alias_invocations_carry_resource_and_executed_version(server, fresh_account):
    acct, lam, cw = account_clients(server, fresh_account)
    name = create(lam)
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    lam.invoke(FunctionName=name, Qualifier="live", Payload=b"{}")
    lam.invoke(FunctionName=name, Qualifier="1", Payload=b"{}")
    res = {"Name": "Resource", "Value": f"{name}:live"}
    fn = {"Name": "FunctionName", "Value": name}
    assert total(cw, "Invocations", [fn, res]) == 1
    assert total(cw, "Invocations", [fn, res, {"Name": "ExecutedVersion", "Value": "1"}]) == 1
    assert total(cw, "Invocations", [fn, {"Name": "Resource", "Value": f"{name}:1"}]) == 1
    assert total(cw, "Invocations", [fn]) == 2
    listed = cw.list_metrics(Namespace="AWS/Lambda", MetricName="Invocations",
                             Dimensions=[{"Name": "FunctionName", "Value": name}])["Metrics"]
    dim_sets = sorted(tuple(sorted(d["Name"] for d in m["Dimensions"])) for m in listed)
    assert dim_sets == [("ExecutedVersion", "FunctionName", "Resource"), ("FunctionName",),
                        ("FunctionName", "Resource"), ("FunctionName", "Resource")]


def test_tutorial_monitoring_steps_with_the_aws_cli(server, fresh_account, tmp_path):
    """`aws cloudwatch get-metric-statistics` for ConcurrentExecutions (Maximum) and Throttles (Sum)
    after the concurrency exercise's parallel invokes."""
    acct, lam, cw = account_clients(server, fresh_account)
    name = create(lam, "import time\ndef handler(e, c):\n    time.sleep(1)\n    return 1\n")
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=2)

    def one(_):
        try:
            lam.invoke(FunctionName=name, Payload=b"{}")
            return "ok"
        except ClientError:
            return "throttled"

    with ThreadPoolExecutor(5) as pool:
        outcomes = list(pool.map(one, range(5)))
    assert outcomes.count("ok") == 2
    cli = lt.AwsCli(server.port, tmp_path)
    cli.env["AWS_ACCESS_KEY_ID"] = acct
    start, end = window()
    args = ["--namespace", "AWS/Lambda", "--dimensions", f"Name=FunctionName,Value={name}",
            "--start-time", start.strftime("%Y-%m-%dT%H:%M:%S"), "--end-time", end.strftime("%Y-%m-%dT%H:%M:%S"),
            "--period", "60"]
    conc = cli.json("cloudwatch", "get-metric-statistics", "--metric-name", "ConcurrentExecutions", *args,
                    "--statistics", "Maximum")
    assert max(p["Maximum"] for p in conc["Datapoints"]) == 2
    thr = cli.json("cloudwatch", "get-metric-statistics", "--metric-name", "Throttles", *args, "--statistics", "Sum")
    assert sum(p["Sum"] for p in thr["Datapoints"]) == 3
    data = cli.json("cloudwatch", "get-metric-data", "--start-time", start.strftime("%Y-%m-%dT%H:%M:%S"),
                    "--end-time", end.strftime("%Y-%m-%dT%H:%M:%S"), "--metric-data-queries", json.dumps([
                        {"Id": "t", "MetricStat": {"Metric": {"Namespace": "AWS/Lambda", "MetricName": "Throttles",
                                                              "Dimensions": [{"Name": "FunctionName", "Value": name}]},
                                                   "Period": 60, "Stat": "Sum"}}]))
    result = data["MetricDataResults"][0]
    assert result["Id"] == "t" and result["StatusCode"] == "Complete" and sum(result["Values"]) == 3


def test_cloudwatch_errors_are_typed(server, fresh_account):
    acct, lam, cw = account_clients(server, fresh_account)
    start, end = window()
    with pytest.raises(ClientError) as e:
        cw.get_metric_statistics(Namespace="AWS/Lambda", MetricName="Invocations", StartTime=start, EndTime=end,
                                 Period=61, Statistics=["Sum"])
    assert e.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert "multiple of 60" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        cw.get_metric_statistics(Namespace="AWS/Lambda", MetricName="Invocations", StartTime=end, EndTime=start,
                                 Period=60, Statistics=["Sum"])
    assert e.value.response["Error"]["Code"] == "InvalidParameterValue"


def test_query_protocol_and_prometheus_page(server, fresh_account):
    acct, lam, cw = account_clients(server, fresh_account)
    name = create(lam)
    lam.invoke(FunctionName=name, Payload=b"{}")
    start, end = window()
    form = {"Action": "GetMetricStatistics", "Version": "2010-08-01", "Namespace": "AWS/Lambda",
            "MetricName": "Invocations", "Dimensions.member.1.Name": "FunctionName",
            "Dimensions.member.1.Value": name, "StartTime": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "EndTime": end.strftime("%Y-%m-%dT%H:%M:%SZ"), "Period": "60", "Statistics.member.1": "Sum"}
    req = urllib.request.Request(server.url + "/", data=urllib.parse.urlencode(form).encode(), method="POST",
                                 headers={"Content-Type": "application/x-www-form-urlencoded",
                                          "Authorization": f"AWS4-HMAC-SHA256 Credential={acct}/20260101/us-east-1/"
                                                           "monitoring/aws4_request, SignedHeaders=host, Signature=x"})
    with urllib.request.urlopen(req, timeout=10) as r:
        xml = r.read().decode()
    assert "<GetMetricStatisticsResponse" in xml and "<Sum>1</Sum>" in xml and "<Unit>Count</Unit>" in xml
    status, _, page = lt.http_get(server.url + "/metrics")
    text = page.decode() if isinstance(page, bytes) else page
    assert status == 200
    line = next(l for l in text.splitlines() if l.startswith("lamina_aws_lambda_invocations_total{")
                and f'account="{acct}"' in l and f'FunctionName="{name}"' in l)
    assert line.endswith(" 1")
    assert "# TYPE lamina_aws_lambda_duration_milliseconds summary" in text


# ---- smithy-rpc-v2-cbor ------------------------------------------------------------

CBOR_PATH = "/service/GraniteServiceVersion20100801/operation/"


class _CborOnlyCloudWatchLoader(botocore.loaders.Loader):
    """botocore's loader, except that CloudWatch's model offers only smithy-rpc-v2-cbor:
    its real model lists [smithy-rpc-v2-cbor, json, query] and botocore 1.43 prefers json."""

    def load_service_model(self, service_name, type_name, api_version=None):
        model = super().load_service_model(service_name, type_name, api_version)
        if service_name == "cloudwatch" and type_name == "service-2":
            model = copy.deepcopy(model)  # the loader caches the original
            model["metadata"]["protocols"] = ["smithy-rpc-v2-cbor"]
            model["metadata"]["protocol"] = "smithy-rpc-v2-cbor"
        return model


def cbor_cloudwatch(server, key):
    """A boto3 cloudwatch client that speaks smithy-rpc-v2-cbor; `client.wire` records each
    request's path and headers and each response's headers, to prove what went over the wire."""
    session = botocore.session.get_session()
    session.register_component("data_loader", _CborOnlyCloudWatchLoader())
    cw = boto3.session.Session(botocore_session=session).client(
        "cloudwatch", endpoint_url=server.url, region_name=lt.REGION, aws_access_key_id=key,
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=30,
                      proxies={}))
    assert cw.meta.service_model.resolved_protocol == "smithy-rpc-v2-cbor"
    wire = []

    def before_send(request, **_):
        wire.append({"path": urllib.parse.urlsplit(request.url).path, "request": dict(request.headers),
                     "body": request.body})

    def after_call(http_response, **_):
        wire[-1]["response"] = {k.lower(): v for k, v in http_response.headers.items()}
        wire[-1]["status"] = http_response.status_code

    cw.meta.events.register("before-send.cloudwatch", before_send)
    cw.meta.events.register("after-call.cloudwatch", after_call)
    cw.wire = wire
    return cw


def assert_went_as_cbor(call, op, status=200):
    assert call["path"] == CBOR_PATH + op
    headers = {k.lower(): (v.decode() if isinstance(v, bytes) else v) for k, v in call["request"].items()}
    assert headers["smithy-protocol"] == "rpc-v2-cbor" and headers["accept"] == "application/cbor"
    assert "x-amz-target" not in headers
    if call["body"]:
        assert headers["content-type"] == "application/cbor"
    assert call["status"] == status
    assert call["response"]["content-type"] == "application/cbor"
    assert call["response"]["smithy-protocol"] == "rpc-v2-cbor"


def test_cbor_protocol_reads_the_same_metrics(server, fresh_account):
    acct, lam = fresh_account
    cw = cbor_cloudwatch(server, acct)
    name = create(lam)
    for payload in (b"{}", b"{}", b'{"fail": true}'):
        lam.invoke(FunctionName=name, Payload=payload)
    fn = [{"Name": "FunctionName", "Value": name}]
    start, end = window()

    out = cw.get_metric_statistics(Namespace="AWS/Lambda", MetricName="Invocations", Dimensions=fn,
                                   StartTime=start, EndTime=end, Period=60, Statistics=["Sum", "SampleCount"])
    assert_went_as_cbor(cw.wire[-1], "GetMetricStatistics")
    assert cw.wire[-1]["body"][:1] == b"\xa7"  # a map of the 7 members given
    assert out["Label"] == "Invocations"
    points = out["Datapoints"]
    assert sum(p["Sum"] for p in points) == 3 and sum(p["SampleCount"] for p in points) == 3
    # Timestamp came as CBOR tag 1, which botocore turns into a datetime
    assert all(isinstance(p["Timestamp"], datetime) and start - timedelta(minutes=1) <= p["Timestamp"] <= end
               for p in points)
    assert all(p["Unit"] == "Count" for p in points)
    errors = cw.get_metric_statistics(Namespace="AWS/Lambda", MetricName="Errors", Dimensions=fn, StartTime=start,
                                      EndTime=end, Period=300, Statistics=["Sum"])["Datapoints"]
    assert sum(p["Sum"] for p in errors) == 1

    data = cw.get_metric_data(StartTime=start, EndTime=end, ScanBy="TimestampAscending", MetricDataQueries=[
        {"Id": "inv", "MetricStat": {"Metric": {"Namespace": "AWS/Lambda", "MetricName": "Invocations",
                                                "Dimensions": fn}, "Period": 60, "Stat": "Sum"}},
        {"Id": "err", "Label": "failures", "MetricStat": {"Metric": {"Namespace": "AWS/Lambda",
                                                                     "MetricName": "Errors", "Dimensions": fn},
                                                          "Period": 60, "Stat": "Sum"}},
        {"Id": "hidden", "ReturnData": False, "MetricStat": {"Metric": {"Namespace": "AWS/Lambda",
                                                                        "MetricName": "Errors"},
                                                             "Period": 60, "Stat": "Sum"}}])
    assert_went_as_cbor(cw.wire[-1], "GetMetricData")
    results = {r["Id"]: r for r in data["MetricDataResults"]}
    assert set(results) == {"inv", "err"}
    assert results["inv"]["Label"] == "Invocations" and results["err"]["Label"] == "failures"
    assert sum(results["inv"]["Values"]) == 3 and sum(results["err"]["Values"]) == 1
    assert all(r["StatusCode"] == "Complete" for r in results.values())
    stamps = results["inv"]["Timestamps"]
    assert stamps and all(isinstance(t, datetime) for t in stamps) and stamps == sorted(stamps)
    assert len(stamps) == len(results["inv"]["Values"])
    assert data["Messages"] == []

    listed = cw.list_metrics(Namespace="AWS/Lambda", Dimensions=[{"Name": "FunctionName", "Value": name}])
    assert_went_as_cbor(cw.wire[-1], "ListMetrics")
    names = {m["MetricName"] for m in listed["Metrics"]}
    assert {"Invocations", "Errors", "Duration"} <= names
    assert all(m["Namespace"] == "AWS/Lambda" and {"Name": "FunctionName", "Value": name} in m["Dimensions"]
               for m in listed["Metrics"])
    # no arguments at all: the account's every series, this fresh account's only
    everything = cw.list_metrics()["Metrics"]
    assert_went_as_cbor(cw.wire[-1], "ListMetrics")
    assert {m["MetricName"] for m in everything} >= names
    # the same numbers as awsJson 1.0 gives
    assert total(server.client("cloudwatch", key=acct), "Invocations", fn) == 3


def test_cbor_protocol_errors_are_typed(server, fresh_account):
    acct, lam = fresh_account
    cw = cbor_cloudwatch(server, acct)
    start, end = window()
    with pytest.raises(cw.exceptions.InvalidParameterValueException) as e:
        cw.get_metric_statistics(Namespace="AWS/Lambda", MetricName="Invocations", StartTime=start, EndTime=end,
                                 Period=61, Statistics=["Sum"])
    assert_went_as_cbor(cw.wire[-1], "GetMetricStatistics", status=400)
    assert cw.wire[-1]["response"]["x-amzn-query-error"] == "InvalidParameterValue;Sender"
    err = e.value.response["Error"]
    assert err["Code"] == "InvalidParameterValue" and "multiple of 60" in err["Message"]
    assert err["Type"] == "Sender"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as e:
        cw.get_metric_data(StartTime=end, EndTime=start, MetricDataQueries=[
            {"Id": "m", "MetricStat": {"Metric": {"Namespace": "AWS/Lambda", "MetricName": "Invocations"},
                                       "Period": 60, "Stat": "Sum"}}])
    assert e.value.response["Error"]["Code"] == "InvalidParameterValue"
    with pytest.raises(ClientError) as e:
        cw.get_metric_data(StartTime=start, EndTime=end, MetricDataQueries=[
            {"Id": "m", "MetricStat": {"Metric": {"Namespace": "AWS/Lambda", "MetricName": "Invocations"},
                                       "Period": 60, "Stat": "p99"}}])
    assert e.value.response["Error"]["Code"] == "InvalidParameterValue" and "p99" in e.value.response["Error"]["Message"]


def test_cbor_protocol_rejects_bad_bodies_and_unknown_operations(server, fresh_account):
    """Raw requests a client library would not send: the answer is still a CBOR error."""
    acct, _ = fresh_account
    auth = (f"AWS4-HMAC-SHA256 Credential={acct}/20260101/us-east-1/monitoring/aws4_request, "
            "SignedHeaders=host, Signature=x")

    def post(op, body):
        req = urllib.request.Request(server.url + CBOR_PATH + op, data=body, method="POST",
                                     headers={"Content-Type": "application/cbor", "Accept": "application/cbor",
                                              "smithy-protocol": "rpc-v2-cbor", "Authorization": auth})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
        except urllib.error.HTTPError as err:
            return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()

    for body in (b"\xa2\x61", b"\x83\x01\x02\x03", b"\x9f" * 100000, b"\xbb\xff\xff\xff\xff\xff\xff\xff\xff"):
        status, headers, payload = post("ListMetrics", body)
        assert status == 400 and headers["content-type"] == "application/cbor", body[:8]
        assert headers["x-amzn-query-error"] == "InvalidParameterValue;Sender"
        assert b"com.amazonaws.cloudwatch#InvalidParameterValueException" in payload
    status, headers, payload = post("PutMetricData", b"\xa0")
    assert status == 400 and headers["x-amzn-query-error"] == "InvalidAction;Sender"
    assert b"PutMetricData is not supported" in payload
    # an empty body is an empty request
    status, headers, payload = post("ListMetrics", b"")
    assert status == 200 and headers["content-type"] == "application/cbor"
    assert payload == b"\xa1\x67Metrics\x80"


def test_function_url_requests_count_by_status_class(server, fresh_account):
    """UrlRequestCount, Url4xxCount, Url5xxCount (Sum) and UrlRequestLatency, under FunctionName and
    FunctionName + Resource ("name:$LATEST" for the function's own URL, "name:alias" for an alias's),
    besides the Invocations and Errors of the requests that reached the function."""
    acct, lam, cw = account_clients(server, fresh_account)
    name = create(lam, "def handler(e, c):\n    if (e.get('queryStringParameters') or {}).get('fail'):\n"
                       "        raise ValueError('x')\n    return 1\n")
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    public = lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    iam = lam.create_function_url_config(FunctionName=name, Qualifier="live", AuthType="AWS_IAM")["FunctionUrl"]
    lam.add_permission(FunctionName=name, StatementId="public", Action="lambda:InvokeFunctionUrl", Principal="*",
                       FunctionUrlAuthType="NONE")

    def call(url, path="/"):
        host = url.split("//", 1)[1].rstrip("/")
        return lt.http_request(f"http://127.0.0.1:{server.port}{path}", headers={"Host": host})[0]

    statuses = [call(public) for _ in range(3)]
    statuses.append(call(public, "/?fail=1"))  # a function error: 502
    statuses += [call(iam) for _ in range(2)]  # unsigned, to an AWS_IAM URL: 403
    assert statuses == [200, 200, 200, 502, 403, 403]

    fn = [{"Name": "FunctionName", "Value": name}]
    own = fn + [{"Name": "Resource", "Value": f"{name}:$LATEST"}]
    alias = fn + [{"Name": "Resource", "Value": f"{name}:live"}]
    assert [total(cw, m, fn) for m in ("UrlRequestCount", "Url4xxCount", "Url5xxCount")] == [6, 2, 1]
    assert [total(cw, m, own) for m in ("UrlRequestCount", "Url4xxCount", "Url5xxCount")] == [4, 0, 1]
    assert [total(cw, m, alias) for m in ("UrlRequestCount", "Url4xxCount", "Url5xxCount")] == [2, 2, 0]
    # the invoker's own metrics: only the requests that reached the function
    assert total(cw, "Invocations", fn) == 4
    assert total(cw, "Errors", fn) == 1
    start, end = window()
    lat = cw.get_metric_statistics(Namespace="AWS/Lambda", MetricName="UrlRequestLatency", Dimensions=fn,
                                   StartTime=start, EndTime=end, Period=300,
                                   Statistics=["SampleCount", "Average", "Maximum"])["Datapoints"]
    assert sum(p["SampleCount"] for p in lat) == 6 and all(p["Unit"] == "Milliseconds" for p in lat)
    assert all(p["Maximum"] >= p["Average"] > 0 for p in lat)
    # GetMetricData, as dashboards read it
    data = cw.get_metric_data(StartTime=start, EndTime=end, MetricDataQueries=[{
        "Id": "req", "MetricStat": {"Metric": {"Namespace": "AWS/Lambda", "MetricName": "UrlRequestCount",
                                               "Dimensions": alias}, "Period": 300, "Stat": "Sum"}}])
    assert sum(data["MetricDataResults"][0]["Values"]) == 2
