"""Shared by lamina's benchmarks: start and stop a server, percentiles."""
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time

DEFAULT_BIN = os.path.join(os.path.dirname(__file__), "..", "build", "lamina")


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, max(0, int(round(p / 100.0 * (len(values) - 1)))))]


@contextlib.contextmanager
def lamina_process(binary=DEFAULT_BIN, *extra, data_dir=None, stderr=None):
    """`lamina serve --port 0` on loopback; yields (the Popen, its port), stops it after.
    State is kept in data_dir if given, else in a temporary directory (--ephemeral);
    stderr as subprocess.Popen takes it (default: inherited)."""
    where = ["--data-dir", str(data_dir)] if data_dir else ["--ephemeral"]
    proc = subprocess.Popen([binary, "serve", *where, "--port", "0", "--log-level", "warn", *extra],
                            stdout=subprocess.PIPE, stderr=stderr, text=True)
    try:
        yield proc, int(proc.stdout.readline())
    finally:
        stop(proc)


@contextlib.contextmanager
def lamina(binary=DEFAULT_BIN, *extra):
    """`lamina serve --ephemeral --port 0` on loopback; yields the port, stops it after."""
    with lamina_process(binary, *extra) as (_, port):
        yield port


def _stat_fields(path):
    """The fields of a /proc stat file after the command (field 3 on), and the command."""
    with open(path) as f:
        text = f.read()
    return text[text.rindex(")") + 2:].split(), text[text.index("(") + 1:text.rindex(")")]


def cpu_seconds(pid):
    """CPU time (user + system, in s) spent so far by `pid`'s threads, by thread name (its
    first thread as "main"), and by all its descendant processes together ("descendants":
    processes that already exited are not counted)."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            f, comm = _stat_fields(f"/proc/{pid}/task/{tid}/stat")
        except (OSError, ValueError):
            continue
        name = "main" if int(tid) == pid else comm
        out[name] = out.get(name, 0.0) + (int(f[11]) + int(f[12])) / tick
    children, times = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            f, _ = _stat_fields(f"/proc/{entry}/stat")
        except (OSError, ValueError):
            continue
        children.setdefault(int(f[1]), []).append(int(entry))
        times[int(entry)] = (int(f[11]) + int(f[12])) / tick
    waiting, total = list(children.get(pid, [])), 0.0
    while waiting:
        p = waiting.pop()
        total += times.get(p, 0.0)
        waiting += children.get(p, [])
    out["descendants"] = total
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what, wait_s=60):
    deadline = time.monotonic() + wait_s
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"{what} exited with {proc.returncode} before listening")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {wait_s} s")
            time.sleep(0.1)


def stop(proc, group=False):
    """Stops a process we started, by its PID (or by its process group, whose id is that
    PID, when it was started in a session of its own)."""
    if proc.poll() is not None:
        return
    send = (lambda sig: os.killpg(proc.pid, sig)) if group else (lambda sig: proc.send_signal(sig))
    with contextlib.suppress(ProcessLookupError):
        send(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            send(signal.SIGKILL)
        proc.wait(timeout=10)
    if group:  # children (the Python handler process) may outlive the leader
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


@contextlib.contextmanager
def moto_server():
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, proc, "moto.server")
        yield port
    finally:
        stop(proc)
