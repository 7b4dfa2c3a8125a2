"""pytest fixtures: one ephemeral lamina server per session, boto3 clients, aws CLI."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import lamina_testlib as lt  # noqa: E402

# Everything is on loopback: never route it through a proxy.
for _var in ("NO_PROXY", "no_proxy"):
    _cur = os.environ.get(_var, "")
    os.environ[_var] = ",".join(x for x in (_cur, "127.0.0.1", "localhost") if x)

DEFAULT_TEST_TIMEOUT = 90


def pytest_configure(config):
    config.addinivalue_line("markers", "timeout_s(seconds): per-test time limit (default 90 s)")
    config.addinivalue_line("markers", "cli: uses the real aws CLI")


@pytest.fixture(autouse=True)
def _time_limit(request):
    """Bound every test in time (SIGALRM in the main thread)."""
    marker = request.node.get_closest_marker("timeout_s")
    seconds = int(marker.args[0]) if marker else DEFAULT_TEST_TIMEOUT

    def _expired(signum, frame):
        raise TimeoutError(f"test exceeded its {seconds}s time limit")

    old = signal.signal(signal.SIGALRM, _expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    log = tmp_path_factory.mktemp("lamina") / "session-server.log"
    srv = lt.LaminaServer(log_path=log)
    try:
        srv.start()
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)
    yield srv
    srv.stop()


@pytest.fixture(autouse=True)
def _server_watchdog(request):
    """If this test killed or wedged the shared server, say so and start a new one on the
    same port, so that one server bug does not fail every later test."""
    yield
    if "server" not in request.fixturenames:
        return
    srv = request.getfixturevalue("server")
    if srv.alive():
        return
    code = srv.proc.poll() if srv.proc else None
    tail = srv.log_tail()
    srv.restart_same_port()
    state = f"exited with {code}" if code is not None else "stopped answering /health"
    pytest.fail(f"the shared lamina server {state} during this test; it was restarted "
                f"(state is lost). Server log tail:\n{tail}", pytrace=False)


@pytest.fixture(scope="session")
def lam(server):
    """boto3 lambda client, default account 123456789012, us-east-1."""
    return server.client("lambda")


@pytest.fixture(scope="session")
def lam_nv(server):
    """lambda client without client-side parameter validation (to reach server checks)."""
    return server.client("lambda", validate=False)


@pytest.fixture
def fresh_account(server):
    """A lambda client in an account of its own (12-digit access key id), so lists and
    counts contain only what the test created."""
    import random
    acct = "".join(random.choice("0123456789") for _ in range(12))
    if acct[0] == "0":
        acct = "9" + acct[1:]
    return acct, server.client("lambda", key=acct)


@pytest.fixture
def fn(lam):
    """A fresh Active function (name, create response, zip bytes)."""
    z = lt.handler_zip()
    name = lt.unique("fn")
    resp = lt.create_function(lam, name, zip_bytes=z)
    return name, resp, z


@pytest.fixture(scope="session")
def cli(server, tmp_path_factory):
    if not lt.aws_cli_path():
        pytest.skip("aws CLI not found on PATH")
    return lt.AwsCli(server.port, tmp_path_factory.mktemp("awscli"))
