"""The test fixtures lamina ships: the pytest plugin (python/, installed with pip) running the
sample project examples/pytest-app, on a server of its own and under `lamina run`; and the
npm package js/lamina-test under node's test runner, the same two ways."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import lamina_testlib as lt

REPO = lt.REPO
SAMPLE = REPO / "examples" / "pytest-app"
NODE_PACKAGE = REPO / "js" / "lamina-test"

# Written into the copy of the sample: what the plugin's session fixture was.
PROBE = '''
import json, os

def test_zz_probe(lamina):
    with open(os.environ["PROBE_OUT"], "w") as f:
        json.dump({"endpoint": lamina.endpoint, "owned": lamina.owned, "pid": lamina.pid,
                   "binary": lamina.binary, "AWS_ENDPOINT_URL": os.environ.get("AWS_ENDPOINT_URL"),
                   "LAMINA_ENDPOINT": os.environ.get("LAMINA_ENDPOINT")}, f)
'''


def clean_env(**extra: str) -> dict:
    """The environment without lamina's or AWS's variables, and without lamina on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAMINA_", "AWS_"))}
    env.update(extra)
    return env


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory) -> str:
    """pytest-lamina pip-installed (no network, no index) into a folder of its own."""
    target = tmp_path_factory.mktemp("site")
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps",
                        "--no-build-isolation", "--target", str(target), str(REPO / "python")],
                       capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (target / "pytest_lamina" / "plugin.py").is_file()
    entry_points = next(target.glob("pytest_lamina-*.dist-info")) / "entry_points.txt"
    assert "[pytest11]" in entry_points.read_text()
    # the pytest the tests run under (run.sh may add Debian's through PYTHONPATH) stays reachable
    return os.pathsep.join(p for p in (str(target), os.environ.get("PYTHONPATH")) if p)


@pytest.fixture
def sample(tmp_path) -> Path:
    copy = tmp_path / "pytest-app"
    shutil.copytree(SAMPLE, copy, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    (copy / "tests" / "test_zz_probe.py").write_text(PROBE)
    return copy


def run_pytest(argv_prefix: list, sample: Path, env: dict) -> tuple[subprocess.CompletedProcess, dict]:
    probe = sample / "probe.json"
    env = dict(env, PROBE_OUT=str(probe), PYTHONDONTWRITEBYTECODE="1")
    r = subprocess.run([*argv_prefix, sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        str(sample / "tests")], cwd=sample, env=env, capture_output=True, text=True,
                       timeout=120, stdin=subprocess.DEVNULL)
    return r, (json.loads(probe.read_text()) if probe.exists() else {})


@pytest.mark.timeout_s(150)
def test_the_sample_passes_with_the_plugin_starting_lamina(plugin_path, sample):
    r, probe = run_pytest([], sample, clean_env(PYTHONPATH=plugin_path, LAMINA_BIN=str(lt.lamina_bin())))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "5 passed" in r.stdout, r.stdout
    assert probe["owned"] is True and os.path.realpath(probe["binary"]) == os.path.realpath(lt.lamina_bin())
    assert probe["endpoint"].startswith("http://127.0.0.1:")
    # the tests' own boto3 clients were pointed at it; the session's end stopped it
    assert probe["AWS_ENDPOINT_URL"] == probe["LAMINA_ENDPOINT"] == probe["endpoint"]
    assert not alive(probe["pid"])


@pytest.mark.timeout_s(150)
def test_the_sample_under_lamina_run_uses_its_server(plugin_path, sample):
    # no LAMINA_BIN and no lamina on PATH: deploy_template finds the `lamina run` above it
    r, probe = run_pytest([str(lt.lamina_bin()), "run", "--"], sample, clean_env(PYTHONPATH=plugin_path))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "5 passed" in r.stdout, r.stdout
    assert probe["owned"] is False and probe["pid"] is None
    assert probe["endpoint"] == probe["LAMINA_ENDPOINT"] == probe["AWS_ENDPOINT_URL"]
    assert os.path.realpath(probe["binary"]) == os.path.realpath(lt.lamina_bin())


def test_a_missing_binary_fails_the_session_with_a_clear_message(plugin_path, sample):
    r, _ = run_pytest([], sample, clean_env(PYTHONPATH=plugin_path, LAMINA_BIN="/nonexistent/lamina"))
    assert r.returncode != 0
    assert "lamina binary not found or not executable: /nonexistent/lamina" in r.stdout + r.stderr


def node_test(argv_prefix: list, env: dict) -> subprocess.CompletedProcess:
    node = shutil.which("node")
    if not node:
        pytest.skip("node not found")
    return subprocess.run([*argv_prefix, node, "--test", "--test-concurrency=1", "--test-reporter=tap",
                           "test/lamina.test.js", "test/jest-global.test.js"],
                          cwd=NODE_PACKAGE, env=env, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


def node_counts(out: str) -> dict:
    return {k: int(v) for k, v in (line[2:].split() for line in out.splitlines()
                                   if line.startswith(("# pass ", "# fail ", "# skipped ")))}


@pytest.mark.timeout_s(150)
def test_the_node_package_under_node_test(tmp_path):
    r = node_test([], clean_env(LAMINA_BIN=str(lt.lamina_bin()), TMPDIR=str(tmp_path)))
    assert r.returncode == 0, r.stdout + r.stderr
    assert node_counts(r.stdout) == {"pass": 5, "fail": 0, "skipped": 0}, r.stdout
    # every server it started was stopped, and its temporary folders are its own
    assert not [p for p in Path("/proc").iterdir() if p.name.isdigit() and _lamina_serving_in(p, tmp_path)]


@pytest.mark.timeout_s(150)
def test_the_node_package_under_lamina_run_uses_its_server():
    r = node_test([str(lt.lamina_bin()), "run", "--"], clean_env())
    assert r.returncode == 0, r.stdout + r.stderr
    assert node_counts(r.stdout) == {"pass": 5, "fail": 0, "skipped": 0}, r.stdout


def _lamina_serving_in(proc: Path, tmp: Path) -> bool:
    try:
        return str(tmp) in (proc / "cmdline").read_text()
    except OSError:
        return False
