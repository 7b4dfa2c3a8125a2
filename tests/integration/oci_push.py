"""A small OCI Distribution client for the tests: builds image layers and
configs without Docker and pushes them over plain HTTP, as the distribution
spec (v1.1) describes a push: POST an upload, PUT its bytes with ?digest=,
then PUT the manifest by tag."""

import gzip
import hashlib
import io
import json
import tarfile
import urllib.error
import urllib.request

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tar_layer(entries: list, *, compress: bool = True) -> bytes:
    """entries: (name, kind, data_or_target, mode) with kind "file", "dir",
    "symlink", "hardlink". Returns the tar (gzip'd unless compress=False)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, data, mode in entries:
            info = tarfile.TarInfo(name)
            info.mode = mode
            info.mtime = 0
            if kind == "file":
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
                continue
            if kind == "dir":
                info.type = tarfile.DIRTYPE
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, data
            elif kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, data
            tar.addfile(info)
    raw = buf.getvalue()
    return gzip.compress(raw, mtime=0) if compress else raw


def image_config(*, entrypoint=None, cmd=None, env=None, workdir="", arch="amd64",
                 diff_ids=()) -> bytes:
    cfg = {"architecture": arch, "os": "linux",
           "config": {"Env": env or [], "Entrypoint": entrypoint, "Cmd": cmd, "WorkingDir": workdir},
           "rootfs": {"type": "layers", "diff_ids": list(diff_ids)}}
    return json.dumps(cfg).encode()


def _request(url, method, body=None, headers=None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def registry_available(base: str) -> bool:
    try:
        status, _, _ = _request(base + "/v2/", "GET")
    except OSError:
        return False
    return status == 200


def push_blob(base: str, repo: str, data: bytes) -> str:
    d = digest(data)
    status, headers, body = _request(f"{base}/v2/{repo}/blobs/uploads/", "POST", b"")
    if status != 202:
        raise RuntimeError(f"upload start: {status} {body[:200]!r}")
    location = headers.get("Location") or headers.get("location")
    if location.startswith("/"):
        location = base + location
    sep = "&" if "?" in location else "?"
    status, _, body = _request(f"{location}{sep}digest={d}", "PUT", data,
                               {"Content-Type": "application/octet-stream"})
    if status != 201:
        raise RuntimeError(f"upload: {status} {body[:200]!r}")
    return d


def push_manifest(base: str, repo: str, reference: str, manifest: bytes, media_type: str) -> str:
    status, headers, body = _request(f"{base}/v2/{repo}/manifests/{reference}", "PUT", manifest,
                                     {"Content-Type": media_type})
    if status != 201:
        raise RuntimeError(f"manifest: {status} {body[:300]!r}")
    return digest(manifest)


def push_image(base: str, repo: str, tag: str, layers: list, config: bytes, *,
               docker: bool = False, layer_types: list | None = None,
               layer_sizes: list | None = None) -> str:
    """Pushes blobs and a manifest (OCI, or Docker schema 2 with docker=True);
    returns the manifest digest. layer_sizes: sizes to claim (a lying manifest)."""
    descs = []
    for i, layer in enumerate(layers):
        mt = (layer_types[i] if layer_types else (DOCKER_LAYER if docker else OCI_LAYER_GZIP))
        d = push_blob(base, repo, layer)
        size = layer_sizes[i] if layer_sizes else len(layer)
        descs.append({"mediaType": mt, "digest": d, "size": size})
    cd = push_blob(base, repo, config)
    media = DOCKER_MANIFEST if docker else OCI_MANIFEST
    manifest = {"schemaVersion": 2, "mediaType": media,
                "config": {"mediaType": DOCKER_CONFIG if docker else OCI_CONFIG, "digest": cd,
                           "size": len(config)},
                "layers": descs}
    return push_manifest(base, repo, tag, json.dumps(manifest).encode(), media)


def push_index(base: str, repo: str, tag: str, manifest_digest: str, size: int) -> str:
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX,
             "manifests": [{"mediaType": OCI_MANIFEST, "digest": manifest_digest, "size": size,
                            "platform": {"architecture": "amd64", "os": "linux"}}]}
    return push_manifest(base, repo, tag, json.dumps(index).encode(), OCI_INDEX)
