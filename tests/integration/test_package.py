"""The Debian package: `cmake --build BUILD --target package` in the build folder of the
lamina under test (CI: build-test), then the .deb checked with dpkg-deb and unpacked into a
temporary root (no chroot, no container, nothing installed on the machine): the unpacked
binary prints its version, finds the runtimes beside itself and runs a Python function."""
from __future__ import annotations

import gzip
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

import lamina_testlib as lt

pytestmark = pytest.mark.skipif(not shutil.which("dpkg-deb"), reason="dpkg-deb not found")


def build_dir() -> Path:
    """The CMake build folder the binary under test was built in."""
    folder = lt.lamina_bin().resolve().parent
    if not (folder / "CMakeCache.txt").is_file():
        pytest.skip(f"{lt.lamina_bin()} is not in a CMake build folder")
    return folder


def cache_value(folder: Path, name: str) -> str:
    m = re.search(rf"^{name}:\w+=(.*)$", (folder / "CMakeCache.txt").read_text(), re.M)
    assert m, name
    return m.group(1)


@pytest.fixture(scope="module")
def deb() -> Iterator[Path]:
    folder = build_dir()
    version = cache_value(folder, "CMAKE_PROJECT_VERSION")
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True).stdout.strip()
    package = folder / f"lamina_{version}_{arch}.deb"
    package.unlink(missing_ok=True)
    started = time.monotonic()
    r = subprocess.run(["cmake", "--build", str(folder), "--target", "package"], capture_output=True,
                       text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, (r.stdout + r.stderr)[-5000:]
    print(f"cmake --build {folder} --target package took {time.monotonic() - started:.1f} s, "
          f"{package.stat().st_size / 1e6:.1f} MB")
    assert package.is_file(), r.stdout[-3000:]
    yield package
    # CPack's staging copy (~375 MB under the sanitizer build) and the package itself: CI's
    # disk is not always roomy
    shutil.rmtree(folder / "_CPack_Packages", ignore_errors=True)
    package.unlink(missing_ok=True)


def field(info: str, name: str) -> str:
    m = re.search(rf"^ {name}: (.*)$", info, re.M)
    assert m, f"{name} missing in:\n{info}"
    return m.group(1)


def needed_packages(binary: Path) -> dict:
    """{package: names it provides} for the libraries the binary links directly (its NEEDED
    entries, found where ldd finds them, then dpkg -S)."""
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(\S+)\]",
                        subprocess.run(["readelf", "-d", str(binary)], capture_output=True, text=True).stdout)
    where = dict(re.findall(r"^\s*(\S+) => (/\S+)", subprocess.run(["ldd", str(binary)], capture_output=True,
                                                                    text=True).stdout, re.M))
    packages = {}
    for soname in needed:
        assert soname in where, f"ldd does not resolve {soname}"
        real = os.path.realpath(where[soname])
        candidates = [where[soname], real, re.sub(r"^/usr", "", real)]
        for path in candidates:
            r = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True)
            if r.returncode == 0:
                pkg = r.stdout.split(":")[0]
                provides = subprocess.run(["dpkg-query", "-W", "-f=${Provides}", pkg], capture_output=True,
                                          text=True).stdout
                packages[pkg] = {pkg} | {p.strip().split()[0] for p in provides.split(",") if p.strip()}
                break
        else:
            pytest.fail(f"no Debian package owns {soname} ({candidates})")
    return packages


def test_package_metadata_and_files(deb):
    folder = build_dir()
    info = subprocess.run(["dpkg-deb", "-I", str(deb)], capture_output=True, text=True, check=True).stdout
    assert field(info, "Package") == "lamina"
    assert field(info, "Version") == cache_value(folder, "CMAKE_PROJECT_VERSION")
    depends = {d.strip().split()[0] for d in field(info, "Depends").split(",")}
    assert {"bubblewrap", "python3"} <= depends, depends
    needed = needed_packages(lt.lamina_bin())
    assert {"libsqlite3-0", "libzip4", "libssl3"} <= set(needed), needed
    missing = [pkg for pkg, names in needed.items() if not names & depends]
    assert not missing, f"not in Depends: {missing} (Depends: {sorted(depends)})"
    assert field(info, "Description").startswith("local AWS Lambda emulator")
    assert "nodejs" in field(info, "Recommends")
    # nothing runs at install: the service is installed, not enabled
    assert not re.search(r"\b(postinst|preinst|prerm|postrm)\b", info), info

    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True).stdout
    files = {line.split()[-1] for line in listing.splitlines()}
    for f in ("./usr/bin/lamina", "./usr/share/lamina/runtimes/python/bootstrap.py",
              "./usr/share/man/man1/lamina.1.gz", "./usr/lib/systemd/system/lamina.service",
              "./usr/share/doc/lamina/copyright"):
        assert f in files or any(x.startswith(f) for x in files), f"{f} not in the package:\n{listing}"
    assert not [f for f in files if "__pycache__" in f]


def healthy(url: str) -> bool:
    try:
        return lt.http_get(url + "/health", timeout=2)[0] == 200
    except OSError:
        return False


def test_unpacked_package_runs_a_function(deb, tmp_path):
    root = tmp_path / "root"
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True, timeout=120)
    lamina = root / "usr" / "bin" / "lamina"
    version = cache_value(build_dir(), "CMAKE_PROJECT_VERSION")
    r = subprocess.run([str(lamina), "--version"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == f"lamina {version}", r

    man = gzip.decompress((root / "usr/share/man/man1/lamina.1.gz").read_bytes()).decode()
    assert man.startswith(".TH LAMINA 1") and "lamina run" in man and f"lamina {version}" in man
    unit = (root / "usr/lib/systemd/system/lamina.service").read_text()
    assert re.search(r"^ExecStart=lamina serve .*--data-dir /var/lib/lamina", unit, re.M), unit
    assert "WantedBy=multi-user.target" in unit

    # the unpacked binary finds the runtimes beside itself, not in the source tree
    port_file, log = tmp_path / "port", tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(lamina), "serve", "--ephemeral", "--host", "127.0.0.1", "--port", "0",
                                 "--port-file", str(port_file), "--log-level", "info"],
                                stdout=out, stderr=out, stdin=subprocess.DEVNULL, start_new_session=True,
                                env={k: v for k, v in os.environ.items() if not k.startswith("LAMINA_")})
    try:
        assert lt.wait_for(lambda: port_file.exists() and port_file.read_text().strip().isdigit(),
                           timeout=30), log.read_text()[-3000:]
        url = f"http://127.0.0.1:{port_file.read_text().strip()}"
        assert lt.wait_for(lambda: healthy(url), timeout=30), log.read_text()[-3000:]
        runtimes = root / "usr" / "share" / "lamina" / "runtimes"
        assert f'runtime.dir path={runtimes} source="installed"' in log.read_text(), log.read_text()[-3000:]
        import boto3
        lam = boto3.client("lambda", endpoint_url=url, region_name=lt.REGION, aws_access_key_id="test",
                           aws_secret_access_key="test")
        lt.create_function(lam, "from-deb", zip_bytes=lt.make_zip(
            {"handler.py": "def handler(event, context):\n    return {'sum': event['a'] + event['b']}\n"}))
        out = lam.invoke(FunctionName="from-deb", Payload=b'{"a": 2, "b": 3}')
        assert out["StatusCode"] == 200 and "FunctionError" not in out
        assert out["Payload"].read() == b'{"sum": 5}'
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, log.read_text()[-3000:]
