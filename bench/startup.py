#!/usr/bin/env python3
"""Start-up benchmark for lamina (numbers printed, nothing asserted).

Measures, on loopback, wall time from spawning the binary to the first
`GET /health` answered 200:
  - `lamina serve --data-dir <new empty folder> --port 0`   (target <= 15 ms)
  - `lamina serve --ephemeral --port 0`                       (the same, temporary)
  - `lamina serve --data-dir <folder holding 10,000 functions>` (target <= 200 ms)
and the whole of `lamina run -- true` (target <= 100 ms), with the floor of
spawning `/usr/bin/true` from the same Python process for reference. The
ready time is taken when /health answers, polled every 0.2 ms once the
server printed its port (`--port 0` prints it when the socket listens).

    python3 bench/startup.py [--bin build/lamina] [--runs 20] [--functions 10000]
"""
import argparse
import base64
import http.client
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile

from benchlib import DEFAULT_BIN, stop

ROLE = "arn:aws:iam::123456789012:role/bench"


def load():
    return "%.2f %.2f %.2f" % os.getloadavg()


def health_ok(port):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        c.request("GET", "/health")
        ok = c.getresponse().status == 200
        c.close()
        return ok
    except OSError:
        return False


def serve_until_ready(binary, where, timeout=30.0):
    """Spawns `lamina serve`, returns (ms to a 200 from /health, the Popen, the port)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([binary, "serve", *where, "--port", "0", "--log-level", "warn"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    if not line.strip():
        proc.kill()
        proc.wait()
        raise RuntimeError("lamina did not print its port")
    port = int(line)
    while not health_ok(port):
        if time.perf_counter() - t0 > timeout:
            proc.kill()
            proc.wait()
            raise RuntimeError("no /health within %.0f s" % timeout)
        time.sleep(0.0002)
    return (time.perf_counter() - t0) * 1000.0, proc, port


def summary(name, values, target=None):
    line = "%-46s p50 %8.1f ms  min %8.1f  max %8.1f  (n=%d)" % (
        name, statistics.median(values), min(values), max(values), len(values))
    if target:
        line += "  target <= %g ms: ratio %.2f" % (target, statistics.median(values) / target)
    print(line, flush=True)


def small_zip():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("handler.py", "def handler(event, context):\n    return {'ok': True}\n")
    return base64.b64encode(buf.getvalue()).decode()


def populate(port, count):
    code = small_zip()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for i in range(count):
        body = json.dumps({"FunctionName": "f%05d" % i, "Runtime": "python3.12", "Role": ROLE,
                           "Handler": "handler.handler", "Code": {"ZipFile": code}})
        conn.request("POST", "/2015-03-31/functions", body=body,
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        if r.status != 201:
            raise RuntimeError("CreateFunction %d: HTTP %d" % (i, r.status))
    conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=DEFAULT_BIN)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--functions", type=int, default=10000)
    args = ap.parse_args()
    binary = os.path.abspath(args.bin)
    work = tempfile.mkdtemp(prefix="lamina-bench-startup-")
    print("lamina start-up, %s, %d runs each, load %s" % (binary, args.runs, load()), flush=True)
    try:
        floor = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            subprocess.run(["/usr/bin/true"], check=True)
            floor.append((time.perf_counter() - t0) * 1000.0)
        summary("floor: spawn /usr/bin/true", floor)

        empty = []
        for i in range(args.runs):
            d = os.path.join(work, "empty-%d" % i)
            ms, proc, _ = serve_until_ready(binary, ["--data-dir", d])
            empty.append(ms)
            stop(proc)
            shutil.rmtree(d, ignore_errors=True)
        summary("serve, empty data dir -> /health", empty, 15)

        eph = []
        for _ in range(args.runs):
            ms, proc, _ = serve_until_ready(binary, ["--ephemeral"])
            eph.append(ms)
            stop(proc)
        summary("serve --ephemeral -> /health", eph)

        run = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            rc = subprocess.run([binary, "run", "--log-level", "warn", "--", "true"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
            run.append((time.perf_counter() - t0) * 1000.0)
            if rc != 0:
                raise RuntimeError("lamina run -- true exited %d" % rc)
        summary("lamina run -- true (whole command)", run, 100)

        if args.functions:
            d = os.path.join(work, "many")
            _, proc, port = serve_until_ready(binary, ["--data-dir", d])
            t0 = time.perf_counter()
            populate(port, args.functions)
            print("  (created %d functions in %.1f s)" % (args.functions, time.perf_counter() - t0),
                  flush=True)
            stop(proc)
            many = []
            for _ in range(max(3, args.runs // 2)):
                ms, proc, port = serve_until_ready(binary, ["--data-dir", d])
                many.append(ms)
                stop(proc)
            summary("serve, %d functions -> /health" % args.functions, many, 200)
        print("load after: %s" % load())
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
