"""--data-dir persistence: graceful restart restores everything; kill -9 loses nothing acknowledged."""

from __future__ import annotations

import threading
import time

import pytest
from botocore.exceptions import ClientError

import lamina_testlib as lt
from lamina_testlib import fn_arn


def _snapshot(lam, name):
    """Everything the control plane can tell about one function (minus Code.Location's port)."""
    out = {}
    g = lam.get_function(FunctionName=name)
    g.pop("ResponseMetadata")
    g["Code"].pop("Location")
    out["latest"] = g
    out["versions"] = lam.list_versions_by_function(FunctionName=name)["Versions"]
    for v in out["versions"]:
        if v["Version"] != "$LATEST":
            c = lam.get_function_configuration(FunctionName=name, Qualifier=v["Version"])
            c.pop("ResponseMetadata")
            out[f"v{v['Version']}"] = c
    out["aliases"] = sorted(lam.list_aliases(FunctionName=name)["Aliases"], key=lambda a: a["Name"])
    out["policy"] = lam.get_policy(FunctionName=name)["Policy"]
    out["policy_v1"] = lam.get_policy(FunctionName=name, Qualifier="1")["Policy"]
    out["tags"] = lam.list_tags(Resource=fn_arn(name))["Tags"]
    eic = lam.get_function_event_invoke_config(FunctionName=name)
    eic.pop("ResponseMetadata")
    out["event_invoke"] = eic
    out["eic_list"] = sorted(c["FunctionArn"] for c in
                             lam.list_function_event_invoke_configs(FunctionName=name)["FunctionEventInvokeConfigs"])
    if lt.has_operation(lam, "GetFunctionRecursionConfig"):
        out["recursion"] = lam.get_function_recursion_config(FunctionName=name)["RecursiveLoop"]
    return out


@pytest.mark.timeout_s(120)
def test_restart_restores_everything(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    srv = lt.LaminaServer(data_dir=data, log_path=tmp_path / "server.log").start()
    try:
        lam = srv.client()
        name = lt.unique("persist")
        z1, z2 = lt.handler_zip("one"), lt.handler_zip("two")
        lt.create_function(lam, name, zip_bytes=z1, Environment={"Variables": {"KEY": "v"}},
                           Tags={"team": "blue"}, Description="d0", MemorySize=256)
        lam.publish_version(FunctionName=name, Description="first")
        lam.update_function_code(FunctionName=name, ZipFile=z2)
        lt.wait_updated(lam, name)
        lam.publish_version(FunctionName=name, Description="second")
        lam.create_alias(FunctionName=name, Name="PROD", FunctionVersion="1",
                         RoutingConfig={"AdditionalVersionWeights": {"2": 0.25}}, Description="prod")
        lam.create_alias(FunctionName=name, Name="dev", FunctionVersion="$LATEST")
        lam.add_permission(FunctionName=name, StatementId="s3", Action="lambda:InvokeFunction",
                           Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::bucket")
        lam.add_permission(FunctionName=name, StatementId="acct", Action="lambda:InvokeFunction",
                           Principal="111111111111", Qualifier="1")
        lam.tag_resource(Resource=fn_arn(name), Tags={"env": "test"})
        lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1,
                                             MaximumEventAgeInSeconds=300)
        lam.put_function_event_invoke_config(FunctionName=name, Qualifier="PROD", MaximumRetryAttempts=0)
        if lt.has_operation(lam, "PutFunctionRecursionConfig"):
            lam.put_function_recursion_config(FunctionName=name, RecursiveLoop="Allow")
        # a second function in another region and account
        eu = srv.client(region="eu-west-1", key="111111111111")
        other = lt.unique("persist-eu")
        lt.create_function(eu, other, Role="arn:aws:iam::111111111111:role/r")
        before = _snapshot(lam, name)
        settings_before = lam.get_account_settings()["AccountUsage"]
        eu_before = eu.get_function_configuration(FunctionName=other)
        eu_before.pop("ResponseMetadata")
    finally:
        code = srv.stop()
    assert code == 0 or code == -15 or code == 143, f"SIGTERM shutdown exit code {code}"

    srv2 = lt.LaminaServer(data_dir=data, log_path=tmp_path / "server2.log").start()
    try:
        lam = srv2.client()
        after = _snapshot(lam, name)
        assert after == before
        assert lam.get_account_settings()["AccountUsage"] == settings_before
        for q, blob in (("1", z1), ("2", z2), ("$LATEST", z2)):
            loc = lam.get_function(FunctionName=name, Qualifier=q)["Code"]["Location"]
            status, _, body = lt.http_get(loc)
            assert status == 200 and body == blob, f"code of {q} after restart"
        eu = srv2.client(region="eu-west-1", key="111111111111")
        eu_after = eu.get_function_configuration(FunctionName=other)
        eu_after.pop("ResponseMetadata")
        assert eu_after == eu_before
        with lt.expect_error("ResourceNotFoundException", 404):
            lam.get_function(FunctionName=other)
        # numbering continues after a restart
        lam.update_function_configuration(FunctionName=name, Description="d1")
        lt.wait_updated(lam, name)
        assert lam.publish_version(FunctionName=name)["Version"] == "3"
    finally:
        srv2.stop()


def test_ephemeral_leaves_nothing_behind(tmp_path):
    """--ephemeral is independent per process: a fresh server knows none of the old functions."""
    srv = lt.LaminaServer(log_path=tmp_path / "a.log").start()
    try:
        name = lt.unique()
        lt.create_function(srv.client(), name)
    finally:
        srv.stop()
    srv2 = lt.LaminaServer(log_path=tmp_path / "b.log").start()
    try:
        with lt.expect_error("ResourceNotFoundException", 404):
            srv2.client().get_function(FunctionName=name)
    finally:
        srv2.stop()


class _Stream:
    """Runs create/publish/alias mutations until the server dies; records what was acknowledged."""

    def __init__(self, lam, tag: str):
        self.lam = lam
        self.tag = tag
        self.acked = []        # (op, details) acknowledged by the server
        self.in_flight = None  # the op sent but not answered when the server died
        self.error = None
        self.done = False
        self.stop = threading.Event()

    def _do(self, op, details, fn):
        self.in_flight = (op, details)
        result = fn()
        self.acked.append((op, details, result))
        self.in_flight = None
        return result

    def run(self):
        lam = self.lam
        i = 0
        try:
            while not self.stop.is_set():
                name = f"kill9-{self.tag}-{i}"
                z1 = lt.handler_zip(f"{name}-1")
                self._do("create", name, lambda: lam.create_function(
                    FunctionName=name, Runtime=lt.RUNTIME, Role=lt.ROLE_ARN, Handler=lt.HANDLER,
                    Code={"ZipFile": z1}, Tags={"i": str(i)}))
                self._do("get", name, lambda: lam.get_function(FunctionName=name))
                v1 = self._do("publish", (name, lt.b64sha256(z1)), lambda: lam.publish_version(FunctionName=name))
                self._do("alias", (name, "live", v1["Version"]), lambda: lam.create_alias(
                    FunctionName=name, Name="live", FunctionVersion=v1["Version"]))
                z2 = lt.handler_zip(f"{name}-2")
                self._do("update", (name, lt.b64sha256(z2)), lambda: lam.update_function_code(
                    FunctionName=name, ZipFile=z2))
                self._do("get", name, lambda: lam.get_function(FunctionName=name))
                v2 = self._do("publish", (name, lt.b64sha256(z2)), lambda: lam.publish_version(FunctionName=name))
                self._do("alias-update", (name, "live", v2["Version"]), lambda: lam.update_alias(
                    FunctionName=name, Name="live", FunctionVersion=v2["Version"],
                    RoutingConfig={"AdditionalVersionWeights": {v1["Version"]: 0.5}}))
                i += 1
        except Exception as e:  # the server was killed under us (or answered an error)
            self.error = e
        finally:
            self.done = True


def _verify_acked(lam, streams):
    for s in streams:
        for op, details, result in s.acked:
            if op == "create":
                conf = lam.get_function_configuration(FunctionName=details)  # exists
                assert conf["FunctionArn"] == result["FunctionArn"]
                assert conf["State"] == "Active"
            elif op == "publish":
                name, sha = details
                v = lam.get_function_configuration(FunctionName=name, Qualifier=result["Version"])
                assert v["CodeSha256"] == sha, f"{name}:{result['Version']} lost its code"
            elif op == "alias":
                name, alias, version = details
                a = lam.get_alias(FunctionName=name, Name=alias)  # exists (a later update may have moved it)
                assert a["AliasArn"] == fn_arn(name, alias)
            elif op == "alias-update":
                name, alias, version = details
                assert lam.get_alias(FunctionName=name, Name=alias)["FunctionVersion"] == version
            elif op == "update":
                name, sha = details
                shas = {v["CodeSha256"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]}
                assert sha in shas, f"acknowledged code update of {name} lost"


@pytest.mark.timeout_s(150)
def test_kill9_loses_nothing_acknowledged(tmp_path):
    """Three rounds on one data dir: stream create/publish/alias mutations from two threads,
    SIGKILL the server mid-stream, restart, check every acknowledged mutation and that no
    half state (alias to a missing version, version without code) is visible."""
    data = tmp_path / "data"
    data.mkdir()
    all_streams = []
    for rnd in range(3):
        srv = lt.LaminaServer(data_dir=data, log_path=tmp_path / f"server{rnd}.log").start()
        streams = []
        try:
            lam = srv.client()
            if all_streams:  # what earlier rounds had acknowledged survived the previous kill
                _verify_acked(lam, all_streams)
                _check_consistency(lam)
            for k in range(2):
                streams.append(_Stream(srv.client(), f"r{rnd}t{k}-{lt.unique('s')}"))
            threads = [threading.Thread(target=s.run, daemon=True) for s in streams]
            for t in threads:
                t.start()
            # let a good number of mutations through, then pull the plug mid-stream
            target = 80 + 37 * rnd
            deadline = time.monotonic() + 30
            while (time.monotonic() < deadline and sum(len(s.acked) for s in streams) < target
                   and not all(s.done for s in streams)):
                time.sleep(0.02)
            for s in streams:
                if isinstance(s.error, ClientError):
                    pytest.fail(f"mutation {s.in_flight} failed before the kill: {s.error}")
            time.sleep(0.011 * (rnd + 1))
            srv.kill9()
            for t in threads:
                t.join(30)
                assert not t.is_alive()
        finally:
            srv.kill9()
        total = sum(len(s.acked) for s in streams)
        assert total >= 20, f"only {total} mutations acknowledged before the kill; log: {srv.log_tail()}"
        for s in streams:
            assert s.error is not None, "stream should have stopped because the server died"
            assert not isinstance(s.error, ClientError), f"mutation {s.in_flight} failed: {s.error}"
        all_streams += streams

    srv = lt.LaminaServer(data_dir=data, log_path=tmp_path / "server-final.log").start()
    try:
        lam = srv.client()
        _verify_acked(lam, all_streams)
        _check_consistency(lam)
    finally:
        srv.stop()


def _check_consistency(lam):
    """No half state: every alias points at existing versions, every version has its code."""
    names, marker = [], None
    while True:
        kw = {"MaxItems": 50}
        if marker:
            kw["Marker"] = marker
        page = lam.list_functions(**kw)
        names += [f["FunctionName"] for f in page["Functions"]]
        marker = page.get("NextMarker")
        if not marker:
            break
    assert names, "functions vanished"
    for name in names:
        g = lam.get_function(FunctionName=name)
        status, _, body = lt.http_get(g["Code"]["Location"])
        assert status == 200 and lt.b64sha256(body) == g["Configuration"]["CodeSha256"], f"{name}: blob missing"
        versions = lam.list_versions_by_function(FunctionName=name)["Versions"]
        nums = [int(v["Version"]) for v in versions if v["Version"] != "$LATEST"]
        assert nums == sorted(nums) and len(set(nums)) == len(nums)
        existing = {v["Version"] for v in versions}
        for v in versions:
            if v["Version"] == "$LATEST":
                continue
            c = lam.get_function(FunctionName=name, Qualifier=v["Version"])
            status, _, body = lt.http_get(c["Code"]["Location"])
            assert status == 200 and lt.b64sha256(body) == v["CodeSha256"], f"{name}:{v['Version']} blob missing"
        for a in lam.list_aliases(FunctionName=name)["Aliases"]:
            assert a["FunctionVersion"] in existing, f"alias {name}:{a['Name']} points at a missing version"
            for extra in a.get("RoutingConfig", {}).get("AdditionalVersionWeights", {}):
                assert extra in existing, f"alias {name}:{a['Name']} routes to a missing version"
