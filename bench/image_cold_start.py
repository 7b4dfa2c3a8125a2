#!/usr/bin/env python3
"""Cold starts of container-image functions (issue 16's target: later cold starts of
an image within 1.5x of a zip function's with the same runtime). Numbers printed,
nothing asserted.

The runtime is the same static binary both ways (tests/integration/image_fixtures/
bootstrap.c, gcc -static): the only file of a provided.al2023 zip, and /bin/bootstrap
of an image pushed to lamina's registry with the raw OCI client, beside a padding
layer of --pad-mb MB in 256 KiB files (dependencies an image would carry).

  first: a new image (its own digest) per round, its function's first invoke:
         unpacking included. Parts, from what lamina exposes: `deliver` (Server-Timing:
         the request's arrival to the event handed to the runtime), `Init Duration`
         (the REPORT line: sandbox start and the runtime's init up to its first /next),
         so deliver - init is lamina's preparation before the sandbox starts (resolve,
         unpack, cgroup), and `Duration` (the invoke itself).
  later: --n new functions on one already unpacked image, interleaved with --n zip
         functions of the same bootstrap: the first invoke of each, p50 and p90, the
         ratio image/zip against the target.

The machine's load (os.getloadavg) is printed before and after: on a busy machine the
absolute numbers move, the ratio much less.

    python3 bench/image_cold_start.py [--bin build/lamina] [--n 15] [--first 3] [--pad-mb 32]
"""
import argparse
import base64
import http.client
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests" / "integration"))
import benchlib  # noqa: E402
import oci_push as oci  # noqa: E402

ACCOUNT, REGION = "123456789012", "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/bench"
TARGET = 1.5


class Client:
    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def call(self, method, path, body=None, raw=None, headers=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        h = {"Content-Type": "application/json", **(headers or {})}
        self.conn.request(method, path, body=data, headers=h)
        r = self.conn.getresponse()
        out = r.read()
        if r.status >= 300:
            raise RuntimeError(f"{method} {path}: {r.status} {out[:300]!r}")
        return out, {k.lower(): v for k, v in r.getheaders()}

    def ecr(self, op, body):
        return self.call("POST", "/", body, headers={
            "X-Amz-Target": f"AmazonEC2ContainerRegistry_V20150921.{op}",
            "Content-Type": "application/x-amz-json-1.1"})

    def create(self, name, spec):
        self.call("POST", "/2015-03-31/functions", {"FunctionName": name, "Role": ROLE, **spec})

    def wait_active(self, names):
        for name in names:
            deadline = time.monotonic() + 60
            while json.loads(self.call("GET", f"/2015-03-31/functions/{name}")[0])[
                    "Configuration"]["State"] != "Active":
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not become Active")
                time.sleep(0.01)

    def cold_invoke(self, name):
        """The first invoke of a function: (total ms, its parts)."""
        t = time.perf_counter()
        out, h = self.call("POST", f"/2015-03-31/functions/{name}/invocations", raw=b"{}",
                           headers={"X-Amz-Log-Type": "Tail"})
        total = (time.perf_counter() - t) * 1000
        if h.get("x-amz-function-error"):
            raise RuntimeError(f"{name} failed: {out[:300]!r}")
        parts = {"total": total}
        for entry in h.get("server-timing", "").split(","):
            m = re.match(r"\s*(\w+);dur=([\d.]+)", entry)
            if m:
                parts[m.group(1)] = float(m.group(2))
        log = base64.b64decode(h.get("x-amz-log-result", "")).decode(errors="replace")
        for key, pattern in (("init", r"Init Duration: ([\d.]+) ms"),
                             ("duration", r"\tDuration: ([\d.]+) ms")):
            m = re.search(pattern, log)
            if m:
                parts[key] = float(m.group(1))
        return total, parts


def build_bootstrap(tmp):
    if not shutil.which("gcc"):
        sys.exit("gcc is needed to build the static bootstrap")
    out = Path(tmp) / "bootstrap"
    subprocess.run(["gcc", "-static", "-O2", "-o", str(out),
                    str(HERE.parent / "tests" / "integration" / "image_fixtures" / "bootstrap.c")],
                   check=True)
    return out.read_bytes()


def zip_of(bootstrap):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o755 << 16  # executable and readable by the sandbox's user
        z.writestr(info, bootstrap)
    return buf.getvalue()


def push(base, repo, bootstrap, pad_mb, seed):
    """An image of two layers: /bin/bootstrap, then pad_mb MB of 256 KiB files."""
    files = [("bin", "dir", None, 0o755), ("bin/bootstrap", "file", bootstrap, 0o755),
             ("seed", "file", seed.encode(), 0o644), ("var", "dir", None, 0o755),
             ("var/task", "dir", None, 0o755)]
    pad = [("deps", "dir", None, 0o755)]
    for i in range(pad_mb * 4):
        pad.append((f"deps/lib{i:04d}.so", "file", os.urandom(256 * 1024), 0o644))
    cfg = oci.image_config(entrypoint=["/bin/bootstrap"], cmd=["handler.main"], env=["PATH=/bin"],
                           workdir="/var/task")
    return oci.push_image(base, repo, "v1", [oci.tar_layer(files), oci.tar_layer(pad)], cfg)


def ms(v):
    return f"{v:9.1f}" if v is not None else "        -"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=benchlib.DEFAULT_BIN)
    ap.add_argument("--n", type=int, default=15, help="later cold starts per kind")
    ap.add_argument("--first", type=int, default=3, help="first cold starts (new images)")
    ap.add_argument("--pad-mb", type=int, default=32)
    ap.add_argument("--serve-arg", action="append", default=[])
    a = ap.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp, \
            benchlib.lamina(a.bin, "--spare-environments", "0", *a.serve_arg) as port:
        c = Client(port)
        base = f"http://127.0.0.1:{port}"
        bootstrap = build_bootstrap(tmp)
        health = json.loads(c.call("GET", "/health")[0])
        print(f"image cold start: sandbox={health.get('sandbox')}, static bootstrap "
              f"{len(bootstrap) // 1024} KiB, padding layer {a.pad_mb} MB, load "
              + " ".join(f"{x:.2f}" for x in load_before))

        # first cold starts: each image new, so the invoke unpacks it
        print(f"\nfirst cold start of a new image (unpacking included), {a.first} images, ms:")
        print(f"{'round':<7}{'total':>9}{'deliver':>9}{'init':>9}{'prepare':>9}{'invoke':>9}")
        uri = None
        firsts = []
        for i in range(a.first):
            repo = f"bench-first-{i}"
            c.ecr("CreateRepository", {"repositoryName": repo})
            push(base, repo, bootstrap, a.pad_mb, f"first-{i}")
            uri = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{repo}:v1"
            name = f"img-first-{i}"
            c.create(name, {"PackageType": "Image", "Code": {"ImageUri": uri}})
            c.wait_active([name])
            total, p = c.cold_invoke(name)
            prepare = p["deliver"] - p["init"] if "deliver" in p and "init" in p else None
            firsts.append((total, prepare))
            print(f"{i:<7}{ms(total)}{ms(p.get('deliver'))}{ms(p.get('init'))}{ms(prepare)}"
                  f"{ms(p.get('duration'))}")
        print("  prepare = deliver - Init Duration: resolve, unpack, cgroup, before the sandbox")

        # later cold starts: new functions on the last (unpacked) image, next to zip ones
        names_img = [f"img-later-{i}" for i in range(a.n)]
        names_zip = [f"zip-later-{i}" for i in range(a.n)]
        code = base64.b64encode(zip_of(bootstrap)).decode()
        for img, zp in zip(names_img, names_zip):
            c.create(img, {"PackageType": "Image", "Code": {"ImageUri": uri}})
            c.create(zp, {"Runtime": "provided.al2023", "Handler": "handler.main",
                          "Code": {"ZipFile": code}})
        c.wait_active(names_img + names_zip)
        time.sleep(1.0)
        result = {"image": [], "zip": []}
        parts = {"image": [], "zip": []}
        for img, zp in zip(names_img, names_zip):  # interleaved: both see the same load
            for kind, name in (("zip", zp), ("image", img)):
                total, p = c.cold_invoke(name)
                result[kind].append(total)
                parts[kind].append(p)
        pct = benchlib.pct
        print(f"\nlater cold starts, {a.n} new functions each (image: already unpacked), ms:")
        print(f"{'kind':<7}{'p50':>9}{'p90':>9}{'deliver':>9}{'init':>9}{'prepare':>9}")
        for kind in ("zip", "image"):
            ps = parts[kind]
            dl = pct([p.get("deliver", 0) for p in ps], 50)
            ini = pct([p.get("init", 0) for p in ps], 50)
            prep = pct([p.get("deliver", 0) - p.get("init", 0) for p in ps], 50)
            print(f"{kind:<7}{ms(pct(result[kind], 50))}{ms(pct(result[kind], 90))}{ms(dl)}"
                  f"{ms(ini)}{ms(prep)}")
        ratio = pct(result["image"], 50) / pct(result["zip"], 50)
        print(f"  (parts are p50s of each column)\nratio image/zip p50: {ratio:.2f}x "
              f"(target <= {TARGET}x: {'met' if ratio <= TARGET else 'MISSED'})")
        first_p50 = pct([f[0] for f in firsts], 50)
        print(f"first cold start p50 {first_p50:.1f} ms = {first_p50 / pct(result['zip'], 50):.1f}x "
              "a zip cold start (no target)")
    print("load after: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
