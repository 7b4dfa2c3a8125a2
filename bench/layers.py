#!/usr/bin/env python3
"""Layers benchmark for lamina (numbers printed, nothing asserted).

1. PublishLayerVersion of a ~50 MB layer zip (server-side time from the
   Server-Timing header: decode, hash, store, extract).
2. Assembly of the /opt view for a function with 5 already-extracted layers
   (each ~200 files): every permutation of the layer list is a new view, so
   each measurement builds one from scratch; plus the cached lookup.

    python3 bench/layers.py [--bin build/lamina]
"""
import argparse
import base64
import http.client
import io
import itertools
import json
import os
import sys

from benchlib import DEFAULT_BIN, lamina, pct
import time
import zipfile

TARGET_PUBLISH_MS = 500.0
TARGET_ASSEMBLE_MS = 5.0




def call(conn, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    conn.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
    resp = conn.getresponse()
    payload = resp.read()
    if resp.status >= 300:
        raise RuntimeError(f"{method} {path}: {resp.status} {payload[:300]!r}")
    return float(resp.getheader("Server-Timing").split("dur=")[1]), json.loads(payload) if payload else None


def layer_zip(tag, files=200, big=0):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(files):
            z.writestr(f"python/lib/python3.12/site-packages/pkg{i % 20}/mod{i}.py", f"# {tag} {i}\nX = {i}\n")
        z.writestr("bin/tool", "#!/bin/sh\necho " + tag + "\n")
        if big:
            z.writestr(zipfile.ZipInfo("data/blob.bin"), os.urandom(big), compress_type=zipfile.ZIP_STORED)
    return buf.getvalue()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=DEFAULT_BIN)
    ap.add_argument("--publishes", type=int, default=5)
    args = ap.parse_args()
    with lamina(args.bin) as port:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        big = layer_zip("big", big=50 * 1024 * 1024 - 300 * 1024)
        publish_ms = []
        for i in range(args.publishes):
            content = big if i == 0 else layer_zip(f"big{i}", big=50 * 1024 * 1024 - 300 * 1024)
            ms, _ = call(conn, "POST", f"/2018-10-31/layers/big-{i}/versions",
                         {"Content": {"ZipFile": base64.b64encode(content).decode()}})
            publish_ms.append(ms)

        arns = []
        for i in range(6):
            _, out = call(conn, "POST", f"/2018-10-31/layers/small-{i}/versions",
                          {"Content": {"ZipFile": base64.b64encode(layer_zip(f"l{i}")).decode()}})
            arns.append(out["LayerVersionArn"])
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as z:
            z.writestr("handler.py", "def handler(e, c):\n    return e\n")
        code_b64 = base64.b64encode(code.getvalue()).decode()
        fresh, cached = [], []
        for n, perm in enumerate(itertools.islice(itertools.permutations(arns, 5), 40)):
            name = f"fn-{n}"
            call(conn, "POST", "/2015-03-31/functions",
                 {"FunctionName": name, "Runtime": "python3.12", "Handler": "handler.handler",
                  "Role": "arn:aws:iam::123456789012:role/r", "Code": {"ZipFile": code_b64}, "Layers": list(perm)})
            ms, out = call(conn, "GET", f"/_lamina/opt/{name}")
            fresh.append(ms)
            ms, _ = call(conn, "GET", f"/_lamina/opt/{name}")
            cached.append(ms)
        files = sum(len(f) for _, _, f in os.walk(out["Path"]))
        print(f"lamina layers benchmark ({len(big) / 1e6:.1f} MB layer zip; 5 layers x ~200 files = {files} files in /opt)")
        print(f"{'measure':<42}{'p50 ms':>10}{'p99 ms':>10}{'target':>9}{'ratio':>8}")
        for label, vals, target in [("PublishLayerVersion 50 MB (server)", publish_ms, TARGET_PUBLISH_MS),
                                    ("assemble /opt, 5 extracted layers (server)", fresh, TARGET_ASSEMBLE_MS),
                                    ("/opt view already assembled (server)", cached, TARGET_ASSEMBLE_MS)]:
            print(f"{label:<42}{pct(vals, 50):>10.2f}{pct(vals, 99):>10.2f}{target:>9.1f}{pct(vals, 50) / target:>8.2f}")


if __name__ == "__main__":
    sys.exit(main())
