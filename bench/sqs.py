#!/usr/bin/env python3
"""SQS latency: lamina against moto's SQS, side by side (numbers printed, nothing asserted).

Starts `lamina serve --ephemeral --port 0` and `python3 -m moto.server` on free loopback
ports (each stopped by its PID at the end), then measures on one queue per server, for
SendMessage, ReceiveMessage and DeleteMessage:
  * boto3: the client-observed latency of each call (botocore's own cost included);
  * raw: the same awsJson 1.0 requests over one keep-alive http.client connection, which
    leaves out botocore's cost and shows the servers' own difference.
Prints p50/p99 per server and the ratio moto/lamina of the p50s.

    python3 bench/sqs.py [--bin build/lamina] [--n 500]
"""
import argparse
import http.client
import json
import os
import time

import boto3
from botocore.config import Config

from benchlib import DEFAULT_BIN, lamina_process, moto_server, pct

OPS = ("SendMessage", "ReceiveMessage", "DeleteMessage")


def client(port):
    return boto3.session.Session().client(
        "sqs", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}, proxies={}))


def timed(fn):
    t0 = time.perf_counter()
    r = fn()
    return (time.perf_counter() - t0) * 1000, r


def bench_boto3(port, n):
    sqs = client(port)
    url = sqs.create_queue(QueueName=f"bench-{os.getpid()}")["QueueUrl"]
    out = {op: [] for op in OPS}
    attrs = {"k": {"DataType": "String", "StringValue": "v"}}
    for i in range(n + 20):
        ms_send, _ = timed(lambda: sqs.send_message(QueueUrl=url, MessageBody=f"message {i}", MessageAttributes=attrs))
        ms_recv, r = timed(lambda: sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"]))
        handle = r["Messages"][0]["ReceiptHandle"]
        ms_del, _ = timed(lambda: sqs.delete_message(QueueUrl=url, ReceiptHandle=handle))
        if i >= 20:  # warm-up left out
            out["SendMessage"].append(ms_send)
            out["ReceiveMessage"].append(ms_recv)
            out["DeleteMessage"].append(ms_del)
    return out


class Raw:
    """awsJson 1.0 over one keep-alive connection (unsigned: both servers accept it)."""

    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(self, op, body):
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": f"AmazonSQS.{op}",
                   "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sqs/aws4_request, "
                                    "SignedHeaders=host, Signature=0"}
        t0 = time.perf_counter()
        self.conn.request("POST", "/", body=data, headers=headers)
        resp = self.conn.getresponse()
        payload = resp.read()
        ms = (time.perf_counter() - t0) * 1000
        if resp.status != 200:
            raise RuntimeError(f"{op}: {resp.status} {payload[:300]!r}")
        return ms, json.loads(payload or b"{}")


def bench_raw(port, n):
    raw = Raw(port)
    _, r = raw.call("CreateQueue", {"QueueName": f"raw-{os.getpid()}"})
    url = r["QueueUrl"]
    out = {op: [] for op in OPS}
    for i in range(n + 20):
        ms_send, _ = raw.call("SendMessage", {"QueueUrl": url, "MessageBody": f"message {i}"})
        ms_recv, r = raw.call("ReceiveMessage", {"QueueUrl": url})
        ms_del, _ = raw.call("DeleteMessage", {"QueueUrl": url, "ReceiptHandle": r["Messages"][0]["ReceiptHandle"]})
        if i >= 20:
            out["SendMessage"].append(ms_send)
            out["ReceiveMessage"].append(ms_recv)
            out["DeleteMessage"].append(ms_del)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=DEFAULT_BIN)
    ap.add_argument("--n", type=int, default=500)
    args = ap.parse_args()
    print(f"load: {open('/proc/loadavg').read().strip()}   n={args.n} per operation")
    results = {}
    with lamina_process(args.bin, "--host", "127.0.0.1") as (_, lport), moto_server() as mport:
        for kind, fn in (("boto3", bench_boto3), ("raw", bench_raw)):
            results[(kind, "lamina")] = fn(lport, args.n)
            results[(kind, "moto")] = fn(mport, args.n)
    for kind in ("boto3", "raw"):
        print(f"\n{kind}: client-observed ms")
        print(f"{'operation':<16}{'lamina p50':>12}{'lamina p99':>12}{'moto p50':>12}{'moto p99':>12}{'ratio p50':>11}")
        for op in OPS:
            lv, mv = results[(kind, "lamina")][op], results[(kind, "moto")][op]
            l50, l99, m50, m99 = pct(lv, 50), pct(lv, 99), pct(mv, 50), pct(mv, 99)
            print(f"{op:<16}{l50:>12.3f}{l99:>12.3f}{m50:>12.3f}{m99:>12.3f}{m50 / l50:>10.1f}x")
    print(f"\nload: {open('/proc/loadavg').read().strip()}")


if __name__ == "__main__":
    main()
