"""docker/Dockerfile and docker/compose.yaml, checked without a Docker engine:
the image is built the way the README's quick start builds lamina, it has the
runtimes and tools it needs, its entry point's command line really starts
`lamina serve`, and compose's health check asks /health."""
import json
import re
import shlex
from pathlib import Path

import pytest

import lamina_testlib as lt
from serve_check import serve_and_check_health, substitute

REPO = lt.REPO
DOCKERFILE = REPO / "docker" / "Dockerfile"
COMPOSE = REPO / "docker" / "compose.yaml"


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    out, cur = [], ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not cur and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            cur += line[:-1] + " "
            continue
        cur += line
        word, _, rest = cur.partition(" ")
        out.append((word.upper(), rest.strip()))
        cur = ""
    return out


def only(instrs, name):
    found = [args for word, args in instrs if word == name]
    assert len(found) == 1, f"{name}: {found}"
    return found[0]


def quick_start_install_mode() -> tuple[str, set]:
    """The README quick start's command, followed to install-deps.sh: (mode, cmake options)."""
    readme = (REPO / "README.md").read_text()
    quick = readme[readme.index("## Quick start"):]
    first_block = re.search(r"```bash\n(.*?)```", quick, re.S).group(1)
    assert first_block.strip() == "bash scripts/serve.sh", first_block
    serve = (REPO / "scripts" / "serve.sh").read_text()
    mode = re.search(r'bash "\$root/scripts/install-deps\.sh" (\w+)', serve).group(1)
    cmake = re.search(r"^cmake (.*)$", serve, re.M).group(1)
    return mode, {o for o in shlex.split(cmake) if o.startswith(("-G", "-D")) or o == "Ninja"}


def install_lists() -> dict:
    """The package arrays of scripts/install-deps.sh."""
    text = (REPO / "scripts" / "install-deps.sh").read_text()
    return {m.group(1): m.group(2).split() for m in re.finditer(r"^(\w+_PKGS)=\((.*?)\)", text, re.S | re.M)}


def entrypoint() -> list[str]:
    return json.loads(only(instructions(DOCKERFILE), "ENTRYPOINT"))


def test_dockerfile_builds_like_the_quick_start():
    instrs = instructions(DOCKERFILE)
    assert only(instrs, "FROM") == "debian:12"
    mode, quick_cmake = quick_start_install_mode()
    run = only(instrs, "RUN")
    steps = [s.strip() for s in run.split("&&")]
    assert steps[0] == f"bash /src/lamina/scripts/install-deps.sh {mode}", steps[0]
    cmake = next(s for s in steps if s.startswith("cmake "))
    assert {o for o in shlex.split(cmake) if o.startswith(("-G", "-D")) or o == "Ninja"} == quick_cmake
    assert any(re.fullmatch(r"ninja -C /src/lamina/build( -j\S+)? lamina lamina_man", s) for s in steps), steps
    # the binary the entry point names is the one built, installed with its runtimes as the
    # Debian package installs them (cmake --install: bin/lamina, share/lamina/runtimes)
    assert "cmake --install /src/lamina/build --prefix /usr/local" in steps
    assert entrypoint()[0] in ("lamina", "/usr/local/bin/lamina")
    # what is copied in is what the build and the runtimes need
    assert only(instrs, "COPY") == ". /src/lamina"
    assert (REPO / "runtimes" / "python").is_dir() and (REPO / "runtimes" / "node").is_dir()


def test_image_installs_bubblewrap_python_node_and_curl():
    mode, _ = quick_start_install_mode()
    lists = install_lists()
    text = (REPO / "scripts" / "install-deps.sh").read_text()
    # `run` (and `build`) install BUILD_PKGS + RUN_PKGS
    assert re.search(r'want=\("\$\{BUILD_PKGS\[@\]\}" "\$\{RUN_PKGS\[@\]\}"\)', text)
    assert re.search(r"^\s*build\|run\) ;;", text, re.M) and mode in ("build", "run")
    assert {"bubblewrap", "python3", "curl", "zip", "ca-certificates"} <= set(lists["RUN_PKGS"]), lists
    # debian:12 has no node, so the script adds Debian's nodejs
    assert "command -v node >/dev/null 2>&1 || RUN_PKGS+=(nodejs)" in text
    # and the build fails if any of them is missing from the image
    run = only(instructions(DOCKERFILE), "RUN")
    loop = re.search(r"for tool in ([^;]+); do", run).group(1).split()
    assert {"bwrap", "python3", "node", "curl"} <= set(loop), loop


@pytest.mark.timeout_s(60)
def test_entrypoint_command_line_starts_lamina_serve(tmp_path):
    argv = entrypoint()
    assert argv[1] == "serve" and argv[argv.index("--host") + 1] == "0.0.0.0"
    assert argv[argv.index("--port") + 1] == "9001"
    assert argv[argv.index("--data-dir") + 1] == "/var/lib/lamina"
    assert only(instructions(DOCKERFILE), "VOLUME") == "/var/lib/lamina"
    assert only(instructions(DOCKERFILE), "EXPOSE") == "9001"
    run_argv = [str(lt.lamina_bin())] + substitute(argv[1:], tmp_path / "data")
    assert len(run_argv) == len(argv)
    status, log = serve_and_check_health(run_argv, tmp_path / "serve.log")
    assert status == 200, log[-3000:]
    assert "lamina.start" in log and "listen=0.0.0.0:" in log, log[-3000:]


def test_dockerfile_healthcheck_asks_health_on_the_served_port():
    hc = only(instructions(DOCKERFILE), "HEALTHCHECK")
    port = entrypoint()[entrypoint().index("--port") + 1]
    assert re.search(rf"CMD curl -fsS --max-time \d+ http://127\.0\.0\.1:{port}/health", hc), hc
    assert "--timeout=" in hc and "--interval=" in hc


def test_compose_file_builds_the_image_and_checks_health():
    yaml = pytest.importorskip("yaml")
    doc = yaml.safe_load(COMPOSE.read_text())
    svc = doc["services"]["lamina"]
    ctx = (COMPOSE.parent / svc["build"]["context"]).resolve()
    assert ctx == REPO.resolve() and (ctx / svc["build"]["dockerfile"]).resolve() == DOCKERFILE.resolve()
    port = entrypoint()[entrypoint().index("--port") + 1]
    assert svc["ports"] == [f"127.0.0.1:{port}:{port}"]  # loopback only
    assert any(v.endswith(":/var/lib/lamina") for v in svc["volumes"])
    hc = svc["healthcheck"]
    test = hc["test"]
    assert test[0] == "CMD" and test[1] == "curl" and "-f" in "".join(test[2:-1])
    assert test[-1] == f"http://127.0.0.1:{port}/health"
    assert {"interval", "timeout", "retries"} <= set(hc)
    assert "lamina-data" in doc["volumes"]
