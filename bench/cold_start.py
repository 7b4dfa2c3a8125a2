#!/usr/bin/env python3
"""Cold start as issue #19 defines it, next to the machine's own floor (numbers
printed, nothing asserted).

For each runtime, 15 functions are created and waited for until Active; then
the first Invoke of each is timed, from the request to its answer, sandbox
included. The p50 is printed next to the floor measured in the same run:
`/usr/bin/python3 -S -c pass` for Python (target <= 3x) and `env -i node -e 0`
for Node.js (target <= 1.5x); Ruby and Java are printed next to `ruby -e 0`
and `java -version` without a target.

    python3 bench/cold_start.py [--bin build/lamina] [--n 15] [--sandbox auto] [--settle 2]
                                [--spares-only 0|1] [--serve-arg X]...

Printed twice: with spare environments off (--spare-environments 0: every cold
start starts its sandbox and interpreter) and on (room for each function: the
cold start claims a spare whose sandbox and runtime are already up, and only
the function's init and the invoke remain).
"""
import argparse
import base64
import http.client
import io
import json
import shutil
import subprocess
import sys
import time
import zipfile

from benchlib import DEFAULT_BIN, lamina, pct

ROLE = "arn:aws:iam::123456789012:role/bench"


def zip_of(name, source):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        info = zipfile.ZipInfo(name)
        info.external_attr = 0o644 << 16  # readable by the sandbox's user (writestr's default: 0600)
        z.writestr(info, source)
    return buf.getvalue()


def floor_ms(cmd, n=20):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append((time.perf_counter() - t) * 1000)
    return pct(times, 50)


class Client:
    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, method, path, body=None, raw=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        self.conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
        r = self.conn.getresponse()
        out = r.read()
        if r.status >= 300:
            raise RuntimeError(f"{method} {path}: {r.status} {out[:300]!r}")
        return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=DEFAULT_BIN)
    ap.add_argument("--sandbox", default="auto")
    ap.add_argument("--n", type=int, default=15)
    ap.add_argument("--settle", type=float, default=2.0,
                    help="seconds waited after the functions are Active, before the first invoke")
    ap.add_argument("--spares-only", type=int, choices=[0, 1], default=None,
                    help="only spares off (0) or only spares on (1)")
    ap.add_argument("--serve-arg", action="append", default=[],
                    help="one more argument for `lamina serve` (repeatable)")
    args = ap.parse_args()
    runtimes = {
        "python": ("python3.12", "handler.handler", zip_of("handler.py", "def handler(e, c):\n    return e\n"),
                   ["/usr/bin/python3", "-S", "-c", "pass"], 3.0),
        "node": ("nodejs22.x", "index.handler", zip_of("index.js", "exports.handler = async (e) => e;"),
                 ["env", "-i", shutil.which("node") or "node", "-e", "0"], 1.5),
    }
    if shutil.which("ruby"):
        runtimes["ruby"] = ("ruby3.3", "function.handler",
                            zip_of("function.rb", "def handler(event:, context:)\n  event\nend\n"),
                            ["ruby", "-e", "0"], None)
    # Two servers in turn: spare environments off, then on with room for every
    # function of a runtime (the default cap is 4). Each waits --settle seconds
    # after the last function is Active before timing, so that spares started
    # at CreateFunction are up (the same wait with spares off).
    modes = [("spares off", ["--spare-environments", "0"]),
             (f"spares on ({args.n})", ["--spare-environments", str(args.n)])]
    if args.spares_only is not None:
        modes = [modes[1] if args.spares_only else modes[0]]
    floors = {label: floor_ms(spec[3]) for label, spec in runtimes.items()}
    for mode, mode_args in modes:
        with open("/proc/loadavg") as f:
            load = f.read().split()[0]
        with lamina(args.bin, "--sandbox", args.sandbox, *mode_args, *args.serve_arg) as port:
            c = Client(port)
            health = json.loads(c.call("GET", "/health"))
            print(f"lamina cold start, {mode}, sandbox={health.get('sandbox')}, load {load}, "
                  f"{args.n} functions per runtime, {args.settle:g} s settle")
            print(f"{'runtime':<8}{'floor p50':>12}{'cold p50':>12}{'cold p90':>12}{'ratio':>9}{'target':>9}")
            for label, (runtime, handler, code, floor_cmd, target) in runtimes.items():
                floor = floors[label]
                names = []
                for i in range(args.n):
                    name = f"cold-{label}-{i}"
                    c.call("POST", "/2015-03-31/functions", {"FunctionName": name, "Runtime": runtime,
                                                             "Handler": handler, "Role": ROLE,
                                                             "Code": {"ZipFile": base64.b64encode(code).decode()}})
                    names.append(name)
                for name in names:  # Active before the clock starts
                    deadline = time.monotonic() + 30
                    while json.loads(c.call("GET", f"/2015-03-31/functions/{name}"))["Configuration"]["State"] != "Active":
                        if time.monotonic() > deadline:
                            raise RuntimeError(f"{name} did not become Active")
                        time.sleep(0.01)
                time.sleep(args.settle)
                colds = []
                for name in names:
                    t = time.perf_counter()
                    out = c.call("POST", f"/2015-03-31/functions/{name}/invocations", raw=b'{"x":1}')
                    colds.append((time.perf_counter() - t) * 1000)
                    if json.loads(out) != {"x": 1}:  # a failed init is no cold start to time
                        raise RuntimeError(f"{name} answered {out[:300]!r}")
                p50 = pct(colds, 50)
                print(f"{label:<8}{floor:>9.1f} ms{p50:>9.1f} ms{pct(colds, 90):>9.1f} ms{p50 / floor:>8.2f}x"
                      f"{(f'<= {target}x' if target else '-'):>9}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
