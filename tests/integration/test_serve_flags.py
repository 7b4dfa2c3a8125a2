"""`lamina serve` flags and their LAMINA_* environment variables, as a user starts it."""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

import lamina_testlib as lt


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _health(port):
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
            f"http://127.0.0.1:{port}/health", timeout=5) as r:
        return json.loads(r.read())


class Serve:
    """Starts lamina with exactly the given args and environment (no LAMINA_* inherited)."""

    def __init__(self, args, env=None):
        base = {k: v for k, v in os.environ.items() if not k.startswith("LAMINA_")}
        base.update(env or {})
        self.proc = subprocess.Popen([str(lt.lamina_bin()), "serve", *args], env=base,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, text=True, start_new_session=True)

    def first_line(self):
        return self.proc.stdout.readline().strip()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode


def test_version_flag_and_command():
    out = subprocess.run([str(lt.lamina_bin()), "--version"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0 and out.stdout.startswith("lamina ")
    out2 = subprocess.run([str(lt.lamina_bin()), "version"], capture_output=True, text=True, timeout=10)
    assert out2.stdout == out.stdout


def test_port_zero_prints_port_and_writes_port_file(tmp_path):
    port_file = tmp_path / "port"
    srv = Serve(["--ephemeral", "--port", "0", "--port-file", str(port_file), "--log-level", "warn"])
    try:
        port = int(srv.first_line())
        assert int(port_file.read_text()) == port
        body = _health(port)
        assert body["status"] == "ok" and body["region"] == "us-east-1" and body["account_id"] == "123456789012"
    finally:
        assert srv.stop() == 0


def test_environment_variables_configure_serve(tmp_path):
    port = _free_port()
    srv = Serve([], env={"LAMINA_PORT": str(port), "LAMINA_DATA_DIR": str(tmp_path / "data"),
                         "LAMINA_REGION": "eu-west-1", "LAMINA_ACCOUNT_ID": "210987654321",
                         "LAMINA_LOG_LEVEL": "warn"})
    try:
        assert int(srv.first_line()) == port
        body = _health(port)
        assert body["region"] == "eu-west-1" and body["account_id"] == "210987654321"
        # the configured account is what STS reports for a non-numeric key
        sts = lt.make_client(port, "sts", key="AKIDEXAMPLE")
        assert sts.get_caller_identity()["Account"] == "210987654321"
        assert (tmp_path / "data" / "registry.db").exists()
    finally:
        assert srv.stop() == 0


def test_flag_wins_over_environment(tmp_path):
    srv = Serve(["--port", "0", "--ephemeral", "--region", "ap-south-1", "--log-level", "warn"],
                env={"LAMINA_REGION": "eu-west-1", "LAMINA_PORT": "1"})
    try:
        port = int(srv.first_line())
        assert port != 1
        assert _health(port)["region"] == "ap-south-1"
    finally:
        srv.stop()


def test_default_data_dir_is_under_xdg_data_home(tmp_path):
    srv = Serve(["--port", "0", "--log-level", "warn"], env={"XDG_DATA_HOME": str(tmp_path / "xdg")})
    try:
        port = int(srv.first_line())
        _health(port)
        assert (tmp_path / "xdg" / "lamina" / "registry.db").exists()
    finally:
        srv.stop()


def test_ephemeral_dir_is_removed_at_exit():
    srv = Serve(["--port", "0", "--ephemeral", "--log-level", "info"])
    port = int(srv.first_line())
    _health(port)
    srv.stop()
    log = srv.proc.stderr.read()
    data_dir = log.split("data_dir=")[1].split()[0]
    assert data_dir and not os.path.exists(data_dir)


@pytest.mark.parametrize("args,needle", [
    (["--account-id", "12"], "account-id"),
    (["--log-level", "loud"], "log-level"),
    (["--port", "notaport"], "port"),
    (["--io-spin-us", "-1"], "io-spin-us"),
    (["--io-spin-us", "10001"], "io-spin-us"),
])
def test_bad_configuration_fails_at_startup(args, needle):
    out = subprocess.run([str(lt.lamina_bin()), "serve", "--ephemeral", *args], capture_output=True, text=True,
                         timeout=10)
    assert out.returncode != 0
    assert needle in out.stderr


def test_port_in_use_is_a_clear_startup_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        out = subprocess.run([str(lt.lamina_bin()), "serve", "--ephemeral", "--port", str(port)],
                             capture_output=True, text=True, timeout=10)
    assert out.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in out.stderr


def test_a_second_server_on_the_same_data_dir_is_refused(tmp_path):
    data = tmp_path / "data"
    first = lt.LaminaServer(data_dir=data).start()
    try:
        lam = first.client("lambda")
        name = lt.unique("lock")
        lt.create_function(lam, name)
        second = Serve(["--port", "0", "--data-dir", str(data)])
        assert second.proc.wait(20) == 1
        err = second.proc.stderr.read()
        assert f"the data directory {data} is in use by another lamina (pid {first.proc.pid})" in err
        # the first one is untouched and still serves what it has
        assert lam.get_function(FunctionName=name)["Configuration"]["FunctionName"] == name
    finally:
        first.stop()
    # once the first has stopped, the directory is free again
    again = lt.LaminaServer(data_dir=data).start()
    try:
        assert again.client("lambda").get_function(FunctionName=name)["Configuration"]["FunctionName"] == name
    finally:
        again.stop()


def test_installed_layout_finds_its_runtimes(monkeypatch):
    """`cmake --install` of LAMINA_BIN's build dir: the installed binary uses the installed runtimes/."""
    build = lt.lamina_bin().resolve().parent
    cache = build / "CMakeCache.txt"
    if not cache.is_file():
        pytest.skip(f"{build} is not a CMake build dir (no CMakeCache.txt): nothing to install")
    if not shutil.which("cmake"):
        pytest.skip("no cmake to install with")
    prefix = Path(tempfile.mkdtemp(prefix="lamina-install-"))
    try:
        out = subprocess.run(["cmake", "--install", str(build), "--prefix", str(prefix)],
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        # what was installed where, as cmake reports it ("-- Installing: PATH")
        installed = [Path(line.split(": ", 1)[1]) for line in out.stdout.splitlines() if ": " + str(prefix) in line]
        binary = next(p for p in installed if p.name == "lamina" and p.is_file())
        runtimes = next(p for p in installed if p.name == "runtimes" and p.parent.name == "lamina")
        assert os.access(binary, os.X_OK)
        assert (runtimes / "python" / "bootstrap.py").is_file()
        assert os.access(runtimes / "extensions" / "launch.sh", os.X_OK)

        # --help says which default applies
        helped = subprocess.run([str(binary), "serve", "--help"], capture_output=True, text=True, timeout=10)
        assert helped.returncode == 0
        assert f"here: {runtimes}, installed" in " ".join(helped.stdout.split())

        monkeypatch.setenv("LAMINA_BIN", str(binary))
        srv = lt.LaminaServer(extra_args=["--log-level", "info"]).start()
        try:
            lam = srv.client("lambda")
            name = lt.unique("installed")
            lt.create_function(lam, name)
            resp = lam.invoke(FunctionName=name, Payload=b"{}")
            assert "FunctionError" not in resp, resp["Payload"].read()
            assert json.loads(resp["Payload"].read())["statusCode"] == 200
        finally:
            assert srv.stop() == 0
        assert f'runtime.dir path={runtimes} source="installed"' in srv.log_tail(100000)
    finally:
        shutil.rmtree(prefix, ignore_errors=True)


def _main_thread_cpu_s(pid):
    with open(f"/proc/{pid}/task/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.parametrize("args,env", [([], {}), (["--io-spin-us", "0"], {}), ([], {"LAMINA_IO_SPIN_US": "5000"})])
def test_io_thread_polls_only_right_after_work(args, env):
    """An idle io thread polls for --io-spin-us after its last handler, then sleeps: a server
    with nothing to do uses no CPU, whatever the setting."""
    srv = Serve(["--port", "0", "--ephemeral", "--log-level", "warn", *args], env=env)
    try:
        port = int(srv.first_line())
        for _ in range(20):
            assert _health(port)["status"] == "ok"
        time.sleep(0.5)
        before = _main_thread_cpu_s(srv.proc.pid)
        time.sleep(2)
        assert _main_thread_cpu_s(srv.proc.pid) - before < 0.1
        assert _health(port)["status"] == "ok"
    finally:
        assert srv.stop() == 0
