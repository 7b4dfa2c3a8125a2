"""Shared by lamina's benchmarks: start and stop a server, percentiles."""
import contextlib
import os
import subprocess

DEFAULT_BIN = os.path.join(os.path.dirname(__file__), "..", "build", "lamina")


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, max(0, int(round(p / 100.0 * (len(values) - 1)))))]


@contextlib.contextmanager
def lamina(binary=DEFAULT_BIN, *extra):
    """`lamina serve --ephemeral --port 0` on loopback; yields the port, stops it after."""
    proc = subprocess.Popen([binary, "serve", "--ephemeral", "--port", "0", "--log-level", "warn", *extra],
                            stdout=subprocess.PIPE, text=True)
    try:
        yield int(proc.stdout.readline())
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
