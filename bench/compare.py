#!/usr/bin/env python3
"""lamina side by side with the tools users would pick instead (issue 19's method; numbers
printed, nothing asserted).

Invoke: lamina against serverless-offline 13.9 (serverless 3.40, `bash bench/peers/install.sh`),
the same function on both: `def handler(event, context): return {"ok": True, "echo": event}` on
python3.11, named bench-dev-echo (serverless-offline's <service>-<stage>-<name>), payload
{"key":"value"}, every request SigV4-signed by botocore as the SDK signs it (signed before the
clock starts, so the client's signing cost is left out on both sides).
  * p50: one http.client keep-alive connection, 100 warm-up then 2,000 sequential invokes;
  * throughput: `wrk -t2 -c8 -d8s` POSTing the same signed request (after a 1 s warm-up run),
    with each server's CPU time per invoke from /proc, by thread and for its child processes,
    counted until the server is quiet again (so that work put off past the run counts too).
Control plane: lamina against moto's server (`python3 -m moto.server`), both started fresh in
this run: each call built and signed by boto3/botocore (captured before it is sent), replayed
as raw bytes on one keep-alive socket, 200 of each (CreateFunction 1 KB, PublishVersion,
CreateAlias, GetFunction, ListFunctions page of 50), then CreateFunction with a 20 MB zip
(--big-n of them, signed one at a time), each operation on lamina then on moto.

Prints both sides, the ratios, issue 19's goals next to them and the load before and after.

    bash bench/peers/install.sh     # once: serverless + serverless-offline into bench/peers
    python3 bench/compare.py [--bin build/lamina] [--only invoke|control] [--n 2000]
"""
import argparse
import contextlib
import http.client
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from urllib.parse import urlsplit

from benchlib import DEFAULT_BIN, cpu_seconds, free_port, lamina_process, moto_server, pct, stop, wait_port

HERE = os.path.dirname(os.path.abspath(__file__))
PEERS = os.path.join(HERE, "peers", "node_modules")
SERVERLESS = os.path.join(PEERS, ".bin", "serverless")
HANDLER = 'def handler(event, context):\n    return {"ok": True, "echo": event}\n'
FUNCTION = "bench-dev-echo"  # serverless-offline's name: service bench, stage dev, function echo
PAYLOAD = b'{"key":"value"}'
ROLE = "arn:aws:iam::123456789012:role/bench"
SERVERLESS_YML = """service: bench
frameworkVersion: "3"
provider:
  name: aws
  runtime: python3.11
  stage: dev
  region: us-east-1
functions:
  echo:
    handler: handler.handler
plugins:
  - serverless-offline
"""
GOALS = {"p50": 0.5, "rps": 2.0, "small": 10.0, "big": 3.0, "own_us": 30.0}
SMALL_OPS = ("CreateFunction 1 KB", "PublishVersion", "CreateAlias", "GetFunction", "ListFunctions page")


def load():
    return "load %.2f %.2f %.2f" % os.getloadavg()


@contextlib.contextmanager
def serverless_offline():
    """`serverless offline start` in a temporary service folder, in its own process group;
    yields the port of its Lambda-compatible endpoint."""
    work = tempfile.mkdtemp(prefix="lamina-compare-sls-")
    try:
        os.symlink(PEERS, os.path.join(work, "node_modules"))
        with open(os.path.join(work, "serverless.yml"), "w") as f:
            f.write(SERVERLESS_YML)
        with open(os.path.join(work, "handler.py"), "w") as f:
            f.write(HANDLER)
        ports = {k: free_port() for k in ("httpPort", "lambdaPort", "websocketPort", "albPort")}
        cmd = [SERVERLESS, "offline", "start", "--host", "127.0.0.1"]
        for k, v in ports.items():
            cmd += [f"--{k}", str(v)]
        env = dict(os.environ, SLS_TELEMETRY_DISABLED="1", SLS_NOTIFICATIONS_MODE="off")
        log = open(os.path.join(work, "offline.log"), "wb")
        proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            try:
                wait_port(ports["lambdaPort"], proc, "serverless offline")
            except RuntimeError:
                log.flush()
                sys.stderr.write(open(os.path.join(work, "offline.log"), errors="replace").read()[-2000:])
                raise
            yield ports["lambdaPort"], proc.pid
        finally:
            stop(proc, group=True)
            log.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --- requests signed by botocore, as the SDK builds and signs them ---------------------------

class _Captured(Exception):
    pass


class Signer:
    """A boto3 client whose requests are captured after signing (before-send) instead of sent;
    each becomes the raw HTTP/1.1 bytes the SDK would have written."""

    def __init__(self, service, port):
        import boto3
        from botocore.config import Config
        self.port = port
        self.client = boto3.session.Session().client(
            service, endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
            aws_access_key_id="bench", aws_secret_access_key="bench-secret",
            config=Config(retries={"total_max_attempts": 1}, proxies={}, parameter_validation=False))
        self.client.meta.events.register("before-send", self._capture)
        self._last = None

    def _capture(self, request, **_):
        self._last = request
        raise _Captured()

    def sign(self, op, **params):
        try:
            getattr(self.client, op)(**params)
        except _Captured:
            pass
        r = self._last
        url = urlsplit(r.url)
        target = url.path + (f"?{url.query}" if url.query else "")
        body = r.body or b""
        if isinstance(body, str):
            body = body.encode()
        elif not isinstance(body, bytes):
            body = body.read()
        headers = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in r.headers.items()}
        headers.setdefault("Host", url.netloc)  # what the signature covers (urllib3 adds it)
        headers["Content-Length"] = str(len(body))
        return r.method, target, headers, body

    def raw(self, op, **params):
        method, target, headers, body = self.sign(op, **params)
        head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        return head.encode() + b"\r\n" + body


class RawSocket:
    """Replays prepared request bytes on one keep-alive connection; reads each answer by its
    Content-Length or chunks (reconnecting only if the server closes)."""

    def __init__(self, port):
        self.port = port
        self.reconnects = 0
        self._connect()

    def _connect(self):
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=120)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def _more(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buf += chunk

    def _take(self, n):
        while len(self.buf) < n:
            self._more()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _line(self):
        while b"\r\n" not in self.buf:
            self._more()
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def call(self, request):
        """Sends one request; returns (ms, status, headers, body)."""
        t0 = time.perf_counter()
        self.sock.sendall(request)
        while b"\r\n\r\n" not in self.buf:
            self._more()
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        if "content-length" in headers:
            body = self._take(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while (size := int(self._line().split(b";")[0], 16)):
                body += self._take(size)
                self._take(2)
            while self._line():  # trailers
                pass
        elif status in (204, 304) or 100 <= status < 200:
            body = b""
        else:  # until close
            with contextlib.suppress(ConnectionError):
                while True:
                    self._more()
            body, self.buf = self.buf, b""
            headers["connection"] = "close"
        ms = (time.perf_counter() - t0) * 1000
        if headers.get("connection", "").lower() == "close" or lines[0].startswith("HTTP/1.0"):
            self.sock.close()
            self.reconnects += 1
            self._connect()
        return ms, status, headers, body


def check(status, body, what):
    if status >= 300:
        raise RuntimeError(f"{what}: HTTP {status} {body[:300]!r}")


# --- invoke -------------------------------------------------------------------------------

def server_timing(header):
    """{name: ms} of a Server-Timing header ("app;dur=0.2, deliver;dur=0.01, ...")."""
    out = {}
    for part in (header or "").split(","):
        name, _, rest = part.strip().partition(";")
        if rest.startswith("dur="):
            out[name] = float(rest[4:])
    return out


def p50_invokes(port, n, warmup):
    """(client ms per invoke, Server-Timing entries {name: ms} per invoke or []) for n
    sequential signed invokes on one http.client keep-alive connection, after warmup ones."""
    signer = Signer("lambda", port)
    reqs = [signer.sign("invoke", FunctionName=FUNCTION, Payload=PAYLOAD) for _ in range(warmup + n)]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    client, server = [], []
    for i, (method, target, headers, body) in enumerate(reqs):
        t0 = time.perf_counter()
        conn.request(method, target, body=body, headers=headers)
        r = conn.getresponse()
        out = r.read()
        ms = (time.perf_counter() - t0) * 1000
        check(r.status, out, "Invoke")
        if i == 0 and json.loads(out) != {"ok": True, "echo": {"key": "value"}}:
            raise RuntimeError(f"Invoke answered {out[:200]!r}")
        if i >= warmup:
            client.append(ms)
            timing = server_timing(r.getheader("Server-Timing"))
            if timing:
                server.append(timing)
    conn.close()
    return client, server


def wrk_rps(port, seconds, pid):
    """Invokes/s as `wrk -t2 -c8` drives them, POSTing one signed request: (rps, errors, the CPU
    per invoke in us of the server `pid`'s threads by name and of its descendants)."""
    method, target, headers, body = Signer("lambda", port).sign("invoke", FunctionName=FUNCTION, Payload=PAYLOAD)
    fd, script = tempfile.mkstemp(prefix="lamina-compare-", suffix=".lua")
    lua = [f"wrk.method = {json.dumps(method)}", f"wrk.body = {json.dumps(body.decode())}"]
    lua += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()
            if k.lower() not in ("host", "content-length")]
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lua) + "\n")
    url = f"http://127.0.0.1:{port}{target}"
    try:
        subprocess.run(["wrk", "-t2", "-c8", "-d1s", "-s", script, url], check=True, capture_output=True,
                       timeout=60)  # warms 8 environments / handler processes
        before = cpu_seconds(pid)
        out = subprocess.run(["wrk", "-t2", "-c8", f"-d{seconds}s", "-s", script, url], check=True,
                             capture_output=True, text=True, timeout=seconds + 60).stdout
        after = settled_cpu(pid)
    finally:
        os.unlink(script)
    errors = [line.strip() for line in out.splitlines() if "Non-2xx" in line or "Socket errors" in line]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    cpu = {k: (after[k] - before.get(k, 0.0)) * 1e6 / max(1, requests) for k in after}
    return rps, "; ".join(errors), cpu


def settled_cpu(pid, most_s=20):
    """cpu_seconds(pid) once the server has gone quiet after a run (under 20 ms of CPU in each of
    three half seconds), so that work it put off until after the run (lamina's log writer stores
    what it gathered and indexes it after an idle second) is counted with the run."""
    last, quiet = cpu_seconds(pid), 0
    deadline = time.monotonic() + most_s
    while quiet < 3 and time.monotonic() < deadline:
        time.sleep(0.5)
        now = cpu_seconds(pid)
        quiet = quiet + 1 if sum(now.values()) - sum(last.values()) < 0.02 else 0
        last = now
    return last


def cpu_line(who, cpu):
    """One line: where a server's CPU went per invoke under wrk."""
    parts = [f"{k} {v:.0f}" for k, v in sorted(cpu.items(), key=lambda kv: -kv[1]) if round(v) > 0]
    return f"  {who}: {sum(cpu.values()):.0f} us of CPU per invoke ({', '.join(parts)})"


def create_lamina_function(port):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        info = zipfile.ZipInfo("handler.py")
        info.external_attr = 0o100644 << 16
        z.writestr(info, HANDLER)
    sock = RawSocket(port)
    req = Signer("lambda", port).raw("create_function", FunctionName=FUNCTION, Runtime="python3.11",
                                     Handler="handler.handler", Role=ROLE, Code={"ZipFile": buf.getvalue()})
    _, status, _, body = sock.call(req)
    check(status, body, "CreateFunction")
    sock.sock.close()


def run_invoke(args):
    have_wrk = shutil.which("wrk") is not None
    if not have_wrk:
        print("wrk not found: throughput skipped (`bash scripts/install-deps.sh bench` installs it)")
    results = {}
    with lamina_process(args.bin, "--host", "127.0.0.1") as (proc, port):
        create_lamina_function(port)
        client, server = p50_invokes(port, args.n, args.warmup)
        results["lamina"] = (client, server, wrk_rps(port, args.wrk_seconds, proc.pid) if have_wrk else None)
    if not os.access(SERVERLESS, os.X_OK):
        print(f"serverless-offline not installed ({SERVERLESS} missing): peer skipped; "
              "`bash bench/peers/install.sh` installs it")
    elif not shutil.which("python3.11"):
        print("python3.11 not on PATH (serverless-offline runs the handler with it): peer skipped")
    else:
        with serverless_offline() as (port, pid):
            client, _ = p50_invokes(port, args.n, args.warmup)
            results["sls"] = (client, [], wrk_rps(port, args.wrk_seconds, pid) if have_wrk else None)

    print(f"\nwarm sync invoke, python3.11, payload {PAYLOAD.decode()}, SigV4-signed "
          f"({args.warmup} warm-up, {args.n} sequential on one keep-alive http.client connection)")
    lc, ls, lw = results["lamina"]
    sls = results.get("sls")
    print(f"{'':<34}{'lamina':>12}{'serverless-offline':>20}{'ratio':>8}   goal")
    row = f"{'p50 ms':<34}{pct(lc, 50):>12.3f}"
    row += f"{pct(sls[0], 50):>20.3f}{pct(lc, 50) / pct(sls[0], 50):>8.2f}" if sls else f"{'-':>20}{'-':>8}"
    print(row + f"   lamina/peer <= {GOALS['p50']}")
    row = f"{'p99 ms':<34}{pct(lc, 99):>12.3f}"
    row += f"{pct(sls[0], 99):>20.3f}{pct(lc, 99) / pct(sls[0], 99):>8.2f}" if sls else f"{'-':>20}{'-':>8}"
    print(row)
    if lw:
        row = f"{'invokes/s, wrk -t2 -c8 -d%ds' % args.wrk_seconds:<34}{lw[0]:>12.0f}"
        row += f"{sls[2][0]:>20.0f}{lw[0] / sls[2][0]:>8.2f}" if sls and sls[2] else f"{'-':>20}{'-':>8}"
        print(row + f"   lamina/peer >= {GOALS['rps']}")
        for who, w in (("lamina", lw), ("serverless-offline", sls[2] if sls else None)):
            if w and w[1]:
                print(f"  wrk against {who}: {w[1]}")
        print("CPU per invoke under wrk, by thread, until the server is quiet again (main: lamina's first "
              "io thread; lamina-logs: its log store writer; descendants: the function's environments, "
              "sandbox and runtime, or the peer's handler processes):")
        for who, w in (("lamina", lw), ("serverless-offline", sls[2] if sls else None)):
            if w:
                print(cpu_line(who, w[2]))
    if ls:
        app = [t["app"] for t in ls if "app" in t]
        own = [t["deliver"] + t["answer"] for t in ls if "deliver" in t and "answer" in t]
        print(f"lamina Server-Timing of a warm invoke (app: the parsed request to the answer built, "
              f"the function's run and the Runtime API round trip inside it): p50 {pct(app, 50) * 1000:.0f} us, "
              f"p99 {pct(app, 99) * 1000:.0f} us")
        if own:
            deliver = [t["deliver"] for t in ls if "deliver" in t]
            answer = [t["answer"] for t in ls if "answer" in t]
            print(f"lamina's own share (deliver: request head read -> event handed to the runtime's /next "
                  f"answer; answer: head of the runtime's answer read -> invoke answer built): p50 "
                  f"{pct(own, 50) * 1000:.0f} us (deliver {pct(deliver, 50) * 1000:.0f} + answer "
                  f"{pct(answer, 50) * 1000:.0f}), p99 {pct(own, 99) * 1000:.0f} us; goal <= "
                  f"{GOALS['own_us']:.0f} us at p50")
        else:
            print("lamina sent no deliver/answer Server-Timing entries: its own share is not measured")
    else:
        print("lamina sent no Server-Timing on invokes: its server-side share is not measured")


# --- control plane ------------------------------------------------------------------------

def make_zip(size):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("handler.py", HANDLER)
        if size > 200:
            z.writestr("pad.bin", os.urandom(size))
    return buf.getvalue()


def timed_replay(port, requests, what):
    """Replays pre-built requests on one keep-alive socket; (client ms of each, times the
    server closed the connection, the last answer's body)."""
    sock = RawSocket(port)
    out = []
    for req in requests:
        ms, status, _, body = sock.call(req)
        check(status, body, what)
        out.append(ms)
    sock.sock.close()
    return out, sock.reconnects, body


def control_plane(servers, n, big_n):
    """{op: {server: [ms]}}; each operation on every server in turn, n of each."""
    small = make_zip(1024)
    signers = {name: Signer("lambda", port) for name, port in servers.items()}
    plans = [
        ("CreateFunction 1 KB", lambda s, i: s.raw("create_function", FunctionName=f"small-{i}", Runtime="python3.11",
                                                   Handler="handler.handler", Role=ROLE, Code={"ZipFile": small})),
        ("PublishVersion", lambda s, i: s.raw("publish_version", FunctionName=f"small-{i}")),
        ("CreateAlias", lambda s, i: s.raw("create_alias", FunctionName=f"small-{i}", Name="live", FunctionVersion="1")),
        ("GetFunction", lambda s, i: s.raw("get_function", FunctionName=f"small-{i}")),
        ("ListFunctions page", lambda s, i: s.raw("list_functions", MaxItems=50)),
    ]
    results, reconnects, listed = {}, dict.fromkeys(servers, 0), {}
    for op, build in plans:
        results[op] = {}
        for name, port in servers.items():
            requests = [build(signers[name], i) for i in range(n)]
            results[op][name], closed, last = timed_replay(port, requests, f"{op} on {name}")
            reconnects[name] += closed
            if op == "ListFunctions page":
                listed[name] = len(json.loads(last)["Functions"])
    op = "CreateFunction 20 MB"
    results[op] = {name: [] for name in servers}
    big = make_zip(20 * 1024 * 1024)
    for name, port in servers.items():
        sock = RawSocket(port)
        for i in range(big_n):  # signed one at a time: 200 bodies of 27 MB would not be held at once
            req = signers[name].raw("create_function", FunctionName=f"big-{i}", Runtime="python3.11",
                                    Handler="handler.handler", Role=ROLE, Code={"ZipFile": big})
            ms, status, _, body = sock.call(req)
            check(status, body, f"{op} on {name}")
            results[op][name].append(ms)
        reconnects[name] += sock.reconnects
        sock.sock.close()
    notes = [f"{name} closed the connection after {closed} of its {5 * n + big_n} answers (Connection: close); "
             "the client reconnects after the clock stops, so those connects are not timed"
             for name, closed in reconnects.items() if closed]
    notes.append(f"ListFunctions (MaxItems=50, {n} functions): " + ", ".join(
        f"{name} answered {count} functions" for name, count in listed.items())
        + (" (moto does not paginate: its page is every function)" if listed.get("moto", 0) > 50 else ""))
    return results, notes


def run_control(args):
    if subprocess.run([sys.executable, "-c", "import moto.server"], capture_output=True, timeout=60).returncode:
        print(f"moto's server is not importable by {sys.executable} (pip install 'moto[server]==5.2.1'): "
              "control plane measured on lamina only")
        with lamina_process(args.bin, "--host", "127.0.0.1") as (_, lport):
            results, notes = control_plane({"lamina": lport}, args.control_n, args.big_n)
    else:
        with lamina_process(args.bin, "--host", "127.0.0.1") as (_, lport), moto_server() as mport:
            import boto3  # moto's Lambda takes only a role its IAM has
            boto3.session.Session().client("iam", endpoint_url=f"http://127.0.0.1:{mport}", region_name="us-east-1",
                                           aws_access_key_id="bench", aws_secret_access_key="bench-secret").create_role(
                RoleName="bench", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
            results, notes = control_plane({"lamina": lport, "moto": mport}, args.control_n, args.big_n)
    print(f"\ncontrol plane, botocore-signed requests replayed on one keep-alive socket: "
          f"{args.control_n} of each small call, {args.big_n} CreateFunction 20 MB; client ms")
    print(f"{'operation':<24}{'lamina p50':>12}{'lamina p99':>12}{'moto p50':>12}{'moto p99':>12}{'moto/lamina':>13}")
    ratios = {}
    for op, by in results.items():
        lv, mv = by["lamina"], by.get("moto")
        row = f"{op:<24}{pct(lv, 50):>12.3f}{pct(lv, 99):>12.3f}"
        if mv:
            ratios[op] = pct(mv, 50) / pct(lv, 50)
            row += f"{pct(mv, 50):>12.3f}{pct(mv, 99):>12.3f}{ratios[op]:>12.1f}x"
        print(row)
    if ratios:
        small = sorted(ratios[op] for op in SMALL_OPS)
        print(f"small calls, median of the five p50 ratios: {small[len(small) // 2]:.1f}x faster than moto "
              f"(goal >= {GOALS['small']:.0f}x); CreateFunction 20 MB: {ratios['CreateFunction 20 MB']:.1f}x "
              f"(goal >= {GOALS['big']:.0f}x)")
    for note in notes:
        print(note)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=DEFAULT_BIN, help="lamina binary (default: build/lamina)")
    ap.add_argument("--only", choices=("invoke", "control"), help="run one part only")
    ap.add_argument("--n", type=int, default=2000, help="sequential invokes timed (default 2000)")
    ap.add_argument("--warmup", type=int, default=100, help="invokes before timing (default 100)")
    ap.add_argument("--wrk-seconds", type=int, default=8, help="wrk's -d (default 8)")
    ap.add_argument("--control-n", type=int, default=200, help="calls of each small operation (default 200)")
    ap.add_argument("--big-n", type=int, default=20, help="CreateFunction 20 MB calls (default 20)")
    args = ap.parse_args()
    build = "?"
    cache = os.path.join(os.path.dirname(os.path.abspath(args.bin)), "CMakeCache.txt")
    if os.path.exists(cache):
        m = re.search(r"^CMAKE_BUILD_TYPE:\w+=(.*)$", open(cache).read(), re.M)
        build = m.group(1) if m else "?"
    print(f"lamina side by side: {os.path.abspath(args.bin)} ({build} build), {os.cpu_count()} CPUs, "
          f"{load()} before")
    if args.only in (None, "invoke"):
        run_invoke(args)
    if args.only in (None, "control"):
        run_control(args)
    print(f"\n{load()} after")


if __name__ == "__main__":
    sys.exit(main())
