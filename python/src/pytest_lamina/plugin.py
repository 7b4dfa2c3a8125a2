"""The pytest side of pytest-lamina: options and fixtures."""

from __future__ import annotations

import shlex

import pytest

from .server import Lamina, LaminaError


def pytest_addoption(parser):
    group = parser.getgroup("lamina", "lamina (local AWS Lambda emulator)")
    group.addoption("--lamina-bin", dest="lamina_bin", default=None,
                    help="the lamina binary (default: $LAMINA_BIN, else lamina on PATH)")
    group.addoption("--lamina-arg", dest="lamina_args", action="append", default=None,
                    help="an extra `lamina serve` flag for the server the plugin starts (repeatable)")
    group.addoption("--lamina-reset", dest="lamina_reset", action="store_true", default=None,
                    help="reset lamina (POST /_lamina/reset) before every test")
    parser.addini("lamina_bin", "the lamina binary", default="")
    parser.addini("lamina_args", "extra `lamina serve` flags (shell words)", default="")
    parser.addini("lamina_reset", "reset lamina before every test", type="bool", default=False)
    parser.addini("lamina_start_timeout", "seconds to wait for /health", default="60")
    parser.addini("lamina_export_env", "point AWS_ENDPOINT_URL (and dummy credentials, region) "
                  "at the server the plugin starts", type="bool", default=True)


def pytest_configure(config):
    config.addinivalue_line("markers", "lamina_reset: reset lamina before this test")


@pytest.fixture(scope="session")
def lamina(request, tmp_path_factory):
    """The lamina server of this test session."""
    config = request.config
    binary = config.getoption("lamina_bin") or config.getini("lamina_bin") or None
    try:
        endpoint = Lamina.running_endpoint()
        if endpoint:
            server = Lamina.attach(endpoint, binary)
        else:
            args = shlex.split(config.getini("lamina_args")) + list(config.getoption("lamina_args") or [])
            server = Lamina.start(binary, args=args, timeout=float(config.getini("lamina_start_timeout")),
                                  log_dir=str(tmp_path_factory.getbasetemp()))
            if config.getini("lamina_export_env"):
                server.export_environment()
    except LaminaError as e:
        pytest.fail(str(e), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def lamina_reset(lamina):
    """`lamina`, reset first: no function, queue, bucket, log or invocation of earlier tests."""
    lamina.reset()
    return lamina


@pytest.fixture(autouse=True)
def _lamina_autoreset(request):
    option = request.config.getoption("lamina_reset")
    wanted = option if option is not None else request.config.getini("lamina_reset")
    if wanted or request.node.get_closest_marker("lamina_reset"):
        request.getfixturevalue("lamina").reset()
