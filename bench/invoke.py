#!/usr/bin/env python3
"""Invoke benchmark for lamina (numbers printed, nothing asserted).

Warm sync invoke p50/p99 (raw keep-alive HTTP client), warm throughput with
several clients, and cold starts (create -> first response, first invoke
after an update), for a trivial Python, Node.js, Ruby and (when javac is
there) Java handler, next to this machine's floors: `python3 -S -c pass`,
`node -e 0`, `ruby -e 0`, `java -version` and a loopback HTTP round trip to
lamina's /health.

    python3 bench/invoke.py [--bin build/lamina] [--sandbox auto|bubblewrap|process]
"""
import argparse
import base64
import http.client
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile

from benchlib import DEFAULT_BIN, lamina, pct
import threading
import time
import zipfile

TARGETS = {"warm p50": 0.3, "warm p99": 1.0, "cold python": 40.0, "cold node": 60.0}




def java_zip():
    """A compiled Java echo handler (bench.Echo::handle), zipped; None without javac."""
    javac = shutil.which("javac")
    if javac is None:
        return None
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "Echo.java")
        with open(src, "w") as f:
            f.write("package bench;\npublic class Echo {\n"
                    "    public static java.util.Map<String, Object> handle(java.util.Map<String, Object> e) {\n"
                    "        return e;\n    }\n}\n")
        subprocess.run([javac, "-d", d, src], check=True)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            info = zipfile.ZipInfo("bench/Echo.class")
            info.external_attr = 0o100644 << 16
            with open(os.path.join(d, "bench", "Echo.class"), "rb") as f:
                z.writestr(info, f.read())
        return base64.b64encode(buf.getvalue()).decode()


def zip_of(name, source):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        info = zipfile.ZipInfo(name)
        info.external_attr = 0o100644 << 16  # readable by the sandbox user, as Lambda needs
        z.writestr(info, source)
    return base64.b64encode(buf.getvalue()).decode()


class Client:
    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, method, path, body=None, raw=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        self.conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
        r = self.conn.getresponse()
        out = r.read()
        if r.status >= 300:
            raise RuntimeError(f"{method} {path}: {r.status} {out[:200]!r}")
        return out


class RawClient:
    """A raw keep-alive HTTP/1.1 client: one prebuilt request, one sendall, a
    Content-Length read; far less client time per call than http.client, so
    that the latencies measured are lamina's."""

    def __init__(self, port, path, body, method="POST"):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.request = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body

    def call(self):
        self.sock.sendall(self.request)
        data = b""
        while b"\r\n\r\n" not in data:
            data += self.sock.recv(65536)
        head, _, rest = data.partition(b"\r\n\r\n")
        length = int(next(l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")))
        while len(rest) < length:
            rest += self.sock.recv(65536)
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(head[:200])
        return rest


def wrk_rate(port, name, seconds):
    """Warm invokes per second as wrk (C, 2 threads, 8 keep-alive connections,
    so 8 environments) drives them; "-" without wrk (scripts/install-deps.sh bench)."""
    if not shutil.which("wrk"):
        return "-"
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write('wrk.method = "POST"\nwrk.body = "{}"\n')
    url = f"http://127.0.0.1:{port}/2015-03-31/functions/{name}/invocations"
    try:
        subprocess.run(["wrk", "-t2", "-c8", "-d1s", "-s", f.name, url], check=True, capture_output=True)  # warm 8 envs
        out = subprocess.run(["wrk", "-t2", "-c8", f"-d{max(1, int(seconds))}s", "-s", f.name, url],
                             check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(f.name)
    if "Non-2xx" in out:
        return "errors"
    for line in out.splitlines():
        if line.startswith("Requests/sec:"):
            return f"{float(line.split()[1]):.0f}"
    return "?"


def floor_ms(cmd, n=20):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append((time.perf_counter() - t) * 1000)
    return pct(times, 50)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=DEFAULT_BIN)
    ap.add_argument("--sandbox", default="auto")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args()
    with lamina(args.bin, "--sandbox", args.sandbox) as port:
        c = Client(port)
        health = json.loads(c.call("GET", "/health"))
        rt = []
        echo = RawClient(port, "/health", b"", method="GET")  # lamina's smallest answer
        for _ in range(500):
            t = time.perf_counter()
            echo.call()
            rt.append((time.perf_counter() - t) * 1000)
        print(f"lamina invoke benchmark, sandbox={health.get('sandbox')}")
        print(f"floors: loopback HTTP round trip to /health p50 {pct(rt, 50):.3f} ms; python3 -S -c pass "
              f"{floor_ms(['/usr/bin/python3', '-S', '-c', 'pass']):.1f} ms; node -e 0 {floor_ms(['node', '-e', '0'], 10):.1f} ms"
              + (f"; ruby -e 0 {floor_ms(['ruby', '-e', '0'], 10):.1f} ms" if shutil.which("ruby") else "")
              + (f"; java -version {floor_ms(['java', '-XX:TieredStopAtLevel=1', '-version'], 5):.1f} ms"
                 if shutil.which("java") else ""))
        role = "arn:aws:iam::123456789012:role/bench"
        funcs = {
            "python": ("python3.12", "handler.handler", zip_of("handler.py", "def handler(e, c):\n    return e\n")),
            "node": ("nodejs22.x", "index.handler", zip_of("index.js", "exports.handler = async (e) => e;")),
        }
        java = java_zip()
        if java is not None:
            funcs["java"] = ("java17", "bench.Echo::handle", java)
        if shutil.which("ruby"):
            funcs["ruby"] = ("ruby3.3", "function.handler",
                             zip_of("function.rb", "def handler(event:, context:)\n  event\nend\n"))
        rows = []
        for label, (runtime, handler, code) in funcs.items():
            colds = []
            for i in range(5):
                name = f"cold-{label}-{i}"
                t = time.perf_counter()
                c.call("POST", "/2015-03-31/functions", {"FunctionName": name, "Runtime": runtime, "Handler": handler,
                                                         "Role": role, "Code": {"ZipFile": code}})
                c.call("POST", f"/2015-03-31/functions/{name}/invocations", raw=b'{"x":1}')
                colds.append((time.perf_counter() - t) * 1000)
            updates = []
            for i in range(3):
                name = f"cold-{label}-{i}"
                c.call("PUT", f"/2015-03-31/functions/{name}/configuration", {"Description": f"u{i}"})
                t = time.perf_counter()
                c.call("POST", f"/2015-03-31/functions/{name}/invocations", raw=b'{"x":1}')
                updates.append((time.perf_counter() - t) * 1000)
            name = f"warm-{label}"
            c.call("POST", "/2015-03-31/functions", {"FunctionName": name, "Runtime": runtime, "Handler": handler,
                                                     "Role": role, "Code": {"ZipFile": code}})
            c.call("POST", f"/2015-03-31/functions/{name}/invocations", raw=b"{}")
            warm = []
            raw = RawClient(port, f"/2015-03-31/functions/{name}/invocations", b'{"x":1}')
            for _ in range(args.n):
                t = time.perf_counter()
                raw.call()
                warm.append((time.perf_counter() - t) * 1000)
            count = [0]
            stop = time.perf_counter() + args.seconds

            def worker():
                w = Client(port)
                n = 0
                while time.perf_counter() < stop:
                    w.call("POST", f"/2015-03-31/functions/{name}/invocations", raw=b"{}")
                    n += 1
                count[0] += n

            threads = [threading.Thread(target=worker) for _ in range(4)]
            [t.start() for t in threads]
            [t.join() for t in threads]
            rows.append((label, colds, updates, warm, count[0] / args.seconds, wrk_rate(port, name, args.seconds)))
        print(f"{'runtime':<8}{'cold create+invoke p50':>24}{'cold after update p50':>23}{'warm p50':>10}{'warm p99':>10}"
              f"{'warm/s (4 py clients)':>23}{'warm/s (wrk, 8 conns)':>23}")
        for label, colds, updates, warm, rate, wrk in rows:
            print(f"{label:<8}{pct(colds, 50):>21.1f} ms{pct(updates, 50):>20.1f} ms{pct(warm, 50):>7.3f} ms"
                  f"{pct(warm, 99):>7.3f} ms{rate:>23.0f}{wrk:>23}")
        print(f"targets: warm p50 <= {TARGETS['warm p50']} ms, p99 <= {TARGETS['warm p99']} ms, >= 10000 warm/s, "
              f"cold <= {TARGETS['cold python']} ms (python) / {TARGETS['cold node']} ms (node)")


if __name__ == "__main__":
    sys.exit(main())
