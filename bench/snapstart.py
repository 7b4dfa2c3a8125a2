#!/usr/bin/env python3
"""SnapStart benchmark for lamina (numbers printed, nothing asserted).

The time from an invoke sent to the handler running in a *new* environment:
restored from a SnapStart version's snapshot (python3.12: forked from the
snapshot's process; java17: a criu restore of the checkpointed JVM), next to a
cold start of the same code on $LATEST (an on-demand init). Each round sends N invokes at once, each
holding its environment (it sleeps), so that each gets an environment of its
own; the handler returns the wall time it started at. Also printed: REPORT's
Restore Duration and Init Duration (lamina's own measure of the restore or init).

    python3 bench/snapstart.py [--bin build/lamina] [--sandbox auto|bubblewrap|process] [--n 8]
                               [--runtimes python3.12,java17]

Java needs javac (the handler is compiled against runtimes/java/lamina-java-core.jar)
and criu; it is left out, saying so, without them.
"""
import argparse
import base64
import http.client
import io
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import zipfile

from benchlib import DEFAULT_BIN, lamina, pct

TARGETS = {"restore": 10.0}  # ms, from the invoke to the handler, in a new restored environment
JAVA_TARGET_RATIO = 0.25  # a Java restore within a quarter of a Java cold start (p50)

HANDLER = """
import json, time, random, uuid
SEED = random.random()
def handler(event, context):
    started = time.time()
    time.sleep(event.get("hold", 0))
    return {"started": started}
"""


JAVA_HANDLER = """
package bench;
import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import java.util.HashMap;
import java.util.Map;
public class Handler implements RequestHandler<Map<String, Object>, Map<String, Object>> {
    static final double SEED = Math.random();
    // A framework's init, stood in for (java17-init): classes loaded, data built
    static final Object STATE = System.getenv("BENCH_INIT") == null ? null : init();

    static Object init() {
        try {
            java.util.TreeMap<String, Integer> index = new java.util.TreeMap<>();
            for (int i = 0; i < 200000; i++) index.put("key-" + i, i);
            java.util.List<java.util.regex.Pattern> patterns = new java.util.ArrayList<>();
            for (int i = 0; i < 300; i++) patterns.add(java.util.regex.Pattern.compile("(a|b)+" + i + "[c-z]*"));
            javax.xml.parsers.DocumentBuilderFactory.newInstance().newDocumentBuilder()
                    .parse(new java.io.ByteArrayInputStream("<a><b c='d'/></a>".getBytes("UTF-8")));
            String text = java.util.stream.IntStream.range(0, 20000).mapToObj(Integer::toString)
                    .collect(java.util.stream.Collectors.joining(","));
            return new Object[] {index, patterns, text, java.time.ZonedDateTime.now().toString(),
                                 javax.crypto.Cipher.getInstance("AES/GCM/NoPadding")};
        } catch (Exception e) {
            throw new RuntimeException(e);
        }
    }
    public Map<String, Object> handleRequest(Map<String, Object> event, Context context) {
        double started = System.currentTimeMillis() / 1000.0;
        Object hold = event.get("hold");
        try {
            if (hold instanceof Number) Thread.sleep((long) (((Number) hold).doubleValue() * 1000));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Map<String, Object> out = new HashMap<>();
        out.put("started", started);
        return out;
    }
}
"""
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def zip_b64(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o100644 << 16
            z.writestr(info, data)
    return base64.b64encode(buf.getvalue()).decode()


def java_zip():
    """The Java handler compiled against lamina's interfaces jar, or None (and why)."""
    javac = shutil.which("javac")
    core = os.path.join(REPO, "runtimes", "java", "lamina-java-core.jar")
    criu = shutil.which("criu") or ("/usr/sbin/criu" if os.path.exists("/usr/sbin/criu") else None)
    if not javac or not os.path.exists(core) or not criu:
        return None, "needs javac, runtimes/java/lamina-java-core.jar and criu"
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "Handler.java")
        with open(src, "w") as f:
            f.write(JAVA_HANDLER)
        subprocess.run([javac, "--release", "11", "-cp", core, "-d", d, src], check=True,
                       capture_output=True)
        with open(os.path.join(d, "bench", "Handler.class"), "rb") as f:
            return zip_b64({"bench/Handler.class": f.read()}), None


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


def wait_active(port, name, version):
    deadline = time.monotonic() + 120
    while True:
        _, _, body = call(port, "GET", f"/2015-03-31/functions/{name}/configuration?Qualifier={version}")
        cfg = json.loads(body)
        if cfg["State"] != "Pending" or time.monotonic() > deadline:
            if cfg["State"] != "Active":
                raise RuntimeError(f"{name}:{version} is {cfg['State']}: {cfg.get('StateReason')}")
            return


def measure(port, label, handler, code, n, rounds):
    name = "snapbench-" + label.replace(".", "")
    runtime, _, variant = label.partition("-")
    env = {"Variables": {"BENCH_INIT": "1"}} if variant == "init" else {"Variables": {}}
    status, _, body = call(port, "POST", "/2015-03-31/functions", {
        "FunctionName": name, "Runtime": runtime, "Handler": handler, "Environment": env,
        "Role": "arn:aws:iam::123456789012:role/r", "Timeout": 30, "MemorySize": 512,
        "Code": {"ZipFile": code}, "SnapStart": {"ApplyOn": "PublishedVersions"}})
    assert status == 201, body
    status, _, body = call(port, "POST", f"/2015-03-31/functions/{name}/versions", {})
    version = json.loads(body)["Version"]
    wait_active(port, name, version)
    restore, restore_report, cold, init_report = [], [], [], []
    for r in range(rounds):
        for ms, rep in round_of(port, name, version, n, hold=0.5):
            restore.append(ms)
            if rep is not None:
                restore_report.append(rep)
        for ms, rep in round_of(port, name, None, n, hold=0.5):
            cold.append(ms)
            if rep is not None:
                init_report.append(rep)
        # the next round needs new environments: a new configuration and a new version
        call(port, "PUT", f"/2015-03-31/functions/{name}/configuration", {"Description": f"round {r}"})
        status, _, body = call(port, "POST", f"/2015-03-31/functions/{name}/versions", {})
        version = json.loads(body)["Version"]
        wait_active(port, name, version)
    return restore, restore_report, cold, init_report


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=DEFAULT_BIN)
    ap.add_argument("--sandbox", default="auto")
    ap.add_argument("--n", type=int, default=8, help="environments per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runtimes", default="python3.12,java17,java17-init",
                    help="java17-init: the Java handler with a framework-like init")
    args = ap.parse_args()
    wanted = args.runtimes.split(",")
    codes = {}
    if "python3.12" in wanted:
        codes["python3.12"] = ("handler.handler", zip_b64({"handler.py": HANDLER}))
    java = [r for r in wanted if r.startswith("java17")]
    if java:
        code, why = java_zip()
        for r in java:
            if code:
                codes[r] = ("bench.Handler", code)
            else:
                print(f"{r} left out: {why}")
    results = {}
    with lamina(args.bin, "--sandbox", args.sandbox) as port:
        for runtime, (handler, code) in codes.items():
            results[runtime] = measure(port, runtime, handler, code, args.n, args.rounds)

    def row(label, values, target=None):
        if not values:
            print(f"{label:34} {'-':>8} {'-':>8}")
            return
        t = f"<= {target:g}" if target else ""
        print(f"{label:34} {pct(values, 50):8.2f} {pct(values, 90):8.2f} {t:>8}")
    for runtime, (restore, restore_report, cold, init_report) in results.items():
        print(f"SnapStart, {runtime}, {args.n} new environments per round x {args.rounds} rounds "
              f"(sandbox {args.sandbox})")
        print(f"{'':34} {'p50 ms':>8} {'p90 ms':>8} {'target':>8}")
        row("restore: invoke -> handler", restore,
            TARGETS["restore"] if runtime.startswith("python") else None)
        row("  REPORT Restore Duration", restore_report)
        row("cold start: invoke -> handler", cold)
        row("  REPORT Init Duration", init_report)
        if restore and cold:
            target = f" (target <= {JAVA_TARGET_RATIO:g})" if runtime.startswith("java") else ""
            print(f"restore / cold start (p50): {pct(restore, 50) / pct(cold, 50):.2f}{target}")


if __name__ == "__main__":
    main()
