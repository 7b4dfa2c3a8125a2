#!/usr/bin/env python3
"""SQS event source mapping benchmark for lamina (numbers printed, nothing asserted).

1. Throughput: N messages are put in a queue (SendMessageBatch) while the mapping is disabled;
   then it is enabled (BatchSize 10, no window) and the clock runs until the trivial Python
   function has seen every message (it logs the size of each batch) and the queue is empty.
   Target: >= 5,000 messages/s on a 2-core machine.
2. Latency: with the mapping enabled and the queue idle, one SendMessage at a time carries the
   client's wall-clock time (us) taken just before the call; the function logs its own time when
   its handler starts. p50/p99 of the difference. Target: p50 <= 5 ms.

    python3 bench/esm.py [--bin build/lamina] [--messages 20000] [--samples 200]
"""
import argparse
import io
import json
import os
import tempfile
import time
import zipfile
from pathlib import Path

import boto3
from botocore.config import Config

from benchlib import DEFAULT_BIN, lamina_process, pct

ACCOUNT = "123456789012"
HANDLER = """
import time
def handler(event, context):
    now = time.time_ns() // 1000
    records = event["Records"]
    if records[0]["body"].startswith("t:"):
        for r in records:
            print("LAT " + str(now - int(r["body"][2:])))
    else:
        print("BATCH " + str(len(records)))
    return {}
"""


def client(port, service):
    return boto3.client(service, endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test",
                        config=Config(retries={"total_max_attempts": 1}, proxies={}))


def zip_bytes(source):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        info = zipfile.ZipInfo("handler.py")
        info.external_attr = 0o100644 << 16
        z.writestr(info, source)
    return buf.getvalue()


def log_values(data, name, prefix):
    group = Path(data) / "logs" / ACCOUNT / "us-east-1" / "aws" / "lambda" / name
    out = []
    for stream in sorted(group.glob("*.log")) if group.exists() else []:
        for line in stream.read_text().splitlines():
            if line.startswith(prefix):
                out.append(int(line[len(prefix):]))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default=DEFAULT_BIN)
    ap.add_argument("--messages", type=int, default=20000)
    ap.add_argument("--samples", type=int, default=200)
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="lamina-bench-esm-") as tmp:
        data = Path(tmp) / "data"
        with lamina_process(args.bin, data_dir=data) as (_, port):
            lam, sqs = client(port, "lambda"), client(port, "sqs")
            lam.create_function(FunctionName="sink", Runtime="python3.12", Handler="handler.handler",
                                Role=f"arn:aws:iam::{ACCOUNT}:role/r", Code={"ZipFile": zip_bytes(HANDLER)})
            lam.get_waiter("function_active_v2").wait(FunctionName="sink")
            url = sqs.create_queue(QueueName="bench")["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            uuid = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="sink", BatchSize=10,
                                                   Enabled=False)["UUID"]
            lam.invoke(FunctionName="sink", Payload=json.dumps({"Records": [{"body": "warm"}]}))

            n = args.messages - args.messages % 10
            for start in range(0, n, 10):
                sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"m{start + i}"}
                                                              for i in range(10)])
            t0 = time.perf_counter()
            lam.update_event_source_mapping(UUID=uuid, Enabled=True)
            deadline = time.time() + 300
            while time.time() < deadline:
                if sum(log_values(data, "sink", "BATCH ")) >= n + 1:  # + the warm-up record
                    break
                time.sleep(0.02)
            elapsed = time.perf_counter() - t0
            seen = sum(log_values(data, "sink", "BATCH ")) - 1
            batches = len(log_values(data, "sink", "BATCH ")) - 1
            print(f"throughput: {seen} messages in {elapsed:.2f} s = {seen / elapsed:,.0f} messages/s "
                  f"({batches} batches, BatchSize 10)  target >= 5,000/s")

            for _ in range(args.samples):
                sqs.send_message(QueueUrl=url, MessageBody=f"t:{time.time_ns() // 1000}")
                time.sleep(0.01)
            while len(log_values(data, "sink", "LAT ")) < args.samples and time.time() < deadline:
                time.sleep(0.05)
            lat = [v / 1000.0 for v in log_values(data, "sink", "LAT ")]
            if lat:
                print(f"SendMessage -> handler start: p50 {pct(lat, 50):.2f} ms, p99 {pct(lat, 99):.2f} ms "
                      f"({len(lat)} messages, one at a time)  target p50 <= 5 ms")
    print(f"load at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
