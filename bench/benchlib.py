"""Shared by lamina's benchmarks: start and stop a server, percentiles."""
import contextlib
import os
import subprocess

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
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def lamina(binary=DEFAULT_BIN, *extra):
    """`lamina serve --ephemeral --port 0` on loopback; yields the port, stops it after."""
    with lamina_process(binary, *extra) as (_, port):
        yield port
