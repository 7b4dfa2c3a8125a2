"""Tiny container images made without Docker, for the registry's tests and benchmarks:
layers as tar files built with tarfile, OCI image layouts and `docker save` archives,
and a raw OCI Distribution API client (monolithic, chunked and mounted pushes)."""

from __future__ import annotations

import gzip
import hashlib
import http.client
import io
import json
import os
import tarfile
from pathlib import Path

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layer_tar(files: dict) -> bytes:
    """An uncompressed tar of {path: bytes} with fixed times, so equal input gives equal bytes."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755 if name.endswith(".sh") else 0o644
            info.mtime = 1700000000
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def config_json(diff_ids: list, *, arch: str = "amd64", env: list | None = None) -> bytes:
    return json.dumps({
        "architecture": arch, "os": "linux",
        "config": {"Env": env or ["PATH=/usr/bin:/bin"], "Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }, sort_keys=True).encode()


class Image:
    """A manifest with its config and (gzipped) layers, in the OCI or Docker format."""

    def __init__(self, layers: list, *, docker: bool = False, arch: str = "amd64"):
        self.raw_layers = layers
        self.layers = [gz(t) for t in layers]
        self.config = config_json([digest(t) for t in layers], arch=arch)
        self.docker = docker
        layer_type = DOCKER_LAYER_GZIP if docker else OCI_LAYER_GZIP
        self.manifest_type = DOCKER_MANIFEST if docker else OCI_MANIFEST
        self.manifest = json.dumps({
            "schemaVersion": 2,
            "mediaType": self.manifest_type,
            "config": {"mediaType": DOCKER_CONFIG if docker else OCI_CONFIG,
                       "digest": digest(self.config), "size": len(self.config)},
            "layers": [{"mediaType": layer_type, "digest": digest(b), "size": len(b)}
                       for b in self.layers],
        }, indent=3).encode()  # indented: byte-exact storage is visible

    @property
    def digest(self) -> str:
        return digest(self.manifest)

    def blobs(self) -> list:
        return [self.config] + self.layers

    def write_oci_layout(self, root: Path, tag: str = "latest") -> Path:
        blobs = root / "blobs" / "sha256"
        blobs.mkdir(parents=True, exist_ok=True)
        for b in self.blobs() + [self.manifest]:
            (blobs / digest(b)[7:]).write_bytes(b)
        (root / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
        (root / "index.json").write_text(json.dumps({
            "schemaVersion": 2, "mediaType": OCI_INDEX,
            "manifests": [{"mediaType": self.manifest_type, "digest": self.digest,
                           "size": len(self.manifest),
                           "annotations": {"org.opencontainers.image.ref.name": tag}}]}))
        return root


def docker_save_tar(raw_layers: list, repo_tags: list, arch: str = "amd64") -> bytes:
    """A `docker save` archive: manifest.json, the config and uncompressed layer tars."""
    config = config_json([digest(t) for t in raw_layers], arch=arch)
    config_name = digest(config)[7:] + ".json"
    layer_names = [f"{digest(t)[7:]}/layer.tar" for t in raw_layers]
    files = {config_name: config,
             "manifest.json": json.dumps([{"Config": config_name, "RepoTags": repo_tags,
                                           "Layers": layer_names}]).encode()}
    for name, t in zip(layer_names, raw_layers):
        files[name] = t
    return layer_tar(files)


def oci_archive_tar(image: Image, tag: str, tmp: Path) -> bytes:
    root = image.write_oci_layout(tmp / "layout", tag)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for p in sorted(root.rglob("*")):
            tar.add(p, arcname=str(p.relative_to(root)), recursive=False)
    return buf.getvalue()


class Registry:
    """A raw client of the OCI Distribution API (one connection, keep-alive)."""

    def __init__(self, port: int, auth: str | None = None):
        self.port = port
        self.auth = auth
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def request(self, method: str, path: str, body=None, headers: dict | None = None):
        h = dict(headers or {})
        if self.auth:
            h["Authorization"] = self.auth
        try:
            self.conn.request(method, path, body=body, headers=h)
            r = self.conn.getresponse()
        except (http.client.HTTPException, ConnectionError):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            self.conn.request(method, path, body=body, headers=h)
            r = self.conn.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data

    def push_blob(self, repo: str, data: bytes) -> tuple[int, dict, bytes]:
        """Monolithic: POST ?digest= with the bytes."""
        return self.request("POST", f"/v2/{repo}/blobs/uploads/?digest={digest(data)}", data,
                            {"Content-Type": "application/octet-stream"})

    def push_blob_chunked(self, repo: str, data: bytes, chunk: int,
                          known_digest: str | None = None) -> tuple[int, dict, bytes]:
        status, h, body = self.request("POST", f"/v2/{repo}/blobs/uploads/")
        assert status == 202, (status, body)
        location = h["location"]
        for start in range(0, len(data), chunk):
            piece = data[start:start + chunk]
            status, h, body = self.request("PATCH", location, piece, {
                "Content-Type": "application/octet-stream",
                "Content-Range": f"{start}-{start + len(piece) - 1}"})
            assert status == 202, (status, body)
            location = h["location"]
        sep = "&" if "?" in location else "?"
        return self.request("PUT", f"{location}{sep}digest={known_digest or digest(data)}", b"")

    def push_manifest(self, repo: str, ref: str, manifest: bytes, media_type: str):
        return self.request("PUT", f"/v2/{repo}/manifests/{ref}", manifest,
                            {"Content-Type": media_type})

    def push_image(self, repo: str, tag: str, image: Image):
        for b in image.blobs():
            status, _, body = self.push_blob(repo, b)
            assert status == 201, (status, body)
        status, h, body = self.push_manifest(repo, tag, image.manifest, image.manifest_type)
        assert status == 201, (status, body)
        return h

    def close(self):
        self.conn.close()


def error_code(body: bytes) -> str:
    return json.loads(body)["errors"][0]["code"]


def random_bytes(n: int) -> bytes:
    return os.urandom(n)
