#!/usr/bin/env python3
"""SnapStart benchmark for lamina (numbers printed, nothing asserted).

The time from an invoke sent to the handler running in a *new* environment:
restored from a python3.12 version's snapshot, next to a cold start of the same
code on $LATEST (an on-demand init). Each round sends N invokes at once, each
holding its environment (it sleeps), so that each gets an environment of its
own; the handler returns the wall time it started at. Also printed: REPORT's
Restore Duration and Init Duration (lamina's own measure of the restore or init).

    python3 bench/snapstart.py [--bin build/lamina] [--sandbox auto|bubblewrap|process] [--n 8]
"""
import argparse
import base64
import http.client
import io
import json
import re
import threading
import time
import zipfile

from benchlib import DEFAULT_BIN, lamina, pct

TARGETS = {"restore": 10.0}  # ms, from the invoke to the handler, in a new restored environment

HANDLER = """
import json, time, random, uuid
SEED = random.random()
def handler(event, context):
    started = time.time()
    time.sleep(event.get("hold", 0))
    return {"started": started}
"""


def zip_b64():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        info = zipfile.ZipInfo("handler.py")
        info.external_attr = 0o100644 << 16
        z.writestr(info, HANDLER)
    return base64.b64encode(buf.getvalue()).decode()


def call(port, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request(method, path, body=json.dumps(body).encode() if body is not None else None,
                 headers={"Content-Type": "application/json", **(headers or {})})
    r = conn.getresponse()
    out = r.read()
    conn.close()
    return r.status, dict(r.getheaders()), out


def round_of(port, name, qualifier, n, hold):
    """n invokes at once: (ms from send to handler start, REPORT durations) of each."""
    path = f"/2015-03-31/functions/{name}/invocations" + (f"?Qualifier={qualifier}" if qualifier else "")
    out = [None] * n
    gate = threading.Barrier(n)

    def one(i):
        gate.wait()
        sent = time.time()
        status, headers, body = call(port, "POST", path, {"hold": hold}, {"X-Amz-Log-Type": "Tail"})
        if status != 200:
            raise RuntimeError(f"invoke {status}: {body[:200]!r}")
        log = base64.b64decode(headers.get("X-Amz-Log-Result", "")).decode(errors="replace")
        m = re.search(r"(Restore|Init) Duration: ([\d.]+) ms", log)
        out[i] = ((json.loads(body)["started"] - sent) * 1000, float(m.group(2)) if m else None)
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=DEFAULT_BIN)
    ap.add_argument("--sandbox", default="auto")
    ap.add_argument("--n", type=int, default=8, help="environments per round")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    with lamina(args.bin, "--sandbox", args.sandbox) as port:
        name = "snapbench"
        status, _, body = call(port, "POST", "/2015-03-31/functions", {
            "FunctionName": name, "Runtime": "python3.12", "Handler": "handler.handler",
            "Role": "arn:aws:iam::123456789012:role/r", "Timeout": 30,
            "Code": {"ZipFile": zip_b64()}, "SnapStart": {"ApplyOn": "PublishedVersions"}})
        assert status == 201, body
        status, _, body = call(port, "POST", f"/2015-03-31/functions/{name}/versions", {})
        version = json.loads(body)["Version"]
        deadline = time.monotonic() + 60
        while True:
            _, _, body = call(port, "GET", f"/2015-03-31/functions/{name}/configuration?Qualifier={version}")
            if json.loads(body)["State"] != "Pending" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        restore, restore_report, cold, init_report = [], [], [], []
        for r in range(args.rounds):
            for ms, rep in round_of(port, name, version, args.n, hold=0.5):
                restore.append(ms)
                if rep is not None:
                    restore_report.append(rep)
            for ms, rep in round_of(port, name, None, args.n, hold=0.5):
                cold.append(ms)
                if rep is not None:
                    init_report.append(rep)
            # the next round needs new environments: a new configuration and a new version
            call(port, "PUT", f"/2015-03-31/functions/{name}/configuration",
                 {"Description": f"round {r}"})
            status, _, body = call(port, "POST", f"/2015-03-31/functions/{name}/versions", {})
            version = json.loads(body)["Version"]
            deadline = time.monotonic() + 60
            while True:
                _, _, body = call(port, "GET",
                                  f"/2015-03-31/functions/{name}/configuration?Qualifier={version}")
                if json.loads(body)["State"] != "Pending" or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
    print(f"SnapStart, python3.12, {args.n} new environments per round x {args.rounds} rounds "
          f"(sandbox {args.sandbox})")
    print(f"{'':34} {'p50 ms':>8} {'p90 ms':>8} {'target':>8}")

    def row(label, values, target=None):
        if not values:
            print(f"{label:34} {'-':>8} {'-':>8}")
            return
        t = f"<= {target:g}" if target else ""
        print(f"{label:34} {pct(values, 50):8.2f} {pct(values, 90):8.2f} {t:>8}")
    row("restore: invoke -> handler", restore, TARGETS["restore"])
    row("  REPORT Restore Duration", restore_report)
    row("cold start: invoke -> handler", cold)
    row("  REPORT Init Duration", init_report)
    if restore and cold:
        print(f"restore / cold start (p50): {pct(restore, 50) / pct(cold, 50):.2f}")


if __name__ == "__main__":
    main()
