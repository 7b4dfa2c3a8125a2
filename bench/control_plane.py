#!/usr/bin/env python3
"""Control-plane latency benchmark for lamina (numbers printed, nothing asserted).

Starts `lamina serve --ephemeral --port 0` (release build by default), then
measures on loopback, for each operation, the client-observed latency with a
raw keep-alive HTTP client and with boto3, plus the server-side time from the
Server-Timing header. Prints p50/p99 and the ratio of server p50 to target.

    python3 bench/control_plane.py [--bin build/lamina] [--n 300]
"""
import argparse
import base64
import http.client
import io
import json
import os
import statistics
import sys

from benchlib import DEFAULT_BIN, lamina, pct
import time
import uuid
import zipfile

TARGETS_MS = {  # server-side p50 targets from the foundation issue
    "GetFunction": 0.3,
    "PublishVersion": 0.3,
    "CreateAlias": 0.3,
    "CreateFunction 1KB": 0.3,
    "CreateFunction 20MB": 80.0,
    "ListFunctions page of 10k": 2.0,
}


def make_zip(size):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("handler.py", "def handler(e, c):\n    return e\n")
        if size > 200:
            z.writestr("pad.bin", os.urandom(size))
    return buf.getvalue()




class Raw:
    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data else {}
        t0 = time.perf_counter()
        self.conn.request(method, path, body=data, headers=headers)
        resp = self.conn.getresponse()
        payload = resp.read()
        elapsed = (time.perf_counter() - t0) * 1000
        timing = resp.getheader("Server-Timing", "app;dur=nan")
        server = float(timing.split("dur=")[1])
        if resp.status >= 300:
            raise RuntimeError(f"{method} {path}: {resp.status} {payload[:300]!r}")
        return elapsed, server, payload


def create_body(name, zip_bytes):
    return {"FunctionName": name, "Runtime": "python3.12", "Handler": "handler.handler",
            "Role": "arn:aws:iam::123456789012:role/bench", "Code": {"ZipFile": base64.b64encode(zip_bytes).decode()}}


def report(rows):
    print(f"{'operation':<28}{'client':>8}{'p50 ms':>10}{'p99 ms':>10}{'server p50':>12}{'server p99':>12}{'target':>9}{'ratio':>8}")
    for name, client, lat, srv in rows:
        target = TARGETS_MS.get(name)
        s50 = pct(srv, 50) if srv else float("nan")
        ratio = f"{s50 / target:.2f}" if target and srv else "-"
        print(f"{name:<28}{client:>8}{pct(lat, 50):>10.3f}{pct(lat, 99):>10.3f}"
              f"{s50:>12.3f}{(pct(srv, 99) if srv else float('nan')):>12.3f}"
              f"{(target if target else float('nan')):>9.1f}{ratio:>8}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=DEFAULT_BIN)
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--big-n", type=int, default=10)
    ap.add_argument("--functions", type=int, default=10000)
    args = ap.parse_args()

    with lamina(args.bin) as port:
        raw = Raw(port)
        rows = []
        small = make_zip(1024)
        big = make_zip(20 * 1024 * 1024)

        lat, srv = [], []
        for i in range(args.n):
            e, s, _ = raw.call("POST", "/2015-03-31/functions", create_body(f"small-{i}", small))
            lat.append(e); srv.append(s)
        rows.append(("CreateFunction 1KB", "raw", lat, srv))

        lat, srv = [], []
        for i in range(args.big_n):
            e, s, _ = raw.call("POST", "/2015-03-31/functions", create_body(f"big-{i}", make_zip(20 * 1024 * 1024) if i else big))
            lat.append(e); srv.append(s)
        rows.append(("CreateFunction 20MB", "raw", lat, srv))

        lat, srv = [], []
        for i in range(args.n):
            e, s, _ = raw.call("GET", "/2015-03-31/functions/small-7")
            lat.append(e); srv.append(s)
        rows.append(("GetFunction", "raw", lat, srv))

        lat, srv = [], []
        for i in range(args.n):
            name = f"small-{i}"
            raw.call("PUT", f"/2015-03-31/functions/{name}/configuration", {"Description": "d"})
            e, s, _ = raw.call("POST", f"/2015-03-31/functions/{name}/versions", {})
            lat.append(e); srv.append(s)
        rows.append(("PublishVersion", "raw", lat, srv))

        lat, srv = [], []
        for i in range(args.n):
            e, s, _ = raw.call("POST", f"/2015-03-31/functions/small-{i}/aliases", {"Name": "live", "FunctionVersion": "1"})
            lat.append(e); srv.append(s)
        rows.append(("CreateAlias", "raw", lat, srv))

        t0 = time.perf_counter()
        for i in range(args.n, args.functions):
            raw.call("POST", "/2015-03-31/functions", create_body(f"fill-{i:05d}", small))
        fill_s = time.perf_counter() - t0
        lat, srv = [], []
        for i in range(100):
            e, s, _ = raw.call("GET", f"/2015-03-31/functions?MaxItems=50")
            lat.append(e); srv.append(s)
        rows.append(("ListFunctions page of 10k", "raw", lat, srv))

        import boto3
        from botocore.config import Config
        client = boto3.client("lambda", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                              aws_access_key_id="bench", aws_secret_access_key="bench",
                              config=Config(retries={"max_attempts": 1}))
        timings = []

        def capture(http_response, **kwargs):
            timings.append(float(http_response.headers.get("Server-Timing", "app;dur=nan").split("dur=")[1]))

        client.meta.events.register("after-call.lambda", lambda http_response, **kw: capture(http_response))
        for label, fn in [("GetFunction", lambda i: client.get_function(FunctionName="small-7")),
                          ("CreateAlias", lambda i: client.create_alias(FunctionName=f"small-{i}", Name="b3", FunctionVersion="1")),
                          ("ListFunctions page of 10k", lambda i: client.list_functions(MaxItems=50))]:
            lat = []
            timings.clear()
            for i in range(min(args.n, 200)):
                t0 = time.perf_counter()
                fn(i)
                lat.append((time.perf_counter() - t0) * 1000)
            rows.append((label, "boto3", lat, list(timings)))

        print(f"lamina control-plane benchmark: n={args.n}, {args.functions} functions "
              f"(filled in {fill_s:.1f} s, {args.functions / fill_s:.0f} creates/s)")
        report(rows)


if __name__ == "__main__":
    sys.exit(main())
