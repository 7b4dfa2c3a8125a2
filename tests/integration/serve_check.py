"""Start `lamina serve` with a command line taken from a file the tests check
(the Dockerfile's ENTRYPOINT, the CI workflow's start step), ask /health,
stop it. Only the port (0) and the data directory (a temp dir) are replaced."""
from __future__ import annotations

import os
import select
import signal
import subprocess
import time
from pathlib import Path

import lamina_testlib as lt


def substitute(argv: list[str], data_dir: Path) -> list[str]:
    """argv with --port's value set to 0 and --data-dir's to data_dir (nothing else touched)."""
    out, i = [], 0
    while i < len(argv):
        a = argv[i]
        if a in ("--port", "--data-dir") and i + 1 < len(argv):
            out += [a, "0" if a == "--port" else str(data_dir)]
            i += 2
            continue
        if a.startswith("--port="):
            a = "--port=0"
        elif a.startswith("--data-dir="):
            a = f"--data-dir={data_dir}"
        out.append(a)
        i += 1
    return out


def serve_and_check_health(argv: list[str], log_path: Path, timeout: float = 20.0) -> tuple[int, str]:
    """Run argv (a `lamina serve` command line with --port 0), wait for the port it
    prints, GET /health on 127.0.0.1, stop it. Returns (HTTP status, server log)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAMINA_")}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
                                env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        buf = b""
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or proc.poll() is not None:
                raise AssertionError(f"{argv} printed no port (exit {proc.poll()}); log:\n"
                                     f"{log_path.read_text(errors='replace')[-3000:]}")
            r, _, _ = select.select([proc.stdout], [], [], min(left, 0.2))
            if r:
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    continue
                buf += chunk
        port = int(buf.split(b"\n")[0])
        status = None
        while time.monotonic() < deadline:
            try:
                status, _, _ = lt.http_get(f"http://127.0.0.1:{port}/health", timeout=2)
                if status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        return status, log_path.read_text(errors="replace")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        proc.stdout.close()
