#!/usr/bin/env python3
"""Scale, as issue #19 defines it (numbers printed next to their goals, nothing asserted; the
exit status is 1 only when an answer was wrong — a lost or mixed-up response, an error other
than a 429, a lost event — since then the numbers mean nothing):

1. warm environments (--envs, default 1,000) of one python3.12 function: that many sync
   invokes are kept in flight at once — the handler connects to a barrier socket of this
   script and waits there, so every invoke holds an environment of its own until all are up
   (at most --ramp cold starts in flight at a time) — then released; once idle, memory per
   environment is measured: the PSS (/proc/PID/smaps_rollup) of every process of each
   environment (each child of lamina and its descendants: bubblewrap's two processes and the
   runtime) plus lamina's own RSS growth divided by the count, next to the runtime process's
   own RSS and PSS (the python3 running lamina's bootstrap in the same environments; a bare
   `python3 -S` sleeping outside any sandbox is printed for reference). Goal: <= 1.2x.
   Skipped cleanly when MemAvailable is below --envs x 16 MB + --margin-mb, and released early
   if it falls below --margin-mb while environments start.
2. --functions (default 10,000) functions created over 8 keep-alive connections, then
   ListFunctions' first page p50 (goal <= 1 ms), and start-up to a ready /health with that
   data directory (goal <= 200 ms) and with an empty one (goal <= 15 ms), timed as
   bench/startup.py times them (its serve_until_ready).
3. --sync (default 1,000) parallel sync invokes against an account limit of 100:
   bench/concurrency.py's burst; goal: only 200s and 429 TooManyRequestsException.
4. --events (default 100,000) Event invokes queued, then drained: bench/concurrency.py's
   async run, counting the distinct ids the function printed in its log streams; goal: none
   lost.

    python3 bench/scale.py [--bin build/lamina] [--envs 1000] [--functions 10000]
                           [--sync 1000] [--events 100000] [--only warm,functions,sync,events]
"""
import argparse
import asyncio
import base64
import http.client
import io
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile

import concurrency
import startup
from benchlib import DEFAULT_BIN, lamina_process, pct, stop

ROLE = "arn:aws:iam::123456789012:role/bench"
# Holds its environment until the bench releases it: one connection per invocation to the
# barrier (the sandbox shares the host's network), one byte back ends it. _socket, not
# socket, so that the runtime process is as small as lamina's bootstrap leaves it.
BARRIER = ("import _socket\n"
           "def handler(e, c):\n"
           "    s = _socket.socket()\n"
           "    s.connect(('127.0.0.1', e['port']))\n"
           "    s.recv(1)\n"
           "    s.close()\n"
           "    return {'id': e['id']}\n")
TINY = "def handler(e, c):\n    return e\n"
GOALS = {"memory": 1.2, "list_ms": 1.0, "start_many_ms": 200.0, "start_empty_ms": 15.0}


def load():
    return "load %.2f %.2f %.2f" % os.getloadavg()


def zip_b64(source):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        info = zipfile.ZipInfo("handler.py")
        info.external_attr = 0o644 << 16  # readable by the sandbox's user
        z.writestr(info, source)
    return base64.b64encode(buf.getvalue()).decode()


def mem_available_mb():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) // 1024
    return 0


def smaps(pid):
    """{'Rss': kB, 'Pss': kB} of a process, or None when it is gone."""
    out = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("Rss", "Pss"):
                    out[key] = int(value.split()[0])
    except OSError:
        return None
    return out


def children_map():
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append((int(d), comm))
    return kids


def cgroup_memory_kb(pid):
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            for line in f:
                parts = line.strip().split(":", 2)
                if parts[1] in ("", "memory"):
                    base = "/sys/fs/cgroup" + ("" if parts[1] == "" else "/memory")
                    name = "memory.current" if parts[1] == "" else "memory.usage_in_bytes"
                    with open(os.path.join(base + parts[2], name)) as m:
                        return int(m.read()) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def environments(lamina_pid):
    """One entry per child of lamina: its processes (pid, comm, Rss, Pss) and its cgroup's charge."""
    kids = children_map()
    envs = []
    for root, _ in kids.get(lamina_pid, []):
        procs, todo = [], [root]
        while todo:
            pid = todo.pop()
            try:
                with open(f"/proc/{pid}/comm") as f:
                    comm = f.read().strip()
            except OSError:
                continue
            m = smaps(pid)
            if m:
                procs.append((pid, comm, m["Rss"], m["Pss"]))
            todo.extend(p for p, _ in kids.get(pid, []))
        envs.append({"procs": procs, "cgroup_kb": cgroup_memory_kb(root)})
    return envs


def bare_python_rss():
    """RSS and PSS of `python3 -S` importing what lamina's bootstrap imports, then sleeping."""
    p = subprocess.Popen(["/usr/bin/python3", "-S", "-c",
                          "import json, os, sys, time, _socket; sys.stdout.write('up\\n'); "
                          "sys.stdout.flush(); time.sleep(30)"], stdout=subprocess.PIPE)
    try:
        p.stdout.readline()
        return smaps(p.pid)
    finally:
        stop(p)


class Client:
    def __init__(self, port, timeout=120):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def call(self, method, path, body=None, expect=(200, 201, 202, 204)):
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        self.conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
        r = self.conn.getresponse()
        out = r.read()
        if r.status not in expect:
            raise RuntimeError(f"{method} {path}: {r.status} {out[:300]!r}")
        return out


def create_function(port, name, source, **extra):
    c = Client(port)
    c.call("POST", "/2015-03-31/functions", {"FunctionName": name, "Runtime": "python3.12", "Role": ROLE,
                                             "Handler": "handler.handler",
                                             "Code": {"ZipFile": zip_b64(source)}, **extra})
    deadline = time.monotonic() + 60
    while json.loads(c.call("GET", f"/2015-03-31/functions/{name}"))["Configuration"]["State"] != "Active":
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not become Active")
        time.sleep(0.02)


async def http_call(port, path, body):
    """One request on a connection of its own: (status, headers, body)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (path.encode(), len(body), body))
        await writer.drain()
        status = int((await reader.readline()).split()[1])
        headers = {}
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            key, _, value = line.decode().partition(":")
            headers[key.strip().lower()] = value.strip()
        return status, headers, await reader.readexactly(int(headers.get("content-length", 0)))
    finally:
        writer.close()


async def hold_warm(port, n, ramp, margin_mb, wait_s):
    """Keeps n invokes in flight until each sits at the barrier in an environment of its own,
    then releases them. Returns (environments reached, seconds to reach them, why it stopped
    early or None, answers by kind)."""
    arrived = []
    server = await asyncio.start_server(lambda r, w: arrived.append(w), "127.0.0.1", 0, backlog=4096)
    barrier_port = server.sockets[0].getsockname()[1]
    path = "/2015-03-31/functions/warm/invocations"
    tasks = []
    start = time.monotonic()
    why, last_note = None, start
    while len(arrived) < n:
        # at most `ramp` invokes sent and not yet at the barrier (cold starts in flight)
        while len(tasks) < n and len(tasks) - len(arrived) < ramp:
            body = json.dumps({"id": len(tasks), "port": barrier_port}).encode()
            tasks.append(asyncio.ensure_future(http_call(port, path, body)))
        await asyncio.sleep(0.05)
        if any(t.done() for t in tasks):
            why = "an invoke answered before its release"
        elif mem_available_mb() < margin_mb:
            why = f"MemAvailable fell below {margin_mb} MB"
        elif time.monotonic() - start > wait_s:
            why = f"not all up within {wait_s:.0f} s"
        if why:
            break
        if time.monotonic() - last_note > 15:
            print(f"    ... {len(arrived)} environments up after {time.monotonic() - start:.0f} s, "
                  f"MemAvailable {mem_available_mb()} MB, {load()}", flush=True)
            last_note = time.monotonic()
    up = len(arrived)
    took = time.monotonic() - start
    released = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # those that arrive after an early stop are let go too
        for w in arrived[released:]:
            w.write(b"x")
        released = len(arrived)
        if all(t.done() for t in tasks):
            break
        await asyncio.sleep(0.05)
    kinds = {}
    for i, t in enumerate(tasks):
        if not t.done():
            t.cancel()
            kinds["no answer"] = kinds.get("no answer", 0) + 1
            continue
        if t.cancelled() or t.exception():
            kinds["connection error"] = kinds.get("connection error", 0) + 1
            continue
        status, headers, body = t.result()
        if status == 200 and json.loads(body) == {"id": i}:
            kind = "200"
        elif status == 429:
            kind = "429 " + headers.get("x-amzn-errortype", "?")
        else:
            kind = f"{status} {body[:80]!r}"
        kinds[kind] = kinds.get(kind, 0) + 1
    for w in arrived:
        w.close()
    server.close()
    return up, took, why, kinds


def warm_part(binary, n, ramp, margin_mb, settle):
    print(f"\n== {n} warm environments of one function, then idle ({load()})", flush=True)
    need = n * 16 + margin_mb
    avail = mem_available_mb()
    if avail < need:
        print(f"  skipped: MemAvailable {avail} MB < {n} x 16 MB + {margin_mb} MB margin")
        return {}
    bare = bare_python_rss()
    flags = ["--account-concurrency", str(max(1000, n + 100)), "--scaling-rate", str(max(1000, n)),
             "--spare-environments", "0", "--idle-timeout", "3600"]
    with lamina_process(binary, *flags) as (proc, port):
        create_function(port, "warm", BARRIER, Timeout=900, MemorySize=128)
        lamina_before = smaps(proc.pid)
        up, took, why, kinds = asyncio.run(hold_warm(port, n, ramp, margin_mb, max(300.0, n * 0.5)))
        print(f"  {up} environments busy at once after {took:.1f} s (at most {ramp} cold starts in flight)"
              + (f"; stopped early: {why}" if why else ""))
        print(f"  answers: {kinds}")
        time.sleep(settle)  # every environment idle again
        envs = [e for e in environments(proc.pid) if any(c.startswith("python") for _, c, _, _ in e["procs"])]
        lamina_after = smaps(proc.pid)
    bad = {k: v for k, v in kinds.items() if k != "200"}
    if not envs:
        print("  no idle environment found")
        return {"warm answers": bad or "no environments"}
    count = len(envs)
    runtime = [next(p for p in e["procs"] if p[1].startswith("python")) for e in envs]
    env_pss = [sum(p[3] for p in e["procs"]) for e in envs]
    env_rss = [sum(p[2] for p in e["procs"]) for e in envs]
    other_pss = [sum(p[3] for p in e["procs"] if not p[1].startswith("python")) for e in envs]
    shapes = {}
    for e in envs:
        names = [p[1] for p in e["procs"]]
        shape = " + ".join(f"{names.count(c)} {c}" for c in sorted(set(names)))
        shapes[shape] = shapes.get(shape, 0) + 1
    growth_kb = lamina_after["Rss"] - lamina_before["Rss"]
    runtime_rss = statistics.median(r[2] for r in runtime)
    runtime_pss = statistics.median(r[3] for r in runtime)
    per_env = statistics.median(env_pss) + growth_kb / count
    cg = [e["cgroup_kb"] for e in envs if e["cgroup_kb"] is not None]
    mb = lambda kb: kb / 1024.0  # noqa: E731
    print(f"  {count} idle environments; processes per environment: {shapes}")
    print(f"  runtime process (python3 + lamina's bootstrap) own: RSS p50 {mb(runtime_rss):.2f} MB, "
          f"PSS p50 {mb(runtime_pss):.2f} MB; bare `python3 -S` outside a sandbox: RSS "
          f"{mb(bare['Rss']):.2f} MB, PSS {mb(bare['Pss']):.2f} MB")
    print(f"  per environment: PSS of its processes p50 {mb(statistics.median(env_pss)):.2f} MB "
          f"(p90 {mb(pct(env_pss, 90)):.2f}; bubblewrap's share {mb(statistics.median(other_pss)):.2f}), "
          f"RSS sum p50 {mb(statistics.median(env_rss)):.2f} MB"
          + (f", memory cgroup charge p50 {mb(statistics.median(cg)):.2f} MB" if cg else ""))
    print(f"  lamina RSS {mb(lamina_before['Rss']):.1f} -> {mb(lamina_after['Rss']):.1f} MB: "
          f"{growth_kb / count:.0f} kB per environment")
    print(f"  memory per idle environment (PSS + lamina's growth) {mb(per_env):.2f} MB = "
          f"{per_env / runtime_rss:.2f}x the runtime process's own RSS (goal <= {GOALS['memory']}x); "
          f"{per_env / runtime_pss:.2f}x its own PSS (all {count} sharing alike)")
    return {"warm answers": bad} if bad else {}


def create_many(port, count, conns=8):
    code = zip_b64(TINY)
    counter = iter(range(count))
    lock = threading.Lock()
    errors = []

    def worker():
        c = Client(port)
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            try:
                c.call("POST", "/2015-03-31/functions",
                       {"FunctionName": "f%05d" % i, "Runtime": "python3.12", "Role": ROLE,
                        "Handler": "handler.handler", "Code": {"ZipFile": code}}, expect=(201,))
            except (RuntimeError, OSError) as e:
                errors.append(str(e)[:200])
                c = Client(port)

    threads = [threading.Thread(target=worker) for _ in range(conns)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    return errors


def functions_part(binary, count, runs):
    print(f"\n== {count} functions ({load()})", flush=True)
    work = tempfile.mkdtemp(prefix="lamina-bench-scale-")
    bad = {}
    try:
        data = os.path.join(work, "many")
        # spares off while filling: each CreateFunction would otherwise start one (and stop the
        # oldest); what is stored is the same
        with lamina_process(binary, "--spare-environments", "0", data_dir=data) as (_, port):
            t = time.perf_counter()
            errors = create_many(port, count)
            took = time.perf_counter() - t
            print(f"  created {count - len(errors)} in {took:.1f} s ({(count - len(errors)) / took:.0f}/s, "
                  f"8 keep-alive connections)" + (f"; {len(errors)} failed, first: {errors[0]}" if errors else ""))
            if errors:
                bad["CreateFunction errors"] = len(errors)
            c = Client(port)
            page = json.loads(c.call("GET", "/2015-03-31/functions"))
            times = []
            for _ in range(300):
                t = time.perf_counter()
                c.call("GET", "/2015-03-31/functions")
                times.append((time.perf_counter() - t) * 1000)
            times = times[50:]
            print(f"  ListFunctions first page ({len(page['Functions'])} functions, keep-alive, "
                  f"{len(times)} after 50 warm-up): p50 {pct(times, 50):.3f} ms, p99 {pct(times, 99):.3f} ms "
                  f"(goal p50 <= {GOALS['list_ms']:g} ms)")
        many = []
        for _ in range(runs):
            ms, proc, port = startup.serve_until_ready(binary, ["--data-dir", data])
            functions = json.loads(Client(port).call("GET", "/health")).get("functions")
            stop(proc)
            many.append(ms)
            if functions != count - len(errors):
                bad["functions after restart"] = functions
        print(f"  start-up to /health with {count} functions: p50 {statistics.median(many):.1f} ms, "
              f"min {min(many):.1f}, max {max(many):.1f} ({runs} runs; goal <= {GOALS['start_many_ms']:g} ms)")
        empty = []
        for i in range(runs):
            d = os.path.join(work, "empty-%d" % i)
            ms, proc, _ = startup.serve_until_ready(binary, ["--data-dir", d])
            stop(proc)
            empty.append(ms)
        print(f"  start-up to /health with an empty data dir: p50 {statistics.median(empty):.1f} ms, "
              f"min {min(empty):.1f}, max {max(empty):.1f} ({runs} runs; goal <= {GOALS['start_empty_ms']:g} ms)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return bad


def sync_part(binary, n, sleep):
    print(f"\n== {n} parallel sync invokes against a limit of 100 ({load()})", flush=True)
    flags = ["--account-concurrency", "100", "--min-unreserved", "10", "--scaling-rate", "1000"]
    with lamina_process(binary, *flags) as (_, port):
        bad = concurrency.sync_burst(port, n, sleep)
    print("  goal, only 200s and 429 TooManyRequestsException: " + ("met" if not bad else f"NOT met: {bad}"))
    return bad


def invocations_metric(port, function):
    """The function's AWS/Lambda Invocations from lamina's /metrics page."""
    page = Client(port).call("GET", "/metrics").decode()
    for line in page.splitlines():
        if line.startswith("lamina_aws_lambda_invocations_total{") and f'FunctionName="{function}"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def events_part(binary, n):
    print(f"\n== {n} queued Event invokes ({load()})", flush=True)
    work = tempfile.mkdtemp(prefix="lamina-bench-scale-events-")
    try:
        with lamina_process(binary, data_dir=work) as (_, port):
            bad, got = concurrency.async_throughput(port, n, work, drain_timeout=max(600, n / 50))
            metric = invocations_metric(port, "events")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"  enqueue {n / got['queued_s']:.0f}/s over {got['queued_s']:.1f} s; all run {got['done_s']:.1f} s after "
          f"the first was sent ({got['done_s'] - got['queued_s']:.1f} s after the last was accepted); "
          f"the Invocations metric says {metric:.0f}")
    print(f"  goal, none lost: " + ("met" if not bad else f"NOT met: {bad}"))
    return bad


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=DEFAULT_BIN)
    ap.add_argument("--envs", type=int, default=1000)
    ap.add_argument("--ramp", type=int, default=32, help="cold starts in flight at most while warming")
    ap.add_argument("--margin-mb", type=int, default=3072, help="MemAvailable kept free while warming")
    ap.add_argument("--settle", type=float, default=3.0, help="seconds for environments to go idle")
    ap.add_argument("--functions", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=10, help="start-ups timed of each kind")
    ap.add_argument("--sync", type=int, default=1000)
    ap.add_argument("--sleep", type=float, default=1.0, help="seconds each sync invoke runs")
    ap.add_argument("--events", type=int, default=100000)
    ap.add_argument("--only", default="warm,functions,sync,events")
    args = ap.parse_args()
    binary = os.path.abspath(args.bin)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)  # two sockets per warm environment
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    parts = set(args.only.split(","))
    print(f"lamina scale, {binary}, {os.cpu_count()} cores, MemAvailable {mem_available_mb()} MB, {load()}",
          flush=True)
    bad = {}
    if "warm" in parts:
        bad.update(warm_part(binary, args.envs, args.ramp, args.margin_mb, args.settle))
    if "functions" in parts:
        bad.update(functions_part(binary, args.functions, args.runs))
    if "sync" in parts:
        bad.update(sync_part(binary, args.sync, args.sleep))
    if "events" in parts:
        bad.update(events_part(binary, args.events))
    print(f"\n{load()} after")
    if bad:
        print(f"WRONG ANSWERS: {bad}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
