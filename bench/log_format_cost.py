#!/usr/bin/env python3
"""The cost of JSON logging (LoggingConfig) on a warm invoke (numbers printed, nothing asserted).

Two copies of the same function in one lamina, one with LogFormat Text and one with LogFormat
JSON (ApplicationLogLevel INFO), each writing one `logging` record and one print() per invoke
(Python) or one console.log (Node.js). Sequential synchronous invokes over one keep-alive
connection, alternating one Text and one JSON invoke so that both see the same machine; prints p50/p99 per
format and the ratio JSON/Text of the p50s. Target: JSON within 5% of Text.

    python3 bench/log_format_cost.py [--bin build/lamina] [--n 2000]
"""
import argparse
import base64
import http.client
import io
import json
import os
import time
import zipfile

from benchlib import DEFAULT_BIN, lamina, pct

PY = """
import logging
log = logging.getLogger()
log.setLevel(logging.INFO)
def handler(event, context):
    log.info("order %s accepted", event.get("n"))
    print("plain line")
    return {"ok": True}
"""

NODE = """
exports.handler = async (event) => {
  console.log('order', event.n, 'accepted');
  return {ok: true};
};
"""


def zip_b64(name, source):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        info = zipfile.ZipInfo(name)
        info.external_attr = 0o100644 << 16
        z.writestr(info, source)
    return base64.b64encode(buf.getvalue()).decode()


def call(conn, method, path, body):
    conn.request(method, path, body=json.dumps(body), headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    out = r.read()
    if r.status >= 300:
        raise RuntimeError(f"{method} {path}: {r.status} {out[:300]!r}")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=DEFAULT_BIN)
    ap.add_argument("--n", type=int, default=2000)
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
    with lamina(args.bin) as port:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for runtime, handler, file, source in (("python3.12", "handler.handler", "handler.py", PY),
                                               ("nodejs22.x", "index.handler", "index.js", NODE)):
            names = {}
            for fmt in ("Text", "JSON"):
                name = f"log-{runtime.split('.')[0].replace('nodejs20', 'node')}-{fmt.lower()}"
                call(conn, "POST", "/2015-03-31/functions", {
                    "FunctionName": name, "Runtime": runtime, "Role": "arn:aws:iam::123456789012:role/r",
                    "Handler": handler, "MemorySize": 512, "Code": {"ZipFile": zip_b64(file, source)},
                    "LoggingConfig": {"LogFormat": fmt}})
                names[fmt] = name
            times = {"Text": [], "JSON": []}
            for fmt, name in names.items():  # warm both
                for i in range(20):
                    call(conn, "POST", f"/2015-03-31/functions/{name}/invocations", {"n": i})
            # one invoke of each in turn: both formats see the same moments of the machine
            for i in range(args.n):
                for fmt, name in names.items():
                    t = time.perf_counter()
                    call(conn, "POST", f"/2015-03-31/functions/{name}/invocations", {"n": i})
                    times[fmt].append((time.perf_counter() - t) * 1000)
            p50 = {f: pct(v, 50) for f, v in times.items()}
            print(f"{runtime}: Text p50 {p50['Text']:.3f} ms p99 {pct(times['Text'], 99):.3f} ms | "
                  f"JSON p50 {p50['JSON']:.3f} ms p99 {pct(times['JSON'], 99):.3f} ms | "
                  f"JSON/Text p50 {p50['JSON'] / p50['Text']:.3f}  (target <= 1.05; {args.n} invokes each)")
    print(f"load at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
