#!/usr/bin/env python3
"""Concurrency benchmark for lamina (numbers printed; it exits non-zero only
when an answer is wrong, since then the numbers mean nothing):

- 1,000 concurrent sync invokes against an account limit of 100: every
  answer must be a success that echoes its own request (no lost or mixed-up
  response) or a 429 TooManyRequestsException;
- async throughput: 10,000 Event invokes queued as fast as 8 clients can
  send them, then the time until the function has run every one.

The cost of one admission decision is bench/admission.cpp
(cmake --build build --target bench_admission && build/bench_admission).

    python3 bench/concurrency.py [--bin build/lamina] [--sync 1000] [--events 10000]
"""
import argparse
import base64
import http.client
import io
import json
import os
import socket
import sys
import tempfile
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor

from benchlib import DEFAULT_BIN, lamina_process, pct

ROLE = "arn:aws:iam::123456789012:role/bench"
ECHO = "import time\ndef handler(e, c):\n    time.sleep(e.get('sleep', 0))\n    return {'id': e['id']}\n"
COUNTER = "def handler(e, c):\n    print('EVENT', e['id'])\n    return 1\n"


def zip_b64(source):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        info = zipfile.ZipInfo("handler.py")
        info.external_attr = 0o100644 << 16  # readable by the sandbox user
        z.writestr(info, source)
    return base64.b64encode(buf.getvalue()).decode()


def call(port, method, path, body=None, headers=None, timeout=120):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        c.close()


def create(port, name, source, **extra):
    status, _, body = call(port, "POST", "/2015-03-31/functions", json.dumps({
        "FunctionName": name, "Runtime": "python3.12", "Role": ROLE, "Handler": "handler.handler",
        "Timeout": 60, "Code": {"ZipFile": zip_b64(source)}, **extra}))
    assert status == 201, body


def sync_burst(port, n, sleep):
    create(port, "burst", ECHO)

    def one(i):
        t = time.perf_counter()
        try:
            status, headers, body = call(port, "POST", "/2015-03-31/functions/burst/invocations",
                                         json.dumps({"id": i, "sleep": sleep}))
        except OSError as e:
            return ("lost", repr(e), time.perf_counter() - t)
        if status == 200:
            got = json.loads(body)
            return ("ok" if got == {"id": i} else "mixed-up", got, time.perf_counter() - t)
        if status == 429 and headers.get("x-amzn-ErrorType") == "TooManyRequestsException":
            return ("throttled", json.loads(body).get("Reason"), time.perf_counter() - t)
        return ("wrong", (status, body[:200]), time.perf_counter() - t)

    start = time.perf_counter()
    with ThreadPoolExecutor(n) as pool:
        results = list(pool.map(one, range(n)))
    wall = time.perf_counter() - start
    kinds = {}
    for kind, _, _ in results:
        kinds[kind] = kinds.get(kind, 0) + 1
    ok_lat = [r[2] * 1000 for r in results if r[0] == "ok"]
    thr_lat = [r[2] * 1000 for r in results if r[0] == "throttled"]
    reasons = sorted({r[1] for r in results if r[0] == "throttled"})
    print(f"sync burst: {n} concurrent invokes ({sleep:.1f} s each) against a limit of 100, {wall:.2f} s wall")
    print(f"  answers: {kinds}; throttle reasons: {reasons}")
    if ok_lat:
        print(f"  success latency p50 {pct(ok_lat, 50):.0f} ms, p99 {pct(ok_lat, 99):.0f} ms")
    if thr_lat:
        print(f"  429 latency p50 {pct(thr_lat, 50):.1f} ms, p99 {pct(thr_lat, 99):.1f} ms")
    bad = {k: v for k, v in kinds.items() if k not in ("ok", "throttled")}
    return bad


class EventCounter:
    """The distinct event ids the function printed (`EVENT <id>`), read from the log stream
    files lamina writes under the data dir; each call reads only what was appended since."""

    def __init__(self, data_dir, function):
        self.logs = os.path.join(data_dir, "logs", "123456789012", "us-east-1", "aws", "lambda", function)
        self.offsets = {}
        self.partial = {}
        self.ids = set()
        self.lines = 0

    def count(self):
        if os.path.isdir(self.logs):
            for name in os.listdir(self.logs):
                path = os.path.join(self.logs, name)
                with open(path, "rb") as fh:
                    fh.seek(self.offsets.get(path, 0))
                    chunk = self.partial.get(path, b"") + fh.read()
                    self.offsets[path] = fh.tell()
                cut = chunk.rfind(b"\n") + 1
                self.partial[path] = chunk[cut:]
                for line in chunk[:cut].splitlines():
                    at = line.find(b"EVENT ")
                    if at >= 0:
                        self.lines += 1
                        self.ids.add(int(line[at + 6:].split()[0]))
        return len(self.ids)


def async_throughput(port, n, data_dir, senders=8, drain_timeout=600):
    """Queues n Event invokes from `senders` keep-alive connections, then waits until the
    function has printed every id. Returns the wrong answers (lost events, refusals) and the
    figures (queued_s, drained_s, ran, duplicates)."""
    create(port, "events", COUNTER)
    request = ("POST /2015-03-31/functions/events/invocations HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               "X-Amz-Invocation-Type: Event\r\nContent-Length: {}\r\n\r\n{}")
    counter = iter(range(n))
    lock = threading.Lock()
    refused = []

    def sender():
        s = socket.create_connection(("127.0.0.1", port))
        f = s.makefile("rb")
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            body = json.dumps({"id": i})
            s.sendall(request.format(len(body), body).encode())
            status = f.readline()
            length = 0
            while True:
                line = f.readline()
                if line in (b"\r\n", b""):
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            f.read(length)
            if b" 202 " not in status:
                refused.append(status)
        s.close()

    start = time.perf_counter()
    threads = [threading.Thread(target=sender) for _ in range(senders)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    queued = time.perf_counter() - start
    events = EventCounter(data_dir, "events")
    deadline = time.perf_counter() + drain_timeout
    while events.count() < n - len(refused) and time.perf_counter() < deadline:
        time.sleep(0.5)
    done = time.perf_counter() - start
    count = events.count()
    duplicates = events.lines - count
    print(f"async: {n} Event invokes accepted in {queued:.2f} s ({n / queued:.0f}/s), "
          f"all run after {done:.2f} s ({count / done:.0f}/s); ran {count} distinct "
          f"({duplicates} more than once), refused {len(refused)}")
    bad = {}
    if count < n - len(refused):
        bad["lost events"] = n - len(refused) - count
    if refused:
        bad["refused"] = len(refused)
    return bad, {"queued_s": queued, "done_s": done, "ran": count, "duplicates": duplicates}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=DEFAULT_BIN)
    ap.add_argument("--sync", type=int, default=1000)
    ap.add_argument("--sleep", type=float, default=1.0)
    ap.add_argument("--events", type=int, default=10000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="lamina-conc-") as tmp:
        flags = ["--account-concurrency", "100", "--min-unreserved", "10", "--scaling-rate", "1000"]
        with lamina_process(args.bin, *flags, data_dir=tmp) as (_, port):
            bad = sync_burst(port, args.sync, args.sleep)
            bad.update(async_throughput(port, args.events, tmp)[0])
    if bad:
        print(f"WRONG ANSWERS: {bad}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
