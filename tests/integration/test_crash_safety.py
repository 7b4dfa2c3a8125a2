"""Crash safety: SIGKILL lamina at random points of a stream of mutations, restart it on the
same data dir, and prove that

  * nothing acknowledged is lost: every mutation whose response reached the client is visible
    after the restart with exactly the result that was acknowledged;
  * nothing half-done is visible: the state is the acknowledged one, or that plus the single
    mutation that was in flight when the process died -- never a mix; every listed layer
    version / function version can be fetched and the bytes served at its Location hash to its
    CodeSha256; version numbers are contiguous; aliases and provisioned configs point at
    existing versions;
  * orphaned blobs are collected: after each restart every file in <data>/blobs/ is referenced
    by something lamina lists (and every referenced blob is there), no temp files remain, and
    extracted/ holds nothing unreferenced.

One data dir lives across all rounds. Each round starts lamina, streams one family of
mutations from a thread (PublishLayerVersion with zips of a few hundred KB; UpdateFunctionCode
with a few hundred KB; UpdateFunctionConfiguration + PublishVersion; CreateAlias / UpdateAlias
with routing weights; Put/DeleteProvisionedConcurrencyConfig on published versions), kills the
server with SIGKILL after a random delay, and the next round checks everything after the
restart. The test keeps a model of the expected state: the confirmed state read after the last
restart, plus the acknowledged mutations replayed in order; the mutation in flight at the kill
may or may not have been applied, so exactly two states are acceptable.

The kills are timed by a seeded RNG: the seed is printed (and part of every failure message);
set LAMINA_CRASH_SEED to replay a run (the kill points also depend on timing, so a replay
explores the same neighbourhood, not necessarily the same instants).
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import io
import json
import os
import random
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from botocore.exceptions import BotoCoreError, ClientError

import lamina_testlib as lt

KILLS = 100  # SIGKILLs in the whole test (one per round)
FAMILIES = ("layer", "code", "publish", "alias", "provisioned")
FUNCTION = "crash-fn"
LAYERS = ("crash-layer-a", "crash-layer-b")
LIVE = "live"
MAX_PROVISIONED = 3  # configs kept at once: each one is a running execution environment
PAYLOAD_SIZES = (150_000, 450_000)  # bytes of incompressible padding in each uploaded zip
# The kill lands uniformly in [0, KILL_WINDOW_OPS x the family's mean request time] after
# the stream's first request was sent: a few mutations get acknowledged, one is cut.
KILL_WINDOW_OPS = 8
INITIAL_OP_SECONDS = {"layer": 0.06, "code": 0.02, "publish": 0.006, "alias": 0.006, "provisioned": 0.006}
# A hang guard, not a speed check: 100 restarts take ~30-40 s with a release build
# and ~140 s with CI's ASan + UBSan Debug build on 2 idle cores (measured), more
# while clang-tidy runs beside the tests. The conftest alarm defaults to 90 s.
TIME_LIMIT_S = 420

HANDLER_SRC = "def handler(event, context):\n    return {'ok': True, 'tag': TAG}\n"


# --------------------------------------------------------------------------------------------
# Payloads
# --------------------------------------------------------------------------------------------

def _zip(files: dict) -> bytes:
    """Zip with stored (uncompressed) entries: building it costs ~nothing, and random padding
    keeps it a few hundred KB on the wire."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            z.writestr(info, data)
    return buf.getvalue()


def code_zip(rng: random.Random, tag: str) -> bytes:
    return _zip({"handler.py": f"TAG = {tag!r}\n\n" + HANDLER_SRC,
                 "pad.bin": rng.randbytes(rng.randint(*PAYLOAD_SIZES))})


def layer_zip(rng: random.Random, tag: str) -> bytes:
    return _zip({"python/crash_layer/__init__.py": f"TAG = {tag!r}\n",
                 "python/crash_layer/pad.bin": rng.randbytes(rng.randint(*PAYLOAD_SIZES))})


def sha_hex(code_sha256_b64: str) -> str:
    return base64.b64decode(code_sha256_b64).hex()


# --------------------------------------------------------------------------------------------
# Model of the expected state
# --------------------------------------------------------------------------------------------

def weights_key(routing: dict | None) -> tuple:
    return tuple(sorted(((routing or {}).get("AdditionalVersionWeights") or {}).items()))


@dataclass
class Model:
    """What the control plane must show (the parts the mutations change)."""
    layers: dict = field(default_factory=dict)    # layer name -> {version int: CodeSha256}
    latest: tuple = ("", "")                      # $LATEST (CodeSha256, Description)
    versions: dict = field(default_factory=dict)  # version int -> (CodeSha256, Description)
    aliases: dict = field(default_factory=dict)   # alias -> (FunctionVersion, weights_key)
    provisioned: dict = field(default_factory=dict)  # version qualifier -> requested count

    def copy(self) -> "Model":
        return copy.deepcopy(self)

    def as_dict(self) -> dict:
        return {"layers": self.layers, "latest": self.latest, "versions": self.versions,
                "aliases": self.aliases, "provisioned": self.provisioned}


@dataclass
class Op:
    kind: str           # the API operation
    args: dict          # boto3 kwargs
    family: str
    sha: str = ""       # CodeSha256 of the uploaded zip
    response: dict | None = None
    predicted: dict | None = None
    seconds: float = 0.0

    def describe(self) -> str:
        shown = {k: (f"<zip {len(v)} B sha {self.sha[:12]}>" if k == "ZipFile" else
                     {"ZipFile": f"<zip {len(v['ZipFile'])} B sha {self.sha[:12]}>"} if k == "Content" else v)
                 for k, v in self.args.items()}
        return f"{self.kind}({shown})"


def apply(m: Model, op: Op) -> dict:
    """Apply op to the model; return the fields its response must carry."""
    a = op.args
    if op.kind == "PublishLayerVersion":
        versions = m.layers.setdefault(a["LayerName"], {})
        n = max(versions, default=0) + 1
        versions[n] = op.sha
        return {"Version": n, "Content.CodeSha256": op.sha, "Description": a["Description"]}
    if op.kind == "UpdateFunctionCode":
        m.latest = (op.sha, m.latest[1])
        return {"CodeSha256": op.sha}
    if op.kind == "UpdateFunctionConfiguration":
        m.latest = (m.latest[0], a["Description"])
        return {"Description": a["Description"], "CodeSha256": m.latest[0]}
    if op.kind == "PublishVersion":
        last = max(m.versions, default=0)
        if last and m.versions[last] == m.latest:  # nothing changed: AWS returns the last version
            n = last
        else:
            n = last + 1
            m.versions[n] = m.latest
        return {"Version": str(n), "CodeSha256": m.versions[n][0], "Description": m.versions[n][1]}
    if op.kind in ("CreateAlias", "UpdateAlias"):
        m.aliases[a["Name"]] = (a["FunctionVersion"], weights_key(a.get("RoutingConfig")))
        return {"Name": a["Name"], "FunctionVersion": a["FunctionVersion"],
                "RoutingConfig.AdditionalVersionWeights": dict(weights_key(a.get("RoutingConfig")))}
    if op.kind == "PutProvisionedConcurrencyConfig":
        m.provisioned[a["Qualifier"]] = a["ProvisionedConcurrentExecutions"]
        return {"RequestedProvisionedConcurrentExecutions": a["ProvisionedConcurrentExecutions"]}
    if op.kind == "DeleteProvisionedConcurrencyConfig":
        m.provisioned.pop(a["Qualifier"], None)
        return {}
    raise AssertionError(op.kind)


def field_of(resp: dict, dotted: str):
    cur = resp
    for part in dotted.split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    if dotted.endswith("AdditionalVersionWeights") and cur is None:
        return {}  # no RoutingConfig in the answer: no additional versions
    return cur


# --------------------------------------------------------------------------------------------
# The mutation stream (runs in a thread until the server dies under it)
# --------------------------------------------------------------------------------------------

class Stream:
    def __init__(self, lam, family: str, model: Model, rng: random.Random, round_no: int):
        self.lam = lam
        self.family = family
        self.model = model.copy()  # the state the acknowledged mutations lead to
        self.rng = rng
        self.round_no = round_no
        self.acked: list[Op] = []
        self.in_flight: Op | None = None
        self.error: BaseException | None = None  # how the stream ended
        self.started = threading.Event()
        self.counter = 0

    def _tag(self) -> str:
        self.counter += 1
        return f"r{self.round_no}-{self.family}-{self.counter}"

    def _published(self) -> list[str]:
        return [str(n) for n in sorted(self.model.versions)]

    def next_ops(self) -> list[Op]:
        rng, m, tag = self.rng, self.model, self._tag()
        if self.family == "layer":
            z = layer_zip(rng, tag)
            return [Op("PublishLayerVersion", {"LayerName": rng.choice(LAYERS), "Content": {"ZipFile": z},
                                               "Description": tag, "CompatibleRuntimes": [lt.RUNTIME]},
                       "layer", sha=lt.b64sha256(z))]
        if self.family == "code":
            z = code_zip(rng, tag)
            return [Op("UpdateFunctionCode", {"FunctionName": FUNCTION, "ZipFile": z}, "code",
                       sha=lt.b64sha256(z))]
        if self.family == "publish":
            return [Op("UpdateFunctionConfiguration", {"FunctionName": FUNCTION, "Description": tag}, "publish"),
                    Op("PublishVersion", {"FunctionName": FUNCTION}, "publish")]
        if self.family == "alias":
            versions = self._published()
            primary = rng.choice(versions[-12:])
            args = {"FunctionName": FUNCTION, "FunctionVersion": primary, "Description": tag}
            others = [v for v in versions[-12:] if v != primary]
            if others and rng.random() < 0.75:
                args["RoutingConfig"] = {"AdditionalVersionWeights": {
                    rng.choice(others): rng.randint(1, 99) / 100}}
            if rng.random() < 0.5:
                args["Name"] = f"a-r{self.round_no:03d}-{self.counter:04d}"
                return [Op("CreateAlias", args, "alias")]
            args["Name"] = rng.choice([LIVE] + sorted(m.aliases))
            if "RoutingConfig" not in args:
                args["RoutingConfig"] = {"AdditionalVersionWeights": {}}  # clear any routing
            return [Op("UpdateAlias", args, "alias")]
        if self.family == "provisioned":
            if len(m.provisioned) >= MAX_PROVISIONED or (m.provisioned and rng.random() < 0.35):
                q = rng.choice(sorted(m.provisioned))
                return [Op("DeleteProvisionedConcurrencyConfig", {"FunctionName": FUNCTION, "Qualifier": q},
                           "provisioned")]
            q = rng.choice(self._published()[-8:])  # a new config, or the same one put again
            return [Op("PutProvisionedConcurrencyConfig", {"FunctionName": FUNCTION, "Qualifier": q,
                                                           "ProvisionedConcurrentExecutions": 1}, "provisioned")]
        raise AssertionError(self.family)

    def run(self):
        calls = {"PublishLayerVersion": self.lam.publish_layer_version,
                 "UpdateFunctionCode": self.lam.update_function_code,
                 "UpdateFunctionConfiguration": self.lam.update_function_configuration,
                 "PublishVersion": self.lam.publish_version,
                 "CreateAlias": self.lam.create_alias,
                 "UpdateAlias": self.lam.update_alias,
                 "PutProvisionedConcurrencyConfig": self.lam.put_provisioned_concurrency_config,
                 "DeleteProvisionedConcurrencyConfig": self.lam.delete_provisioned_concurrency_config}
        try:
            while True:
                for op in self.next_ops():
                    self.in_flight = op
                    self.started.set()
                    t0 = time.monotonic()
                    resp = calls[op.kind](**op.args)
                    op.seconds = time.monotonic() - t0
                    resp.pop("ResponseMetadata", None)
                    op.response = resp
                    op.predicted = apply(self.model, op)
                    self.acked.append(op)  # the client got the response: acknowledged
                    self.in_flight = None
        except BaseException as e:  # the server died under us (or answered an error: checked later)
            self.error = e
        finally:
            self.started.set()


# --------------------------------------------------------------------------------------------
# Reading the state back
# --------------------------------------------------------------------------------------------

def _pages(lam, op: str, key: str, **kw) -> list:
    out = []
    for page in lam.get_paginator(op).paginate(**kw):
        out += page[key]
    return out


@dataclass
class Observed:
    model: Model
    layer_objs: dict      # (layer, version) -> GetLayerVersion response
    function_rows: dict   # "$LATEST" / "N" -> list_functions(ALL) row
    alias_objs: dict      # name -> alias row
    provisioned_objs: dict  # qualifier -> list row


def read_state(lam) -> Observed:
    m = Model()
    layer_objs = {}
    for layer in _pages(lam, "list_layers", "Layers"):
        name = layer["LayerName"]
        versions = m.layers.setdefault(name, {})
        for row in _pages(lam, "list_layer_versions", "LayerVersions", LayerName=name):
            got = lam.get_layer_version(LayerName=name, VersionNumber=row["Version"])
            got.pop("ResponseMetadata")
            layer_objs[(name, row["Version"])] = got
            versions[row["Version"]] = got["Content"]["CodeSha256"]
    rows = _pages(lam, "list_functions", "Functions", FunctionVersion="ALL")
    names = {r["FunctionName"] for r in rows}
    assert names == {FUNCTION}, f"functions listed: {sorted(names)}"
    function_rows = {}
    for r in rows:
        assert r["Version"] not in function_rows, f"version {r['Version']} listed twice"
        function_rows[r["Version"]] = r
        if r["Version"] == "$LATEST":
            m.latest = (r["CodeSha256"], r["Description"])
        else:
            m.versions[int(r["Version"])] = (r["CodeSha256"], r["Description"])
    alias_objs = {a["Name"]: a for a in _pages(lam, "list_aliases", "Aliases", FunctionName=FUNCTION)}
    for name, a in alias_objs.items():
        m.aliases[name] = (a["FunctionVersion"], weights_key(a.get("RoutingConfig")))
    provisioned_objs = {}
    for c in _pages(lam, "list_provisioned_concurrency_configs", "ProvisionedConcurrencyConfigs",
                    FunctionName=FUNCTION):
        q = c["FunctionArn"].rsplit(":", 1)[1]
        provisioned_objs[q] = c
        m.provisioned[q] = c["RequestedProvisionedConcurrentExecutions"]
    return Observed(m, layer_objs, function_rows, alias_objs, provisioned_objs)


def model_diff(want: Model, got: Model) -> str:
    lines = []
    w, g = want.as_dict(), got.as_dict()
    for part in w:
        if w[part] == g[part]:
            continue
        if isinstance(w[part], dict):
            wk, gk = w[part], g[part]
            for k in sorted(set(wk) | set(gk), key=str):
                if wk.get(k) != gk.get(k):
                    lines.append(f"  {part}[{k!r}]: expected {wk.get(k, '<absent>')!r}, "
                                 f"found {gk.get(k, '<absent>')!r}")
        else:
            lines.append(f"  {part}: expected {w[part]!r}, found {g[part]!r}")
    return "\n".join(lines)


def strip_location(obj: dict) -> dict:
    obj = copy.deepcopy(obj)
    obj.get("Content", {}).pop("Location", None)
    obj.get("Code", {}).pop("Location", None)
    return obj


def processes_using(path: Path) -> list[str]:
    """Live (non-zombie) processes whose command line names `path`: environments of a dead lamina."""
    needle = str(path).encode()
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read()
            with open(f"/proc/{pid}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in cmd and state != b"Z":
            shown = cmd.replace(b"\0", b" ")[:160].decode(errors="replace")
            out.append(f"{pid}: {shown}")
    return out


# --------------------------------------------------------------------------------------------
# The checker
# --------------------------------------------------------------------------------------------

class CrashChecker:
    def __init__(self, seed: int, data: Path):
        self.seed = seed
        self.data = data
        self.verified_downloads: set = set()  # (kind, name, version, sha) fetched and hashed
        self.hashed_blob_files: set = set()
        self.immutable_acks: list[Op] = []   # PublishLayerVersion / PublishVersion acks of all rounds
        self.stats = {"kills": 0, "acked": 0, "kill_in_flight": {}, "in_flight_applied": 0,
                      "in_flight_not_applied": 0, "orphan_blobs_collected": 0, "temp_files_collected": 0,
                      "orphan_extracted_collected": 0}

    def where(self, round_no, family, stream: Stream | None = None) -> str:
        s = f"[seed={self.seed} round={round_no} family={family}]"
        if stream is not None:
            acked = "\n".join(f"    {op.describe()} -> {self._short(op.response)}" for op in stream.acked[-8:])
            s += (f"\n  acknowledged this round ({len(stream.acked)}, last 8):\n{acked or '    (none)'}"
                  f"\n  in flight at the kill: {stream.in_flight.describe() if stream.in_flight else None}")
        return s

    @staticmethod
    def _short(resp):
        if not resp:
            return resp
        keep = ("Version", "CodeSha256", "Description", "FunctionVersion", "RoutingConfig",
                "RequestedProvisionedConcurrentExecutions", "LastModified")
        out = {k: resp[k] for k in keep if k in resp}
        if "Content" in resp:
            out["Content.CodeSha256"] = resp["Content"].get("CodeSha256")
        return out

    # ---------------------------------------------------------------- the per-restart checks
    def check_after_restart(self, srv, lam, confirmed: Model, stream: Stream | None, round_no, family,
                            blobs_before: set, extracted_before: set) -> Model:
        where = self.where(round_no, family, stream)
        status, _, body = lt.http_get(srv.url + "/health")
        assert status == 200, f"{where} /health answered {status} after the restart"
        assert json.loads(body)["functions"] == 1, f"{where} /health: {body!r}"
        obs = read_state(lam)
        got = obs.model

        # 1. nothing acknowledged lost, nothing half-done: the acknowledged state, or that plus
        #    the mutation that was in flight -- nothing else.
        expected = confirmed.copy()
        for op in stream.acked if stream else []:
            predicted = apply(expected, op)
            assert predicted == op.predicted  # same replay as in the stream
            for key, want in predicted.items():
                assert field_of(op.response, key) == want, (
                    f"{where}\n  acknowledged {op.describe()} answered {key}={field_of(op.response, key)!r}, "
                    f"expected {want!r}")
        candidates = [expected]
        if stream and stream.in_flight is not None:
            with_in_flight = expected.copy()
            apply(with_in_flight, stream.in_flight)
            if with_in_flight != expected:
                candidates.append(with_in_flight)
        if got not in candidates:
            diffs = "\n".join(f" against the acknowledged state{' + in-flight' if i else ''}:\n{model_diff(c, got)}"
                              for i, c in enumerate(candidates))
            raise AssertionError(f"{where}\n  the state after the restart is neither the acknowledged state nor "
                                 f"that plus the in-flight mutation:\n{diffs}")
        if len(candidates) == 2:
            self.stats["in_flight_applied" if got == candidates[1] else "in_flight_not_applied"] += 1

        # 2. exactly the acknowledged results
        self._check_exact_acks(lam, obs, stream, where)

        # 3. structure: contiguous numbers, references to existing versions
        for layer, versions in got.layers.items():
            assert sorted(versions) == list(range(1, len(versions) + 1)), \
                f"{where} layer {layer} versions are not contiguous: {sorted(versions)}"
        assert sorted(got.versions) == list(range(1, len(got.versions) + 1)), \
            f"{where} function versions are not contiguous: {sorted(got.versions)}"
        existing = {str(n) for n in got.versions}
        for name, (fv, weights) in got.aliases.items():
            assert fv in existing, f"{where} alias {name} points at missing version {fv}"
            for extra, w in weights:
                assert extra in existing and extra != fv and 0 < w < 1, \
                    f"{where} alias {name} routes {w} to bad version {extra}"
        for q in got.provisioned:
            assert q in existing, f"{where} provisioned config on missing version {q}"

        # 4. every listed version can be fetched and its bytes hash to its CodeSha256
        self._check_downloads(lam, obs, where)

        # 5. provisioned environments come back (and stop touching extracted/ and opt/)
        self._wait_provisioned_ready(lam, got, where)

        # 6. orphans collected: blobs/ is exactly the referenced set, no temp files anywhere
        self._check_data_dir(got, where, blobs_before, extracted_before)
        return got

    def _check_exact_acks(self, lam, obs: Observed, stream: Stream | None, where: str):
        if not stream:
            return
        last_write = {}
        for op in stream.acked:
            if op.kind in ("PublishLayerVersion", "PublishVersion"):
                self.immutable_acks.append(op)
                self._compare_immutable(lam, op, where)
            elif op.kind in ("CreateAlias", "UpdateAlias"):
                last_write[("alias", op.args["Name"])] = op
            elif op.kind in ("PutProvisionedConcurrencyConfig", "DeleteProvisionedConcurrencyConfig"):
                last_write[("pc", op.args["Qualifier"])] = op
            elif op.kind == "UpdateFunctionCode":
                last_write[("code",)] = op
            elif op.kind == "UpdateFunctionConfiguration":
                last_write[("config",)] = op
        fl = stream.in_flight
        touched = set()
        if fl is not None:
            if fl.kind in ("CreateAlias", "UpdateAlias"):
                touched.add(("alias", fl.args["Name"]))
            elif "Provisioned" in fl.kind:
                touched.add(("pc", fl.args["Qualifier"]))
            elif fl.kind == "UpdateFunctionCode":
                touched.add(("code",))
            elif fl.kind == "UpdateFunctionConfiguration":
                touched.add(("config",))
        for key, op in last_write.items():
            if key in touched:
                continue  # the in-flight mutation may legitimately have replaced it
            if key[0] == "alias":
                got = lam.get_alias(FunctionName=FUNCTION, Name=key[1])
                got.pop("ResponseMetadata")
                assert got == op.response, f"{where}\n  alias {key[1]}: acknowledged {op.response}, found {got}"
            elif key[0] == "pc":
                if op.kind.startswith("Delete"):
                    assert key[1] not in obs.provisioned_objs, f"{where} deleted provisioned config {key[1]} is back"
                    continue
                got = lam.get_provisioned_concurrency_config(FunctionName=FUNCTION, Qualifier=key[1])
                assert (got["RequestedProvisionedConcurrentExecutions"], got["LastModified"]) == (
                    op.response["RequestedProvisionedConcurrentExecutions"], op.response["LastModified"]), \
                    f"{where}\n  provisioned {key[1]}: acknowledged {op.response}, found {got}"
            elif key[0] == "code":
                row = obs.function_rows["$LATEST"]
                assert (row["CodeSha256"], row["CodeSize"]) == (op.response["CodeSha256"], op.response["CodeSize"]), \
                    f"{where}\n  $LATEST code: acknowledged {self._short(op.response)}, found {self._short(row)}"
            elif key[0] == "config":
                row = obs.function_rows["$LATEST"]
                assert row["Description"] == op.response["Description"], \
                    (f"{where}\n  $LATEST description: acknowledged {op.response['Description']!r}, "
                     f"found {row['Description']!r}")

    def _compare_immutable(self, lam, op: Op, where: str):
        if op.kind == "PublishLayerVersion":
            got = lam.get_layer_version(LayerName=op.args["LayerName"], VersionNumber=op.response["Version"])
        else:
            got = lam.get_function_configuration(FunctionName=FUNCTION, Qualifier=op.response["Version"])
        got.pop("ResponseMetadata")
        want = strip_location(op.response)
        got = strip_location(got)
        assert got == want, (f"{where}\n  acknowledged {op.describe()} answered\n    {want}\n  "
                             f"after the restart it reads\n    {got}")

    def _check_downloads(self, lam, obs: Observed, where: str, everything: bool = False):
        for (layer, version), g in obs.layer_objs.items():
            key = ("layer", layer, version, g["Content"]["CodeSha256"])
            if key in self.verified_downloads and not everything:
                continue
            self._download(g["Content"]["Location"], g["Content"]["CodeSha256"], g["Content"]["CodeSize"],
                           f"layer {layer}:{version}", where)
            self.verified_downloads.add(key)
        for q, row in obs.function_rows.items():
            key = ("function", FUNCTION, q, row["CodeSha256"])
            if key in self.verified_downloads and not everything:
                continue
            g = lam.get_function(FunctionName=FUNCTION, Qualifier=q)
            assert g["Configuration"]["CodeSha256"] == row["CodeSha256"], \
                f"{where} {FUNCTION}:{q}: GetFunction and ListFunctions disagree on CodeSha256"
            self._download(g["Code"]["Location"], row["CodeSha256"], row["CodeSize"], f"{FUNCTION}:{q}", where)
            self.verified_downloads.add(key)

    @staticmethod
    def _download(url: str, sha: str, size: int, what: str, where: str):
        status, _, body = lt.http_get(url)
        assert status == 200, f"{where} {what}: GET {url} answered {status}: {body[:200]!r}"
        assert lt.b64sha256(body) == sha and len(body) == size, (
            f"{where} {what}: the bytes served ({len(body)} B, sha {lt.b64sha256(body)}) are not the "
            f"CodeSha256 {sha} / CodeSize {size} it is listed with")

    @staticmethod
    def _wait_provisioned_ready(lam, got: Model, where: str, timeout: float = 20.0):
        if not got.provisioned:
            return
        deadline = time.monotonic() + timeout
        while True:
            rows = lam.list_provisioned_concurrency_configs(FunctionName=FUNCTION)["ProvisionedConcurrencyConfigs"]
            status = {r["FunctionArn"].rsplit(":", 1)[1]: (r["Status"], r.get("StatusReason")) for r in rows}
            if all(s == "READY" for s, _ in status.values()):
                for r in rows:
                    assert (r["AllocatedProvisionedConcurrentExecutions"]
                            == r["RequestedProvisionedConcurrentExecutions"]), f"{where} {r}"
                return
            assert not any(s == "FAILED" for s, _ in status.values()), \
                f"{where} provisioned environments failed after the restart: {status}"
            assert time.monotonic() < deadline, f"{where} provisioned configs not READY after {timeout}s: {status}"
            time.sleep(0.02)

    def _check_data_dir(self, got: Model, where: str, blobs_before: set, extracted_before: set):
        referenced = {sha_hex(s) for v in got.layers.values() for s in v.values()}
        referenced |= {sha_hex(got.latest[0])} | {sha_hex(s) for s, _ in got.versions.values()}
        blobs = set(os.listdir(self.data / "blobs"))
        temps = sorted(n for n in blobs if not (len(n) == 64 and all(c in "0123456789abcdef" for c in n)))
        assert not temps, f"{where} temp/partial files left in blobs/ after the restart: {temps}"
        missing = referenced - blobs
        assert not missing, f"{where} referenced blobs missing from blobs/: {sorted(missing)}"
        orphans = blobs - referenced
        assert not orphans, (f"{where} blobs/ holds {len(orphans)} blob(s) that nothing lamina lists references "
                             f"(orphans not collected): {sorted(orphans)}")
        for name in blobs - self.hashed_blob_files:  # a blob file is exactly the bytes it is named after
            digest = hashlib.sha256((self.data / "blobs" / name).read_bytes()).hexdigest()
            assert digest == name, f"{where} blobs/{name} holds bytes hashing to {digest} (partial write?)"
            self.hashed_blob_files.add(name)
        self.hashed_blob_files &= blobs
        self.stats["orphan_blobs_collected"] += len({n for n in blobs_before if len(n) == 64} - referenced)
        self.stats["temp_files_collected"] += len({n for n in blobs_before if n.startswith(".tmp-")})
        extracted = set(os.listdir(self.data / "extracted"))
        bad = sorted(n for n in extracted if n not in referenced)
        assert not bad, f"{where} extracted/ holds trees of unreferenced or partial blobs: {bad}"
        self.stats["orphan_extracted_collected"] += len(extracted_before - referenced)
        opt_temps = sorted(n for n in os.listdir(self.data / "opt") if n.startswith(".tmp-"))
        assert not opt_temps, f"{where} temp trees left in opt/: {opt_temps}"

    # ---------------------------------------------------------------- the end
    def final_checks(self, srv, lam, got: Model, round_no):
        where = f"[seed={self.seed} final, after {round_no} kills]"
        obs = read_state(lam)
        assert obs.model == got, f"{where} state changed without mutations:\n{model_diff(got, obs.model)}"
        for op in self.immutable_acks:  # every version ever acknowledged, exactly as acknowledged
            self._compare_immutable(lam, op, where)
        self._check_downloads(lam, obs, where, everything=True)
        for name in sorted(os.listdir(self.data / "blobs")):
            digest = hashlib.sha256((self.data / "blobs" / name).read_bytes()).hexdigest()
            assert digest == name, f"{where} blobs/{name} holds bytes hashing to {digest}"
        status, _, body = lt.http_get(srv.url + "/health")
        assert status == 200, f"{where} /health answered {status}"
        assert lam.list_functions()["Functions"][0]["FunctionName"] == FUNCTION
        self._wait_provisioned_ready(lam, got, where)
        created = sorted(a for a in got.aliases if a.startswith("a-r"))  # names sort in creation order
        latest_alias = created[-1] if created else LIVE
        for alias in dict.fromkeys([latest_alias, LIVE]):
            r = lam.invoke(FunctionName=FUNCTION, Qualifier=alias, Payload=b"{}")
            payload = r["Payload"].read()
            assert "FunctionError" not in r and json.loads(payload).get("ok") is True, \
                f"{where} invoke {FUNCTION}:{alias} -> {r.get('FunctionError')} {payload[:300]!r}"


# --------------------------------------------------------------------------------------------
# The test
# --------------------------------------------------------------------------------------------

def _setup(lam, rng: random.Random):
    """The function the rounds mutate: two published versions and the `live` alias."""
    lam.create_function(FunctionName=FUNCTION, Runtime=lt.RUNTIME, Role=lt.ROLE_ARN, Handler=lt.HANDLER,
                        Code={"ZipFile": code_zip(rng, "setup-1")}, Description="setup-1", Timeout=10)
    lt.wait_active(lam, FUNCTION)
    lam.publish_version(FunctionName=FUNCTION)
    lam.update_function_configuration(FunctionName=FUNCTION, Description="setup-2")
    lam.publish_version(FunctionName=FUNCTION)
    lam.create_alias(FunctionName=FUNCTION, Name=LIVE, FunctionVersion="2",
                     RoutingConfig={"AdditionalVersionWeights": {"1": 0.5}})


@contextlib.contextmanager
def _context(where: str):
    """Failures that do not say where they happened (an API error, a check in read_state) get
    the seed, round and the round's mutations attached."""
    try:
        yield
    except AssertionError as e:
        if "seed=" in str(e):
            raise
        raise AssertionError(f"{where}\n  {e}") from e
    except (ClientError, BotoCoreError, OSError, KeyError, ValueError) as e:
        raise AssertionError(f"{where}\n  {type(e).__name__}: {e}") from e


@pytest.mark.timeout_s(TIME_LIMIT_S)
def test_sigkill_during_mutations_loses_nothing_and_leaves_no_orphans(tmp_path):
    seed = int(os.environ.get("LAMINA_CRASH_SEED") or random.SystemRandom().randrange(1 << 32))
    print(f"\ncrash-safety seed={seed} (replay: LAMINA_CRASH_SEED={seed})")
    rng = random.Random(seed)
    data = tmp_path / "data"
    data.mkdir()
    log = tmp_path / "lamina.log"
    checker = CrashChecker(seed, data)
    op_seconds = dict(INITIAL_OP_SECONDS)
    order = []
    while len(order) < KILLS:  # every family equally often, in a random order
        cycle = list(FAMILIES)
        rng.shuffle(cycle)
        order += cycle
    started = time.monotonic()

    srv = lt.LaminaServer(data_dir=data, log_path=log).start()
    try:
        lam = srv.client()
        _setup(lam, rng)
        confirmed = read_state(lam).model
        for round_no, family in enumerate(order[:KILLS]):
            stream = Stream(lam, family, confirmed, random.Random(rng.getrandbits(64)), round_no)
            thread = threading.Thread(target=stream.run, daemon=True, name=f"crash-stream-{round_no}")
            thread.start()
            assert stream.started.wait(10), f"{checker.where(round_no, family)} the stream did not start"
            time.sleep(rng.uniform(0, KILL_WINDOW_OPS * op_seconds[family]))
            crashed_alone = srv.proc.poll()
            srv.kill9()
            thread.join(30)
            where = checker.where(round_no, family, stream)
            assert not thread.is_alive(), f"{where} the stream did not stop after the kill"
            assert crashed_alone is None, f"{where} lamina exited by itself ({crashed_alone}): {srv.log_tail()}"
            assert not isinstance(stream.error, ClientError), \
                f"{where}\n  a mutation failed before the kill: {stream.error}"
            assert isinstance(stream.error, BotoCoreError), \
                f"{where}\n  the stream stopped on {stream.error!r}, not on the lost connection"
            checker.stats["kills"] += 1
            checker.stats["acked"] += len(stream.acked)
            landed = stream.in_flight.kind if stream.in_flight else "between requests"
            checker.stats["kill_in_flight"][landed] = checker.stats["kill_in_flight"].get(landed, 0) + 1
            if stream.acked:
                mean = sum(op.seconds for op in stream.acked) / len(stream.acked)
                op_seconds[family] = 0.5 * op_seconds[family] + 0.5 * mean

            # what the crash left behind, before lamina's start-up collects it
            blobs_before = set(os.listdir(data / "blobs"))
            extracted_before = set(os.listdir(data / "extracted"))
            deadline = time.monotonic() + 5
            while (leaked := processes_using(data)) and time.monotonic() < deadline:
                time.sleep(0.02)
            assert not leaked, f"{where}\n  processes of the killed lamina still running: {leaked}"

            srv = lt.LaminaServer(data_dir=data, log_path=log)
            try:
                srv.start()
            except RuntimeError as e:
                raise AssertionError(f"{where}\n  lamina did not restart on the crashed data dir: {e}") from None
            lam = srv.client()
            with _context(where):
                confirmed = checker.check_after_restart(srv, lam, confirmed, stream, round_no, family,
                                                        blobs_before, extracted_before)
        with _context(f"[seed={seed} final, after {KILLS} kills]"):
            checker.final_checks(srv, lam, confirmed, KILLS)
    finally:
        srv.stop()
    s = checker.stats
    print(f"crash-safety seed={seed}: {s['kills']} kills in {time.monotonic() - started:.1f}s, "
          f"{s['acked']} acknowledged mutations, kills landed during: {s['kill_in_flight']}, "
          f"in-flight mutation applied {s['in_flight_applied']} / not applied {s['in_flight_not_applied']}, "
          f"collected at restart: {s['orphan_blobs_collected']} orphan blobs, {s['temp_files_collected']} temp "
          f"files, {s['orphan_extracted_collected']} extracted trees; final state: "
          f"{sum(len(v) for v in confirmed.layers.values())} layer versions, {len(confirmed.versions)} function "
          f"versions, {len(confirmed.aliases)} aliases, {len(confirmed.provisioned)} provisioned configs")
    assert s["kills"] >= KILLS
