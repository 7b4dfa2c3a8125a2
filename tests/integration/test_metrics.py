"""AWS/Lambda metrics through the CloudWatch API (the aws CLI's awsJson 1.0
and the query protocol) and the Prometheus page: the tutorial's monitoring
steps, with counts a user would check."""
import json
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
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
