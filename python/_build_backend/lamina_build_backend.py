"""A PEP 517 / PEP 660 build backend for pytest-lamina, standard library only.

pip builds the wheel in an isolated environment into which it first installs the
backend's requirements. setuptools' backend needs `wheel` (and, isolated, PyPI) for
that; this one needs nothing, so `pip install ./python` works on a machine with no
network. It knows this project's layout only: the modules of src/pytest_lamina/, the
[project] table of pyproject.toml (name, version, description, readme, license,
requires-python, dependencies, optional-dependencies, classifiers, entry-points).
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import tarfile
import time
import zipfile
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python < 3.11
    tomllib = None

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIRS = ["src/pytest_lamina"]


def _project() -> dict:
    if tomllib is None:
        import tomli  # get_requires_for_build_* asked for it
        return tomli.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _requires() -> list:
    return [] if tomllib is not None else ["tomli"]


def get_requires_for_build_wheel(config_settings=None):
    return _requires()


def get_requires_for_build_sdist(config_settings=None):
    return _requires()


def get_requires_for_build_editable(config_settings=None):
    return _requires()


def _dist_name(p: dict) -> str:
    return re.sub(r"[-_.]+", "_", p["name"]).lower()


def _metadata(p: dict) -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {p['name']}", f"Version: {p['version']}"]
    if "description" in p:
        lines.append(f"Summary: {p['description']}")
    if "license" in p:
        lines.append(f"License: {p['license'].get('text', '')}")
    if "requires-python" in p:
        lines.append(f"Requires-Python: {p['requires-python']}")
    lines += [f"Classifier: {c}" for c in p.get("classifiers", [])]
    lines += [f"Requires-Dist: {d}" for d in p.get("dependencies", [])]
    for extra, deps in p.get("optional-dependencies", {}).items():
        lines.append(f"Provides-Extra: {extra}")
        lines += [f'Requires-Dist: {d}; extra == "{extra}"' for d in deps]
    body = ""
    if "readme" in p:
        lines.append("Description-Content-Type: text/markdown")
        body = (ROOT / p["readme"]).read_text(encoding="utf-8")
    return "\n".join(lines) + "\n\n" + body


def _entry_points(p: dict) -> str:
    out = []
    for group, entries in p.get("entry-points", {}).items():
        out.append(f"[{group}]")
        out += [f"{name} = {target}" for name, target in entries.items()]
        out.append("")
    return "\n".join(out)


def _dist_info(p: dict) -> dict:
    return {
        "METADATA": _metadata(p),
        "WHEEL": "Wheel-Version: 1.0\nGenerator: lamina_build_backend\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        "entry_points.txt": _entry_points(p),
    }


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _write_wheel(wheel_directory: str, files: dict) -> str:
    """files: archive name -> bytes (without the dist-info); returns the wheel's basename."""
    p = _project()
    dist = _dist_name(p)
    info = f"{dist}-{p['version']}.dist-info"
    entries = dict(files)
    for name, text in _dist_info(p).items():
        entries[f"{info}/{name}"] = text.encode("utf-8")
    record = [f"{name},{_record_hash(data)},{len(data)}" for name, data in entries.items()]
    record.append(f"{info}/RECORD,,")
    entries[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode("utf-8")
    basename = f"{dist}-{p['version']}-py3-none-any.whl"
    stamp = time.gmtime(int(os.environ.get("SOURCE_DATE_EPOCH", "315532800")))[:6]
    with zipfile.ZipFile(Path(wheel_directory) / basename, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries.items():
            zi = zipfile.ZipInfo(name, date_time=stamp)
            zi.external_attr = 0o644 << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, data)
    return basename


def _package_files() -> dict:
    out = {}
    for d in PACKAGE_DIRS:
        base = ROOT / d
        for f in sorted(base.rglob("*.py")):
            out[f"{base.name}/{f.relative_to(base).as_posix()}"] = f.read_bytes()
    return out


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    p = _project()
    info = Path(metadata_directory) / f"{_dist_name(p)}-{p['version']}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    for name, text in _dist_info(p).items():
        (info / name).write_text(text, encoding="utf-8")
    return info.name


prepare_metadata_for_build_editable = prepare_metadata_for_build_wheel


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    return _write_wheel(wheel_directory, _package_files())


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    """A wheel whose .pth file puts src/ on sys.path: edits take effect at once."""
    p = _project()
    pth = "\n".join(str((ROOT / d).parent) for d in PACKAGE_DIRS) + "\n"
    return _write_wheel(wheel_directory, {f"__editable__.{_dist_name(p)}.pth": pth.encode("utf-8")})


def build_sdist(sdist_directory, config_settings=None):
    p = _project()
    top = f"{_dist_name(p)}-{p['version']}"
    basename = f"{top}.tar.gz"
    members = ["pyproject.toml", p.get("readme", "README.md"), "_build_backend/lamina_build_backend.py"]
    for d in PACKAGE_DIRS:
        members += [f.relative_to(ROOT).as_posix() for f in sorted((ROOT / d).rglob("*.py"))]
    with tarfile.open(Path(sdist_directory) / basename, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        def add(name: str, data: bytes):
            ti = tarfile.TarInfo(f"{top}/{name}")
            ti.size, ti.mode, ti.mtime = len(data), 0o644, 315532800
            tar.addfile(ti, io.BytesIO(data))
        add("PKG-INFO", _metadata(p).encode("utf-8"))
        for m in members:
            add(m, (ROOT / m).read_bytes())
    return basename
