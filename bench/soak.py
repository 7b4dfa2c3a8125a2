#!/usr/bin/env python3
"""Soak run for lamina: bounded, NOT part of CI. It prints numbers like the
other benchmarks, and exits 1 when a check fails (a leak, an unexpected error,
a lost response or a lost event) so that whoever runs it sees it failed.

It starts its own `lamina serve` (release build by default) with small
capacity flags so that throttling happens, then for --seconds (default 300)
drives mixed traffic from --clients threads, each with its own boto3 clients
(no retries, as the integration tests make them):

  * churned functions (python3.12): create, update code, update configuration,
    publish versions, create/update the alias "live" (with weights when there
    are two versions), put/delete reserved concurrency, put/delete provisioned
    concurrency on "live", delete, create again...
  * sync invokes of those ($LATEST, a version or "live"): quick ones, ones
    sleeping 50-500 ms, ones raising an error;
  * Event invokes of two long-lived functions whose OnFailure destination is a
    recorder function; within --drain seconds after the traffic, every
    accepted (202) event must be seen by the function (it prints a marker to
    its log stream) or by the recorder, and every event that failed must have
    reached the recorder;
  * GetAccountSettings, ListFunctions, CloudWatch GetMetricStatistics.

Afterwards it deletes everything and checks that lamina went back to where it
started: processes under lamina, its file descriptors, the host's mounts,
lamina's cgroups; and that its RSS did not keep growing (linear fit over the
second half of the run). On failure the data directory (function logs) and
lamina's stderr are kept, and their place printed.

Expected errors: 429 TooManyRequestsException (throttles, wanted), and
ResourceNotFound/ResourceConflict answers to a call on a churned function
that another client deleted (or deleted and created again) while the call
was in flight: each slot has a generation bumped when its delete starts, and
only an error whose slot generation changed during the call counts as such a
race. Anything else fails the run.

    python3 bench/soak.py [--bin build/lamina] [--seconds 300] [--clients 12]
"""
import argparse
import json
import os
import random
import re
import shutil
import sys
import tempfile
import threading
import time
import zipfile
import io
from collections import defaultdict
from datetime import datetime, timedelta, timezone

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from benchlib import DEFAULT_BIN, lamina_process, pct

ACCOUNT = "123456789012"  # lamina's defaults
REGION = "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/soak"
ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:"
CAPACITY = ["--account-concurrency", "20", "--min-unreserved", "5", "--scaling-rate", "50",
            "--async-retry-delay", "1", "--idle-timeout", "5"]
IDLE_TIMEOUT = 5

HANDLER = """import json, time
TAG = %r
def handler(event, context):
    if event.get("id"):
        print("SOAK-EVENT " + json.dumps({"id": event["id"], "tag": TAG}))
    time.sleep(event.get("sleep", 0))
    if event.get("fail"):
        raise RuntimeError("soak: failing on purpose")
    return {"tag": TAG, "version": context.function_version}
"""

RECORDER = """import json
def handler(event, context):
    print("RECEIVED " + json.dumps(event))
    return {"ok": True}
"""

# Budget of concurrency set aside (reserved or provisioned), fixed by the
# roles so that no put can be refused: 2 async targets x 2 + 2 "reserved"
# slots x 2 + 2 "pc" slots x 2 = 12 <= 20 - 5.
CHURN_ROLES = ["reserved", "reserved", "pc", "pc", "plain", "plain", "plain", "plain"]
ASYNC_RETRIES = [0, 1]  # MaximumRetryAttempts of the two async targets

EXPECTED_RACE_CODES = ("ResourceNotFoundException", "ResourceConflictException")


def zip_of(source):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        info = zipfile.ZipInfo("handler.py")
        info.external_attr = 0o100644 << 16  # readable by the unprivileged user functions run as
        z.writestr(info, source)
    return buf.getvalue()


def make_client(port, service="lambda"):
    """As tests/integration/lamina_testlib.py's make_client: one attempt, no retries."""
    cfg = Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=30,
                 proxies={})
    return boto3.session.Session().client(service, endpoint_url=f"http://127.0.0.1:{port}", region_name=REGION,
                                          aws_access_key_id="test", aws_secret_access_key="test", config=cfg)


# ------------------------------------------------------------------ /proc probes

def proc_table():
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
        except OSError:
            continue
        comm = st[st.index("(") + 1:st.rindex(")")]
        out[int(d)] = (int(st[st.rindex(")") + 2:].split()[1]), comm)
    return out


def descendants(pid):
    table = proc_table()
    children = defaultdict(list)
    for p, (ppid, _) in table.items():
        children[ppid].append(p)
    out, pending = [], [pid]
    while pending:
        for c in children.get(pending.pop(), []):
            out.append((c, table[c][1]))
            pending.append(c)
    return out


def describe(procs):
    """What a leftover process under lamina is: the function it runs, how it was started."""
    out = []
    for pid, comm in procs:
        try:
            env = dict(kv.split("=", 1) for kv in open(f"/proc/{pid}/environ").read().split("\0") if "=" in kv)
        except OSError:
            env = {}
        if "AWS_LAMBDA_FUNCTION_NAME" in env:
            out.append(f"{pid} {comm} {env['AWS_LAMBDA_FUNCTION_NAME']}:{env.get('AWS_LAMBDA_FUNCTION_VERSION')} "
                       f"{env.get('AWS_LAMBDA_INITIALIZATION_TYPE')}")
        else:
            out.append(f"{pid} {comm}")
    return out


def fd_kinds(targets):
    kinds = defaultdict(int)
    for t in targets:
        kinds["log stream" if t.endswith(".log") else re.sub(r"[:\[].*", "", t) if not t.startswith("/") else t] += 1
    return dict(kinds)


def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def fd_targets(pid):
    out = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            out.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            pass
    return out


def mounts():
    with open("/proc/self/mountinfo") as f:
        return [" ".join(l.split()[3:5]) for l in f]  # root and mount point


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def lamina_cgroups(pid):
    """The environment cgroups lamina made under its lamina-<pid> groups (memory, pids)."""
    out = []
    try:
        lines = open(f"/proc/{pid}/cgroup").read().splitlines()
    except OSError:
        return out
    for line in lines:
        _, controllers, path = line.split(":", 2)
        bases = [f"/sys/fs/cgroup/{c}" for c in controllers.split(",") if c] if controllers else \
            ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
        for base in bases:
            root = os.path.join(base, path.lstrip("/"), f"lamina-{pid}")
            if os.path.isdir(root):
                out += [os.path.join(root, d) for d in os.listdir(root) if os.path.isdir(os.path.join(root, d))]
    return sorted(set(out))


def slope_per_min(points):
    """Least-squares slope of (seconds, value) points, per minute."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mx = sum(t for t, _ in points) / n
    my = sum(v for _, v in points) / n
    den = sum((t - mx) ** 2 for t, _ in points)
    return 60.0 * sum((t - mx) * (v - my) for t, v in points) / den if den else 0.0


# ------------------------------------------------------------------ the soak

class Slot:
    """A function name the clients share; `gen` is bumped when a delete of it starts."""

    def __init__(self, name, role):
        self.name, self.role = name, role
        self.state = "absent"  # absent | creating | present | deleting
        self.gen = 0
        self.born = 0.0
        self.min_age = 0.0
        self.reset()

    def reset(self):
        self.versions = []
        self.alias = None  # None | "creating" | "present"


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.count = defaultdict(lambda: defaultdict(int))  # kind -> outcome -> n
        self.lat = defaultdict(list)  # kind -> ms of ok answers
        self.races = defaultdict(int)  # (kind, code) -> n
        self.throttle_reasons = defaultdict(int)
        self.failure_kinds = defaultdict(lambda: [0, None])  # (kind, outcome, message shape) -> [n, an example]

    def add(self, kind, outcome, ms=None, detail=None):
        with self.lock:
            self.count[kind][outcome] += 1
            if ms is not None and outcome == "ok":
                self.lat[kind].append(ms)
            if outcome in ("unexpected", "5xx", "lost", "wrong"):
                shape = re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}|soak-[a-z]+-\d+(:\S+)?|\d+", "#", str(detail))
                fk = self.failure_kinds[(kind, outcome, shape)]
                fk[0] += 1
                fk[1] = fk[1] or detail

    def done_and_failed(self):
        with self.lock:
            return (sum(sum(c.values()) for c in self.count.values()),
                    sum(n for n, _ in self.failure_kinds.values()))

    def total(self, outcome):
        with self.lock:
            return sum(c[outcome] for c in self.count.values())


class Soak:
    def __init__(self, args, port, pid, data_dir):
        self.args, self.port, self.pid, self.data_dir = args, port, pid, data_dir
        self.lock = threading.Lock()
        self.stats = Stats()
        self.churn = [Slot(f"soak-fn-{i}", role) for i, role in enumerate(CHURN_ROLES)]
        self.asyncs = [Slot(f"soak-async-{i}", "async") for i in range(len(ASYNC_RETRIES))]
        self.recorder = "soak-recorder"
        self.accepted = {}  # event id -> (function, fail)
        self.samples = []  # (t, rss kB, fds, processes)
        self.t0 = None
        self.stop_at = None
        self.sampling = threading.Event()

    # -------------------------------------------------------------- calls
    def call(self, kind, fn, slot=None, gen=None, check=None):
        """Runs one request; classifies its outcome; returns its result or None."""
        t = time.perf_counter()
        try:
            out = fn()
        except ClientError as e:
            ms = (time.perf_counter() - t) * 1000
            meta = e.response.get("ResponseMetadata", {})
            status = meta.get("HTTPStatusCode", 0)
            code = e.response.get("Error", {}).get("Code", "?")
            msg = e.response.get("Error", {}).get("Message", "")
            rid = meta.get("RequestId", "?")
            if status >= 500:
                self.stats.add(kind, "5xx", ms, f"HTTP {status} {code} request {rid}: {msg}")
            elif code == "TooManyRequestsException" and status == 429:
                self.stats.add(kind, "throttled", ms)
                with self.stats.lock:
                    self.stats.throttle_reasons[e.response.get("Reason") or msg[:60]] += 1
            elif code in EXPECTED_RACE_CODES and slot is not None and self.changed(slot, gen):
                self.stats.add(kind, "race", ms)
                with self.stats.lock:
                    self.stats.races[(kind, code)] += 1
            else:
                self.stats.add(kind, "unexpected", ms,
                               f"{slot.name if slot else ''} HTTP {status} {code} request {rid}: {msg}")
            return None
        except BotoCoreError as e:  # timeouts, refused or reset connections: no answer
            self.stats.add(kind, "lost", (time.perf_counter() - t) * 1000, f"{type(e).__name__}: {e}")
            return None
        ms = (time.perf_counter() - t) * 1000
        wrong = check(out) if check else None
        if wrong:
            self.stats.add(kind, "wrong", ms, wrong)
            return None
        self.stats.add(kind, "ok", ms)
        return out

    def changed(self, slot, gen):
        with self.lock:
            return slot.gen != gen or slot.state != "present"

    def pick(self, rnd, roles=None, alias=False):
        with self.lock:
            cands = [s for s in self.churn if s.state == "present" and (roles is None or s.role in roles)
                     and (not alias or s.alias == "present")]
            if not cands:
                return None, None
            s = rnd.choice(cands)
            return s, (s.gen, list(s.versions), s.alias)

    # -------------------------------------------------------------- operations
    def op_lifecycle(self, c, rnd):
        now = time.monotonic()
        with self.lock:
            absent = [s for s in self.churn if s.state == "absent"]
            old = [s for s in self.churn if s.state == "present" and now - s.born > s.min_age]
            if absent and (not old or rnd.random() < 0.6):
                s, action = rnd.choice(absent), "create"
                s.state = "creating"
            elif old:
                s, action = rnd.choice(old), "delete"
                s.state = "deleting"
                s.gen += 1
            else:
                return
        if action == "create":
            ok = self.call("create_function", lambda: c.create_function(
                FunctionName=s.name, Runtime="python3.12", Role=ROLE, Handler="handler.handler", Timeout=10,
                MemorySize=128, Code={"ZipFile": zip_of(HANDLER % f"{s.name}-{rnd.random()}")}))
            with self.lock:
                s.reset()
                s.state = "present" if ok else "absent"
                s.born, s.min_age = time.monotonic(), rnd.uniform(4, 15)
        else:
            self.call("delete_function", lambda: c.delete_function(FunctionName=s.name))
            with self.lock:
                s.reset()
                s.state = "absent"

    def op_invoke(self, c, rnd, mode):
        s, snap = self.pick(rnd)
        if s is None:
            return self.op_lifecycle(c, rnd)
        gen, versions, alias = snap
        # the newest versions only: each version has environments of its own
        choices = [None] + ([rnd.choice(versions[-3:])] if versions else []) + (["live"] if alias == "present" else [])
        q = rnd.choice(choices)
        kw = {"Qualifier": q} if q else {}
        event = {"sleep": round(rnd.uniform(0.05, 0.5), 3)} if mode == "sleep" else \
            {"fail": True} if mode == "error" else {}

        def run():
            r = c.invoke(FunctionName=s.name, Payload=json.dumps(event).encode(), **kw)
            return r, r["Payload"].read()

        def check(out):
            r, body = out
            if r["StatusCode"] != 200:
                return f"{s.name}:{q} status {r['StatusCode']}"
            if (mode == "error") != ("FunctionError" in r):
                return f"{s.name}:{q} mode {mode} FunctionError={r.get('FunctionError')} body={body[:200]!r}"
            return None

        self.call({"fast": "invoke", "sleep": "invoke-sleep", "error": "invoke-error"}[mode], run, s, gen, check)

    def op_event(self, c, rnd, ident):
        s = rnd.choice(self.asyncs)
        fail = rnd.random() < 0.2
        event = {"id": ident, "sleep": rnd.choice([0, 0, 0, 0, 0.02, 0.05]), "fail": fail}
        r = self.call("invoke-event", lambda: c.invoke(FunctionName=s.name, InvocationType="Event",
                                                       Payload=json.dumps(event).encode()),
                      check=lambda r: None if r["StatusCode"] == 202 else f"status {r['StatusCode']}")
        if r is not None:
            with self.lock:
                self.accepted[ident] = (s.name, fail, r["ResponseMetadata"].get("RequestId"))

    def op_update_code(self, c, rnd):
        s, snap = self.pick(rnd)
        if s:
            self.call("update_function_code", lambda: c.update_function_code(
                FunctionName=s.name, ZipFile=zip_of(HANDLER % f"{s.name}-{rnd.random()}")), s, snap[0])

    def op_update_config(self, c, rnd):
        s, snap = self.pick(rnd)
        if s:
            self.call("update_function_configuration", lambda: c.update_function_configuration(
                FunctionName=s.name, Description=f"soak {rnd.random()}", Timeout=rnd.choice([10, 12]),
                Environment={"Variables": {"SOAK": str(rnd.randrange(1000))}}), s, snap[0])

    def op_publish(self, c, rnd):
        s, snap = self.pick(rnd)
        if not s:
            return
        r = self.call("publish_version", lambda: c.publish_version(FunctionName=s.name), s, snap[0])
        if r:
            with self.lock:
                if s.gen == snap[0] and r["Version"] not in s.versions:
                    s.versions.append(r["Version"])

    def op_alias(self, c, rnd):
        s, snap = self.pick(rnd)
        if not s:
            return
        gen, versions, alias = snap
        if not versions:
            return self.op_publish(c, rnd)
        if alias is None:
            with self.lock:
                if s.gen != gen or s.alias is not None:
                    return
                s.alias = "creating"
            r = self.call("create_alias", lambda: c.create_alias(FunctionName=s.name, Name="live",
                                                                 FunctionVersion=rnd.choice(versions)), s, gen)
            with self.lock:
                if s.gen == gen:
                    s.alias = "present" if r else None
        elif alias == "present":
            primary = rnd.choice(versions[-3:])
            others = [v for v in versions if v != primary]
            kw = {}
            if others and rnd.random() < 0.7:
                kw["RoutingConfig"] = {"AdditionalVersionWeights": {rnd.choice(others): round(rnd.uniform(0.05, 0.95), 2)}}
            else:
                kw["RoutingConfig"] = {"AdditionalVersionWeights": {}}
            self.call("update_alias", lambda: c.update_alias(FunctionName=s.name, Name="live", FunctionVersion=primary,
                                                             **kw), s, gen)

    def op_reserved(self, c, rnd):
        s, snap = self.pick(rnd, roles={"reserved"})
        if not s:
            return
        if rnd.random() < 0.6:
            n = rnd.choice([0, 1, 1, 2, 2])
            self.call("put_function_concurrency", lambda: c.put_function_concurrency(
                FunctionName=s.name, ReservedConcurrentExecutions=n), s, snap[0])
        else:
            self.call("delete_function_concurrency", lambda: c.delete_function_concurrency(FunctionName=s.name),
                      s, snap[0])

    def op_provisioned(self, c, rnd):
        s, snap = self.pick(rnd, roles={"pc"}, alias=True)
        if not s:
            return
        if rnd.random() < 0.5:
            n = rnd.choice([1, 2])
            self.call("put_provisioned_concurrency_config", lambda: c.put_provisioned_concurrency_config(
                FunctionName=s.name, Qualifier="live", ProvisionedConcurrentExecutions=n), s, snap[0])
        else:
            self.call("delete_provisioned_concurrency_config", lambda: c.delete_provisioned_concurrency_config(
                FunctionName=s.name, Qualifier="live"), s, snap[0])

    def op_async_admin(self, c, rnd):
        s = rnd.choice(self.asyncs)
        x = rnd.random()
        if x < 0.25:
            self.call("update_function_code", lambda: c.update_function_code(
                FunctionName=s.name, ZipFile=zip_of(HANDLER % f"{s.name}-{rnd.random()}")))
        elif x < 0.5:
            self.call("update_function_configuration", lambda: c.update_function_configuration(
                FunctionName=s.name, Description=f"soak {rnd.random()}"))
        elif x < 0.75:
            n = rnd.choice([0, 1, 2, 2])
            self.call("put_function_concurrency", lambda: c.put_function_concurrency(
                FunctionName=s.name, ReservedConcurrentExecutions=n))
        else:
            self.call("delete_function_concurrency", lambda: c.delete_function_concurrency(FunctionName=s.name))

    def op_settings(self, c, rnd):
        def check(r):
            lim = r["AccountLimit"]
            if lim["ConcurrentExecutions"] != 20 or lim["UnreservedConcurrentExecutions"] < 5:
                return f"AccountLimit {lim}"
            return None

        self.call("get_account_settings", c.get_account_settings, check=check)

    def op_list(self, c, rnd):
        self.call("list_functions", lambda: c.list_functions(MaxItems=50))

    def op_metrics(self, cw, rnd):
        name = rnd.choice([s.name for s in self.churn + self.asyncs] + [self.recorder, None])
        metric = rnd.choice(["Invocations", "Errors", "Throttles", "Duration", "ConcurrentExecutions"])
        now = datetime.now(timezone.utc)
        self.call("get_metric_statistics", lambda: cw.get_metric_statistics(
            Namespace="AWS/Lambda", MetricName=metric,
            Dimensions=[{"Name": "FunctionName", "Value": name}] if name else [],
            StartTime=now - timedelta(minutes=10), EndTime=now + timedelta(minutes=1), Period=60,
            Statistics=["Sum", "Maximum"]))

    # -------------------------------------------------------------- threads
    def worker(self, idx):
        c, cw = make_client(self.port), make_client(self.port, "cloudwatch")
        rnd = random.Random(self.args.seed * 1000 + idx)
        ops = [
            (30, lambda: self.op_invoke(c, rnd, "fast")),
            (12, lambda: self.op_invoke(c, rnd, "sleep")),
            (5, lambda: self.op_invoke(c, rnd, "error")),
            (12, None),  # event
            (3, lambda: self.op_lifecycle(c, rnd)),
            (3, lambda: self.op_update_code(c, rnd)),
            (3, lambda: self.op_update_config(c, rnd)),
            (2, lambda: self.op_publish(c, rnd)),
            (3, lambda: self.op_alias(c, rnd)),
            (3, lambda: self.op_reserved(c, rnd)),
            (3, lambda: self.op_provisioned(c, rnd)),
            (1, lambda: self.op_async_admin(c, rnd)),
            (2, lambda: self.op_settings(c, rnd)),
            (2, lambda: self.op_list(c, rnd)),
            (3, lambda: self.op_metrics(cw, rnd)),
        ]
        weights = [w for w, _ in ops]
        n = 0
        try:
            while time.monotonic() < self.stop_at:
                _, fn = rnd.choices(ops, weights)[0]
                if fn is None:
                    n += 1
                    self.op_event(c, rnd, f"c{idx}-e{n}")
                else:
                    fn()
        finally:
            c.close()
            cw.close()

    def sampler(self):
        while not self.sampling.wait(5.0):
            self.sample()

    def sample(self):
        self.samples.append((time.monotonic() - self.t0, rss_kb(self.pid), fd_count(self.pid),
                             len(descendants(self.pid))))

    def progress(self):
        last = 0
        while not self.sampling.wait(10.0):
            done, failed = self.stats.done_and_failed()
            t = time.monotonic() - self.t0
            s = self.samples[-1] if self.samples else (0, 0, 0, 0)
            print(f"  t={t:5.0f}s  requests {done:7d} ({(done - last) / 10:6.1f}/s)  429 {self.stats.total('throttled'):6d}"
                  f"  races {self.stats.total('race'):4d}  failures {failed:3d}"
                  f"  events {len(self.accepted):6d}  rss {s[1] / 1024:6.1f} MB  fds {s[2]:4d}  procs {s[3]:3d}",
                  flush=True)
            last = done

    # -------------------------------------------------------------- events
    def log_lines(self, fn, prefix):
        group = os.path.join(self.data_dir, "logs", ACCOUNT, REGION, "aws", "lambda", fn)
        out = []
        if not os.path.isdir(group):
            return out
        for stream in sorted(os.listdir(group)):
            if not stream.endswith(".log"):
                continue
            try:
                with open(os.path.join(group, stream), errors="replace") as f:
                    for line in f:
                        if line.startswith(prefix):
                            try:
                                out.append(json.loads(line[len(prefix):]))
                            except ValueError:
                                pass
            except OSError:
                pass
        return out

    def event_census(self):
        ran = defaultdict(int)
        for s in self.asyncs:
            for rec in self.log_lines(s.name, "SOAK-EVENT "):
                ran[rec.get("id")] += 1
        dest = defaultdict(list)
        for rec in self.log_lines(self.recorder, "RECEIVED "):
            payload = rec.get("requestPayload")
            if isinstance(payload, dict) and payload.get("id"):
                dest[payload["id"]].append(rec.get("requestContext", {}).get("condition"))
        with self.lock:
            accepted = dict(self.accepted)
        lost = [i for i in accepted if i not in ran and i not in dest]
        # a failing event that ran must end at the OnFailure destination (retries exhausted)
        undelivered = [i for i, (_, fail, _) in accepted.items() if fail and i in ran and i not in dest]
        return accepted, ran, dest, lost, undelivered

    # -------------------------------------------------------------- the run
    def setup(self, c):
        c.create_function(FunctionName=self.recorder, Runtime="python3.12", Role=ROLE, Handler="handler.handler",
                          Timeout=10, Code={"ZipFile": zip_of(RECORDER)})
        for s, retries in zip(self.asyncs, ASYNC_RETRIES):
            c.create_function(FunctionName=s.name, Runtime="python3.12", Role=ROLE, Handler="handler.handler",
                              Timeout=10, Code={"ZipFile": zip_of(HANDLER % s.name)})
            c.put_function_event_invoke_config(FunctionName=s.name, MaximumRetryAttempts=retries,
                                               DestinationConfig={"OnFailure": {"Destination": ARN + self.recorder}})
            s.state = "present"

    def run(self):
        args = self.args
        base = {"procs": descendants(self.pid), "fds": fd_count(self.pid), "fd_targets": fd_targets(self.pid),
                "mounts": mounts(), "cgroups": lamina_cgroups(self.pid), "rss": rss_kb(self.pid)}
        print(f"lamina pid {self.pid}, port {self.port}, data {self.data_dir}")
        print(f"at start: {len(base['procs'])} processes under lamina, {base['fds']} fds, {len(base['mounts'])} mounts, "
              f"{len(base['cgroups'])} env cgroups, RSS {base['rss'] / 1024:.1f} MB")
        admin = make_client(self.port)
        self.setup(admin)
        self.t0 = time.monotonic()
        self.stop_at = self.t0 + args.seconds
        self.sample()
        aux = [threading.Thread(target=self.sampler, daemon=True), threading.Thread(target=self.progress, daemon=True)]
        workers = [threading.Thread(target=self.worker, args=(i,)) for i in range(args.clients)]
        print(f"traffic: {args.clients} clients for {args.seconds:.0f} s", flush=True)
        [t.start() for t in aux + workers]
        [t.join() for t in workers]
        traffic_s = time.monotonic() - self.t0
        self.sampling.set()
        self.sample()
        run_samples = list(self.samples)

        # drain: give the async targets their whole capacity back, wait for every accepted event
        print(f"traffic done in {traffic_s:.1f} s; draining events (up to {args.drain:.0f} s)", flush=True)
        for s in self.asyncs:
            self.call("delete_function_concurrency", lambda: admin.delete_function_concurrency(FunctionName=s.name))
        t = time.monotonic()
        while True:
            accepted, ran, dest, lost, undelivered = self.event_census()
            if (not lost and not undelivered) or time.monotonic() - t > args.drain:
                break
            time.sleep(1.0)
        drain_s = time.monotonic() - t
        time.sleep(2.0)  # late duplicates, for the count
        accepted, ran, dest, lost, undelivered = self.event_census()

        # cleanup: provisioned concurrency first, then every function
        with self.lock:
            present = [s for s in self.churn if s.state == "present"]
        for s in present:
            if s.role == "pc" and s.alias == "present":
                self.call("delete_provisioned_concurrency_config", lambda: admin.delete_provisioned_concurrency_config(
                    FunctionName=s.name, Qualifier="live"))
        for s in present + self.asyncs:
            self.call("delete_function", lambda: admin.delete_function(FunctionName=s.name))
        self.call("delete_function", lambda: admin.delete_function(FunctionName=self.recorder))
        left = admin.list_functions(MaxItems=50)["Functions"]
        admin.close()

        # wait for the environments to be reaped and the connections closed
        t = time.monotonic()
        deadline = t + IDLE_TIMEOUT + args.reap_wait
        while time.monotonic() < deadline:
            if (len(descendants(self.pid)) <= len(base["procs"]) and fd_count(self.pid) <= base["fds"] + args.fd_tolerance
                    and len(lamina_cgroups(self.pid)) <= len(base["cgroups"])):
                break
            time.sleep(0.5)
        reap_s = time.monotonic() - t
        end = {"procs": descendants(self.pid), "fds": fd_count(self.pid), "fd_targets": fd_targets(self.pid),
               "mounts": mounts(), "cgroups": lamina_cgroups(self.pid), "rss": rss_kb(self.pid)}
        end["procs_described"] = describe(end["procs"])
        streams = 0
        for _, _, files in os.walk(os.path.join(self.data_dir, "logs")):
            streams += sum(1 for f in files if f.endswith(".log"))
        end["streams"] = streams
        return dict(base=base, end=end, traffic_s=traffic_s, drain_s=drain_s, reap_s=reap_s, left=left,
                    run_samples=run_samples, events=(accepted, ran, dest, lost, undelivered))

    # -------------------------------------------------------------- report
    def report(self, r, exit_code, stderr_path):
        st = self.stats
        secs = r["traffic_s"]
        print()
        print(f"{'request kind':<38}{'total':>8}{'ok':>8}{'429':>7}{'race':>6}{'fail':>6}{'req/s':>8}"
              f"{'p50 ms':>9}{'p99 ms':>9}")
        kinds = sorted(st.count, key=lambda k: -sum(st.count[k].values()))
        for k in kinds:
            c = st.count[k]
            tot = sum(c.values())
            bad = c["unexpected"] + c["5xx"] + c["lost"] + c["wrong"]
            lat = st.lat[k]
            p50 = f"{pct(lat, 50):9.1f}" if lat else f"{'-':>9}"
            p99 = f"{pct(lat, 99):9.1f}" if lat else f"{'-':>9}"
            print(f"{k:<38}{tot:>8}{c['ok']:>8}{c['throttled']:>7}{c['race']:>6}{bad:>6}{tot / secs:>8.1f}{p50}{p99}")
        all_n = sum(sum(c.values()) for c in st.count.values())
        print(f"{'all':<38}{all_n:>8}{st.total('ok'):>8}{st.total('throttled'):>7}{st.total('race'):>6}"
              f"{'':>6}{all_n / secs:>8.1f}")
        print("(latencies of answered-ok requests; the request counts include the drain and cleanup calls)")
        if st.throttle_reasons:
            print("429 reasons: " + ", ".join(f"{k} {v}" for k, v in sorted(st.throttle_reasons.items(), key=lambda x: -x[1])))
        if st.races:
            print("expected races (a call on a churned function whose delete started while the call was in flight):")
            for (k, code), n in sorted(st.races.items(), key=lambda x: -x[1]):
                print(f"  {k}: {code} x{n}")

        checks = []

        def check(name, ok, detail):
            checks.append((name, ok, detail))

        bad = {o: st.total(o) for o in ("unexpected", "5xx", "lost", "wrong")}
        check("no unexpected errors", bad["unexpected"] == 0, f"{bad['unexpected']} (4xx other than 429 and races)")
        check("no 5xx", bad["5xx"] == 0, f"{bad['5xx']}")
        check("no lost responses/connection errors", bad["lost"] == 0, f"{bad['lost']} (read timeout 30 s)")
        check("no wrong answers", bad["wrong"] == 0, f"{bad['wrong']} (status / FunctionError / account limits)")
        check("throttling happened", None, f"{st.total('throttled')} x 429")
        check("environments started", None, f"{r['end']['streams']} (log streams written)")

        accepted, ran, dest, lost, undelivered = r["events"]
        by_cond = defaultdict(int)
        for conds in dest.values():
            for cnd in conds:
                by_cond[cnd] += 1
        dup = sum(1 for i in accepted if ran.get(i, 0) > 1 and not accepted[i][1])
        seen_fn = sum(1 for i in accepted if i in ran)
        seen_dest = sum(1 for i in accepted if i in dest)
        check("no lost async events", not lost,
              f"{len(accepted)} accepted, {seen_fn} ran, {seen_dest} at OnFailure "
              f"({', '.join(f'{k} {v}' for k, v in sorted(by_cond.items()))}), {len(lost)} lost; "
              f"waited {r['drain_s']:.1f} s for them (limit {self.args.drain:.0f})"
              + "".join(f"; lost {i} (to {accepted[i][0]}, fail={accepted[i][1]}, request {accepted[i][2]})"
                        for i in lost[:5]))
        check("failed events reach OnFailure", not undelivered,
              f"{len(undelivered)} failing events ran but never reached the recorder; "
              f"{dup} successful events ran more than once (at-least-once, not a failure)"
              + "".join(f"; {i} (request {accepted[i][2]})" for i in undelivered[:5]))
        check("every function deleted", not r["left"], f"{len(r['left'])} left: {[f['FunctionName'] for f in r['left']]}")
        b, e = r["base"], r["end"]
        check("no leaked processes", len(e["procs"]) <= len(b["procs"]),
              f"start {len(b['procs'])}, end {len(e['procs'])} (after {r['reap_s']:.1f} s); "
              f"max during run {max(s[3] for s in r['run_samples'])}"
              + (f"; left: {e['procs_described'][:9]}" if len(e["procs"]) > len(b["procs"]) else ""))
        extra_fds = [x for x in e["fd_targets"] if x not in b["fd_targets"]]
        check("no leaked fds", e["fds"] <= b["fds"] + self.args.fd_tolerance,
              f"start {b['fds']}, end {e['fds']} (tolerance +{self.args.fd_tolerance}); "
              f"max during run {max(s[2] for s in r['run_samples'])}"
              + (f"; end fds by kind: {fd_kinds(e['fd_targets'])}; {e['streams']} log streams (environments) "
                 f"were written; new, e.g.: {extra_fds[:2]}" if e["fds"] > b["fds"] + self.args.fd_tolerance else ""))
        new_mounts = [m for m in e["mounts"] if m not in b["mounts"]]
        check("no leaked mounts", len(e["mounts"]) <= len(b["mounts"]),
              f"start {len(b['mounts'])}, end {len(e['mounts'])}" + (f"; new: {new_mounts[:5]}" if new_mounts else ""))
        check("no leaked cgroups", len(e["cgroups"]) <= len(b["cgroups"]),
              f"start {len(b['cgroups'])}, end {len(e['cgroups'])}" + (f"; left: {e['cgroups'][:3]}" if e["cgroups"] else ""))
        rss = [(t, v) for t, v, _, _ in r["run_samples"] if v]
        vals = [v / 1024 for _, v in rss]
        half = [(t, v / 1024) for t, v in rss if t >= r["traffic_s"] / 2]
        slope = slope_per_min(half)
        check("memory flat", slope <= self.args.rss_slope,
              f"RSS min {min(vals):.1f} / avg {sum(vals) / len(vals):.1f} / max {max(vals):.1f} MB over {len(vals)} "
              f"samples; second-half slope {slope:+.2f} MB/min (limit {self.args.rss_slope}); "
              f"start {b['rss'] / 1024:.1f}, after cleanup {e['rss'] / 1024:.1f} MB")
        check("clean shutdown", exit_code == 0, f"lamina exit status {exit_code} after SIGTERM")
        warn = []
        try:
            with open(stderr_path, errors="replace") as f:
                warn = [l.rstrip() for l in f if l.strip()]
        except OSError:
            pass
        check("lamina stderr", None, f"{len(warn)} lines" + (f", first: {warn[:3]}" if warn else ""))

        print()
        print(f"{'check':<38}{'result':<8}detail")
        for name, ok, detail in checks:
            print(f"{name:<38}{('info' if ok is None else 'PASS' if ok else 'FAIL'):<8}{detail}")
        if st.failure_kinds:
            print("\nfailing requests, by kind (count, then an example):")
            for (k, o, _), (n, example) in sorted(st.failure_kinds.items(), key=lambda x: -x[1][0]):
                print(f"  {n:5d}  {k} [{o}] {example}")
        failed = [n for n, ok, _ in checks if ok is False]
        print(f"\nsoak {'FAILED: ' + ', '.join(failed) if failed else 'passed'}")
        return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=DEFAULT_BIN)
    ap.add_argument("--seconds", type=float, default=300.0, help="traffic duration (default 300)")
    ap.add_argument("--clients", type=int, default=12, help="client threads (default 12)")
    ap.add_argument("--drain", type=float, default=60.0, help="longest wait for async events after the traffic")
    ap.add_argument("--reap-wait", type=float, default=30.0, help="wait beyond the idle timeout for reaping")
    ap.add_argument("--fd-tolerance", type=int, default=3)
    ap.add_argument("--rss-slope", type=float, default=5.0, help="largest RSS growth allowed, MB/min")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", action="store_true", help="keep the data directory and lamina's stderr")
    args = ap.parse_args()
    if not os.path.exists(args.bin):
        sys.exit(f"no lamina binary at {args.bin} (--bin)")
    work = tempfile.mkdtemp(prefix="lamina-soak-")
    data_dir = os.path.join(work, "data")
    stderr_path = os.path.join(work, "lamina.stderr")
    rc = 1
    try:
        with open(stderr_path, "w") as err:
            with lamina_process(args.bin, *CAPACITY, data_dir=data_dir, stderr=err) as (proc, port):
                soak = Soak(args, port, proc.pid, data_dir)
                result = soak.run()
                alive = proc.poll() is None
        exit_code = proc.returncode if alive else f"{proc.returncode} (died during the run)"
        rc = soak.report(result, exit_code, stderr_path)
    finally:
        if args.keep or rc:
            print(f"kept {work} (data directory, lamina.stderr)")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
