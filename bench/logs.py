#!/usr/bin/env python3
"""CloudWatch Logs reads over a large store (numbers printed, nothing asserted).

Starts `lamina serve --ephemeral --port 0` on loopback (stopped by its PID at the end),
fills it through PutLogEvents (batches of 10,000 events) with
  * group A: 1,000,000 events in 100 streams, one in 10,000 holding the term "needle";
  * group B: one stream of 1,000,000 events,
then measures over one keep-alive http.client connection (awsJson 1.1):
  * FilterLogEvents on group A with the selective term (100 matches): p50/p99;
  * FilterLogEvents on group A with a common term, limit 100 (the first page): p50/p99;
  * GetLogEvents of the newest 100 events of group B's stream: p50/p99;
each as the client saw it and as the server timed it (Server-Timing). Prints the load.

    python3 bench/logs.py [--bin build/lamina] [--events 1000000] [--n 50]
"""
import argparse
import http.client
import json
import os
import random
import time

from benchlib import DEFAULT_BIN, lamina_process, pct


class Conn:
    def __init__(self, port):
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=300)

    def call(self, op, body):
        data = json.dumps(body).encode()
        headers = {"X-Amz-Target": f"Logs_20140328.{op}", "Content-Type": "application/x-amz-json-1.1",
                   "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/logs/aws4_request, "
                                    "SignedHeaders=host, Signature=0"}
        t = time.perf_counter()
        self.c.request("POST", "/", body=data, headers=headers)
        r = self.c.getresponse()
        payload = r.read()
        took = time.perf_counter() - t
        if r.status != 200:
            raise RuntimeError(f"{op}: {r.status} {payload[:300]!r}")
        server = float(r.getheader("Server-Timing", "app;dur=0").split("dur=")[1]) / 1000
        return took, server, json.loads(payload)


def fill(conn, group, streams, per_stream, needle_every=0):
    conn.call("CreateLogGroup", {"logGroupName": group})
    base = int(time.time() * 1000) - 3_600_000
    rnd = random.Random(7)
    n = 0
    t = time.perf_counter()
    for s in range(streams):
        stream = f"stream-{s:03d}"
        conn.call("CreateLogStream", {"logGroupName": group, "logStreamName": stream})
        for start in range(0, per_stream, 10_000):
            events = []
            for i in range(start, min(per_stream, start + 10_000)):
                n += 1
                term = " needle" if needle_every and n % needle_every == 0 else ""
                events.append({"timestamp": base + i // 4,
                               "message": f"req {n} user{rnd.randrange(1000)} GET /api/v1/items/{rnd.randrange(10**6)}"
                                          f" status {200 if rnd.random() < 0.99 else 500} took {rnd.randrange(900)} ms{term}"})
            conn.call("PutLogEvents", {"logGroupName": group, "logStreamName": stream, "logEvents": events})
    return n, time.perf_counter() - t


def measure(conn, n, op, body):
    client, server = [], []
    last = None
    for _ in range(n):
        c, s, last = conn.call(op, body)
        client.append(c * 1000)
        server.append(s * 1000)
    return client, server, last


def show(label, client, server, extra=""):
    print(f"{label:<52} client p50 {pct(client, 50):8.2f} ms  p99 {pct(client, 99):8.2f} ms   "
          f"server p50 {pct(server, 50):8.2f} ms  p99 {pct(server, 99):8.2f} ms  {extra}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=DEFAULT_BIN)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--n", type=int, default=50)
    a = ap.parse_args()
    print(f"host: {os.cpu_count()} CPUs, load average before {os.getloadavg()}")
    with lamina_process(a.bin) as (proc, port):
        conn = Conn(port)
        n, took = fill(conn, "/bench/many", 100, a.events // 100, needle_every=10_000)
        print(f"filled /bench/many: {n} events in 100 streams in {took:.1f} s ({n / took:,.0f} events/s)")
        n, took = fill(conn, "/bench/one", 1, a.events)
        print(f"filled /bench/one: {n} events in 1 stream in {took:.1f} s ({n / took:,.0f} events/s)")
        client, server, last = measure(conn, a.n, "FilterLogEvents",
                                       {"logGroupName": "/bench/many", "filterPattern": "needle"})
        show("FilterLogEvents 'needle' over 1M events/100 streams", client, server,
             f"({len(last['events'])} events)")
        client, server, last = measure(conn, a.n, "FilterLogEvents",
                                       {"logGroupName": "/bench/many", "filterPattern": "status 500", "limit": 100})
        show("FilterLogEvents 'status 500' limit 100 (first page)", client, server,
             f"({len(last['events'])} events)")
        client, server, last = measure(conn, a.n * 4, "GetLogEvents",
                                       {"logGroupName": "/bench/one", "logStreamName": "stream-000", "limit": 100})
        show("GetLogEvents newest 100 of a 1M-event stream", client, server, f"({len(last['events'])} events)")
        print(f"lamina pid {proc.pid}; load average after {os.getloadavg()}")


if __name__ == "__main__":
    main()
