#!/usr/bin/env python3
"""Push of a 100 MB image into lamina's registry over loopback (issue 16's target:
>= 200 MB/s): one random (incompressible) 100 MB layer pushed as a raw HTTP monolithic
upload, as 8 MiB chunks (POST, PATCH..., PUT), and with skopeo from an OCI layout.
Prints MB/s next to the target; asserts nothing.

    python3 bench/image_push.py [--binary build/lamina] [--mb 100] [--rounds 3]
"""
import argparse
import hashlib
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
import benchlib  # noqa: E402
import oci_images as oi  # noqa: E402

TARGET_MBPS = 200.0


def push_monolithic(port, repo, data, digest):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    conn.request("POST", f"/v2/{repo}/blobs/uploads/?digest={digest}", body=data)
    r = conn.getresponse()
    r.read()
    assert r.status == 201, r.status
    conn.close()


def push_chunked(port, repo, data, digest, chunk=8 << 20):
    reg = oi.Registry(port)
    status, _, body = reg.push_blob_chunked(repo, data, chunk, digest)
    assert status == 201, (status, body)
    reg.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=benchlib.DEFAULT_BIN)
    ap.add_argument("--mb", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    size = a.mb * 1024 * 1024
    print(f"image push: {a.mb} MB random layer over loopback, {a.rounds} rounds, "
          f"target {TARGET_MBPS:.0f} MB/s")
    with benchlib.lamina(a.binary) as port, tempfile.TemporaryDirectory() as tmp:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        results = {}
        for way in ("monolithic", "chunked", "skopeo"):
            if way == "skopeo" and not shutil.which("skopeo"):
                print("  skopeo: not installed, skipped")
                continue
            times = []
            for i in range(a.rounds):
                repo = f"bench-{way}-{i}"
                body = json.dumps({"repositoryName": repo})
                conn.request("POST", "/", body=body, headers={
                    "X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.CreateRepository",
                    "Content-Type": "application/x-amz-json-1.1"})
                conn.getresponse().read()
                data = os.urandom(size)  # a new layer each round: nothing is deduplicated
                if way == "skopeo":
                    layout = Path(tmp) / f"layout-{i}"
                    blobs = layout / "blobs" / "sha256"
                    blobs.mkdir(parents=True)
                    config = oi.config_json([oi.digest(data)])
                    manifest = json.dumps({
                        "schemaVersion": 2, "mediaType": oi.OCI_MANIFEST,
                        "config": {"mediaType": oi.OCI_CONFIG, "digest": oi.digest(config),
                                   "size": len(config)},
                        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                    "digest": oi.digest(data), "size": len(data)}]}).encode()
                    for b in (data, config, manifest):
                        (blobs / hashlib.sha256(b).hexdigest()).write_bytes(b)
                    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
                    (layout / "index.json").write_text(json.dumps({
                        "schemaVersion": 2, "manifests": [{
                            "mediaType": oi.OCI_MANIFEST, "digest": oi.digest(manifest),
                            "size": len(manifest),
                            "annotations": {"org.opencontainers.image.ref.name": "v1"}}]}))
                    t0 = time.perf_counter()
                    r = subprocess.run(["skopeo", "copy", "--dest-tls-verify=false",
                                        f"oci:{layout}:v1", f"docker://127.0.0.1:{port}/{repo}:v1"],
                                       capture_output=True, text=True, timeout=600)
                    took = time.perf_counter() - t0
                    assert r.returncode == 0, r.stderr
                    shutil.rmtree(layout)
                else:
                    digest = oi.digest(data)  # the client's hashing is not the server's time
                    t0 = time.perf_counter()
                    (push_monolithic if way == "monolithic" else push_chunked)(port, repo, data,
                                                                               digest)
                    took = time.perf_counter() - t0
                times.append(took)
            best = min(times)
            results[way] = size / best / 1e6
            print(f"  {way:10s}: best {best * 1000:7.0f} ms  {results[way]:6.0f} MB/s "
                  f"(target {TARGET_MBPS:.0f})  all: " + ", ".join(f"{t * 1000:.0f}" for t in times))
        conn.close()


if __name__ == "__main__":
    main()
