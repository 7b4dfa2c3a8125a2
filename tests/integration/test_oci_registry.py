"""lamina's image registry: the OCI Distribution API under /v2 (raw HTTP and skopeo), the
minimal ECR API (boto3), `lamina image load`, and persistence across a restart."""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

import lamina_testlib as lt
import oci_images as oi

ACCOUNT = lt.ACCOUNT
REGION = lt.REGION


@pytest.fixture(scope="module")
def ecr(server):
    return server.client("ecr")


@pytest.fixture()
def reg(server):
    r = oi.Registry(server.port)
    yield r
    r.close()


def new_repo(ecr, prefix="img") -> str:
    name = lt.unique(prefix).lower()
    ecr.create_repository(repositoryName=name)
    return name


def error_of(fn, **kw):
    with pytest.raises(ClientError) as e:
        fn(**kw)
    return e.value.response["Error"]


# ----------------------------------------------------------------------- distribution API

def test_base_endpoint(reg):
    status, h, body = reg.request("GET", "/v2/")
    assert status == 200 and json.loads(body) == {}
    assert h["docker-distribution-api-version"] == "registry/2.0"


def test_push_pull_monolithic_and_byte_exact(ecr, reg):
    repo = new_repo(ecr)
    image = oi.Image([oi.layer_tar({"hello.txt": b"hi\n"}), oi.layer_tar({"b.txt": b"b"})])
    h = reg.push_image(repo, "v1", image)
    assert h["docker-content-digest"] == image.digest
    assert h["location"] == f"/v2/{repo}/manifests/{image.digest}"
    for ref in ("v1", image.digest):
        status, h, body = reg.request("GET", f"/v2/{repo}/manifests/{ref}",
                                      headers={"Accept": oi.OCI_MANIFEST})
        assert status == 200 and body == image.manifest
        assert h["content-type"] == oi.OCI_MANIFEST
        assert h["docker-content-digest"] == image.digest
    status, h, body = reg.request("HEAD", f"/v2/{repo}/manifests/v1")
    assert status == 200 and body == b"" and int(h["content-length"]) == len(image.manifest)
    for blob in image.blobs():
        status, h, body = reg.request("GET", f"/v2/{repo}/blobs/{oi.digest(blob)}")
        assert status == 200 and body == blob
        assert h["docker-content-digest"] == oi.digest(blob)
        status, h, _ = reg.request("HEAD", f"/v2/{repo}/blobs/{oi.digest(blob)}")
        assert status == 200 and int(h["content-length"]) == len(blob)


def test_blob_range(ecr, reg):
    repo = new_repo(ecr)
    data = oi.random_bytes(3000)
    assert reg.push_blob(repo, data)[0] == 201
    status, h, body = reg.request("GET", f"/v2/{repo}/blobs/{oi.digest(data)}",
                                  headers={"Range": "bytes=100-199"})
    assert status == 206 and body == data[100:200]
    assert h["content-range"] == "bytes 100-199/3000"
    status, _, _ = reg.request("GET", f"/v2/{repo}/blobs/{oi.digest(data)}",
                               headers={"Range": "bytes=5000-"})
    assert status == 416


def test_large_blob_streams_both_ways(ecr, reg):
    repo = new_repo(ecr)
    data = oi.random_bytes(5 * 1024 * 1024 + 17)
    assert reg.push_blob(repo, data)[0] == 201
    status, _, body = reg.request("GET", f"/v2/{repo}/blobs/{oi.digest(data)}")
    assert status == 200 and body == data


def test_chunked_upload_status_and_cancel(ecr, reg):
    repo = new_repo(ecr)
    data = oi.random_bytes(10000)
    status, h, body = reg.push_blob_chunked(repo, data, 4096)
    assert status == 201, body
    assert h["docker-content-digest"] == oi.digest(data)
    assert reg.request("GET", f"/v2/{repo}/blobs/{oi.digest(data)}")[2] == data

    status, h, _ = reg.request("POST", f"/v2/{repo}/blobs/uploads/")
    assert status == 202 and h["docker-upload-uuid"] and h["range"] == "0-0"
    loc = h["location"]
    status, h, _ = reg.request("PATCH", loc, b"abcd", {"Content-Range": "0-3"})
    assert status == 202 and h["range"] == "0-3"
    status, h, _ = reg.request("GET", loc)
    assert status == 204 and h["range"] == "0-3"
    # out of order: 416, the upload as it was
    status, _, body = reg.request("PATCH", loc, b"zz", {"Content-Range": "10-11"})
    assert status == 416, body
    assert reg.request("GET", loc)[1]["range"] == "0-3"
    # a final PUT with a last chunk
    status, h, _ = reg.request("PUT", f"{loc}?digest={oi.digest(b'abcdef')}", b"ef")
    assert status == 201 and h["docker-content-digest"] == oi.digest(b"abcdef")
    # cancel
    status, h, _ = reg.request("POST", f"/v2/{repo}/blobs/uploads/")
    loc = h["location"]
    assert reg.request("DELETE", loc)[0] == 204
    status, _, body = reg.request("GET", loc)
    assert status == 404 and oi.error_code(body) == "BLOB_UPLOAD_UNKNOWN"


def test_cross_repository_mount(ecr, reg):
    a, b = new_repo(ecr), new_repo(ecr)
    data = oi.random_bytes(2048)
    assert reg.push_blob(a, data)[0] == 201
    status, _, _ = reg.request("GET", f"/v2/{b}/blobs/{oi.digest(data)}")
    assert status == 404
    status, h, _ = reg.request("POST", f"/v2/{b}/blobs/uploads/?mount={oi.digest(data)}&from={a}")
    assert status == 201 and h["location"] == f"/v2/{b}/blobs/{oi.digest(data)}"
    assert reg.request("GET", f"/v2/{b}/blobs/{oi.digest(data)}")[2] == data
    # nothing to mount: an upload session instead
    other = oi.random_bytes(10)
    status, h, _ = reg.request("POST", f"/v2/{b}/blobs/uploads/?mount={oi.digest(other)}&from={a}")
    assert status == 202 and "/blobs/uploads/" in h["location"]


def test_wrong_digest_changes_nothing(ecr, reg):
    repo = new_repo(ecr)
    data = b"some bytes"
    wrong = oi.digest(b"other bytes")
    status, _, body = reg.request("POST", f"/v2/{repo}/blobs/uploads/?digest={wrong}", data)
    assert status == 400 and oi.error_code(body) == "DIGEST_INVALID"
    for d in (wrong, oi.digest(data)):
        status, _, body = reg.request("HEAD", f"/v2/{repo}/blobs/{d}")
        assert status == 404
    status, _, body = reg.request("POST", f"/v2/{repo}/blobs/uploads/?digest=sha256:xyz", data)
    assert status == 400 and oi.error_code(body) == "DIGEST_INVALID"
    # chunked: the wrong final digest leaves the upload as it was, then it can finish
    status, h, _ = reg.request("POST", f"/v2/{repo}/blobs/uploads/")
    loc = h["location"]
    reg.request("PATCH", loc, b"abc", {"Content-Range": "0-2"})
    status, _, body = reg.request("PUT", f"{loc}?digest={wrong}", b"def")
    assert status == 400 and oi.error_code(body) == "DIGEST_INVALID"
    assert reg.request("GET", loc)[1]["range"] == "0-2"
    status, _, _ = reg.request("PUT", f"{loc}?digest={oi.digest(b'abcdef')}", b"def")
    assert status == 201


def test_manifest_errors_change_nothing(ecr, reg):
    repo = new_repo(ecr)
    image = oi.Image([oi.layer_tar({"a": b"a"})])
    # blobs missing
    status, _, body = reg.push_manifest(repo, "v1", image.manifest, image.manifest_type)
    assert status == 400 and oi.error_code(body) == "MANIFEST_BLOB_UNKNOWN"
    # not a manifest
    status, _, body = reg.push_manifest(repo, "v1", b"{not json", oi.OCI_MANIFEST)
    assert status == 400 and oi.error_code(body) == "MANIFEST_INVALID"
    # by a digest that is not the bytes'
    for b in image.blobs():
        reg.push_blob(repo, b)
    status, _, body = reg.push_manifest(repo, oi.digest(b"x"), image.manifest, image.manifest_type)
    assert status == 400 and oi.error_code(body) == "DIGEST_INVALID"
    # a descriptor lying about its size
    lying = json.loads(image.manifest)
    lying["layers"][0]["size"] += 1
    status, _, body = reg.push_manifest(repo, "v1", json.dumps(lying).encode(), oi.OCI_MANIFEST)
    assert status == 400 and oi.error_code(body) == "MANIFEST_INVALID"
    # larger than 4 MB
    # larger than 4 MB: refused from its Content-Length, before the body is sent
    with socket.create_connection(("127.0.0.1", reg.port), timeout=30) as s:
        s.sendall((f"PUT /v2/{repo}/manifests/big HTTP/1.1\r\nHost: x\r\n"
                   f"Content-Type: {oi.OCI_MANIFEST}\r\nContent-Length: {4 * 1024 * 1024 + 1}"
                   "\r\n\r\n").encode())
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.endswith(b"}"):
            chunk = s.recv(65536)
            if not chunk:
                break
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413") and oi.error_code(body) == "SIZE_INVALID"
    # nothing was tagged
    status, _, body = reg.request("GET", f"/v2/{repo}/tags/list")
    assert status == 200 and json.loads(body)["tags"] == []
    status, _, body = reg.request("GET", f"/v2/{repo}/manifests/v1")
    assert status == 404 and oi.error_code(body) == "MANIFEST_UNKNOWN"


def test_names_and_unknown_repository(reg):
    status, _, body = reg.request("POST", "/v2/Bad_Name/blobs/uploads/")
    assert status == 400 and oi.error_code(body) == "NAME_INVALID"
    missing = lt.unique("nope").lower()
    status, _, body = reg.request("POST", f"/v2/{missing}/blobs/uploads/")
    assert status == 404 and oi.error_code(body) == "NAME_UNKNOWN"
    assert missing in json.loads(body)["errors"][0]["message"]
    status, _, body = reg.request("POST", f"/v2/{missing}/blobs/uploads/?digest={oi.digest(b'x')}", b"x")
    assert status == 404 and oi.error_code(body) == "NAME_UNKNOWN"


def test_index_tags_pagination_delete(ecr, reg):
    repo = new_repo(ecr)
    image = oi.Image([oi.layer_tar({"a": b"1"})])
    reg.push_image(repo, "a1", image)
    index = json.dumps({"schemaVersion": 2, "mediaType": oi.OCI_INDEX, "manifests": [
        {"mediaType": oi.OCI_MANIFEST, "digest": image.digest, "size": len(image.manifest),
         "platform": {"architecture": "amd64", "os": "linux"}}]}).encode()
    status, _, body = reg.push_manifest(repo, "multi", index, oi.OCI_INDEX)
    assert status == 201, body
    missing_child = index.replace(image.digest[7:].encode(), b"0" * 64)
    status, _, body = reg.push_manifest(repo, "bad", missing_child, oi.OCI_INDEX)
    assert status == 400 and oi.error_code(body) == "MANIFEST_BLOB_UNKNOWN"
    for t in ("b2", "c3", "d4"):
        reg.push_manifest(repo, t, image.manifest, image.manifest_type)
    status, h, body = reg.request("GET", f"/v2/{repo}/tags/list?n=2")
    assert json.loads(body) == {"name": repo, "tags": ["a1", "b2"]}
    assert h["link"] == f'</v2/{repo}/tags/list?n=2&last=b2>; rel="next"'
    status, h, body = reg.request("GET", f"/v2/{repo}/tags/list?n=2&last=b2")
    assert json.loads(body)["tags"] == ["c3", "d4"]
    status, h, body = reg.request("GET", f"/v2/{repo}/tags/list?n=2&last=d4")
    assert json.loads(body)["tags"] == ["multi"] and "link" not in h
    # deleting a tag keeps the manifest; deleting the digest removes its tags
    assert reg.request("DELETE", f"/v2/{repo}/manifests/d4")[0] == 202
    assert reg.request("GET", f"/v2/{repo}/manifests/{image.digest}")[0] == 200
    assert reg.request("DELETE", f"/v2/{repo}/manifests/{image.digest}")[0] == 202
    status, _, body = reg.request("GET", f"/v2/{repo}/tags/list")
    assert json.loads(body)["tags"] == ["multi"]


def test_immutable_tags(ecr, reg):
    repo = lt.unique("imm").lower()
    ecr.create_repository(repositoryName=repo, imageTagMutability="IMMUTABLE")
    one = oi.Image([oi.layer_tar({"a": b"1"})])
    two = oi.Image([oi.layer_tar({"a": b"2"})])
    reg.push_image(repo, "v1", one)
    for b in two.blobs():
        reg.push_blob(repo, b)
    status, _, body = reg.push_manifest(repo, "v1", two.manifest, two.manifest_type)
    assert status == 400 and oi.error_code(body) == "TAG_INVALID"
    assert "cannot be overwritten because the repository is immutable" in body.decode()
    assert reg.push_manifest(repo, "v1", one.manifest, one.manifest_type)[0] == 201


# ----------------------------------------------------------------------- skopeo

def skopeo(*args, timeout=60):
    return subprocess.run(["skopeo", *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.skipif(not shutil.which("skopeo"), reason="skopeo is not installed")
@pytest.mark.parametrize("fmt", ["oci", "v2s2"])
def test_skopeo_copy_round_trip(server, ecr, tmp_path, fmt):
    repo = new_repo(ecr, "skopeo")
    image = oi.Image([oi.layer_tar({"bin/app.sh": b"#!/bin/sh\necho hi\n"}),
                      oi.layer_tar({"etc/x": b"x" * 5000})])
    image.write_oci_layout(tmp_path / "src")
    dest = f"docker://127.0.0.1:{server.port}/{repo}:v1"
    r = skopeo("copy", "--dest-tls-verify=false", "--format", fmt, f"oci:{tmp_path / 'src'}:latest", dest)
    assert r.returncode == 0, r.stderr
    r = skopeo("inspect", "--tls-verify=false", "--raw", dest)
    assert r.returncode == 0, r.stderr
    raw = json.loads(r.stdout)
    assert raw["mediaType"] == (oi.OCI_MANIFEST if fmt == "oci" else oi.DOCKER_MANIFEST)
    r = skopeo("copy", "--src-tls-verify=false", dest, f"oci:{tmp_path / 'back'}:v1")
    assert r.returncode == 0, r.stderr
    back = tmp_path / "back" / "blobs" / "sha256"
    for blob in image.layers:
        assert (back / oi.digest(blob)[7:]).read_bytes() == blob
    listed = ecr.list_images(repositoryName=repo)["imageIds"]
    assert [i["imageTag"] for i in listed] == ["v1"]


# ----------------------------------------------------------------------- ECR API

def test_ecr_repositories(ecr):
    name = lt.unique("ecr").lower()
    repo = ecr.create_repository(repositoryName=name, tags=[{"Key": "k", "Value": "v"}])["repository"]
    assert repo["repositoryArn"] == f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{name}"
    assert repo["repositoryUri"] == f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{name}"
    assert repo["registryId"] == ACCOUNT and repo["imageTagMutability"] == "MUTABLE"
    assert repo["imageScanningConfiguration"] == {"scanOnPush": False}
    assert repo["encryptionConfiguration"] == {"encryptionType": "AES256"}
    assert repo["createdAt"].year >= 2024
    err = error_of(ecr.create_repository, repositoryName=name)
    assert err["Code"] == "RepositoryAlreadyExistsException"
    assert err["Message"] == (f"The repository with name '{name}' already exists in the registry "
                              f"with id '{ACCOUNT}'")
    err = error_of(ecr.create_repository, repositoryName="Bad..Name")
    assert err["Code"] == "InvalidParameterException"
    got = ecr.describe_repositories(repositoryNames=[name])["repositories"]
    assert [r["repositoryName"] for r in got] == [name]
    err = error_of(ecr.describe_repositories, repositoryNames=[name + "-missing"])
    assert err["Code"] == "RepositoryNotFoundException"
    assert err["Message"] == (f"The repository with name '{name}-missing' does not exist in the "
                              f"registry with id '{ACCOUNT}'")
    for i in range(3):
        ecr.create_repository(repositoryName=f"{name}/p{i}")
    names, token, pages = [], None, 0
    while True:
        kw = {"maxResults": 2} | ({"nextToken": token} if token else {})
        page = ecr.describe_repositories(**kw)
        names += [r["repositoryName"] for r in page["repositories"]]
        pages += 1
        token = page.get("nextToken")
        if not token:
            break
    assert {f"{name}/p{i}" for i in range(3)} <= set(names) and pages >= 2
    assert ecr.delete_repository(repositoryName=f"{name}/p0")["repository"]["repositoryName"] == f"{name}/p0"
    err = error_of(ecr.delete_repository, repositoryName=f"{name}/p0")
    assert err["Code"] == "RepositoryNotFoundException"


def test_ecr_images(ecr, reg):
    repo = new_repo(ecr)
    one = oi.Image([oi.layer_tar({"a": b"1"})])
    two = oi.Image([oi.layer_tar({"a": b"2"})], docker=True)
    reg.push_image(repo, "one", one)
    reg.push_image(repo, "two", two)
    reg.push_manifest(repo, "also-two", two.manifest, two.manifest_type)
    reg.push_manifest(repo, "gone", one.manifest, one.manifest_type)
    reg.request("DELETE", f"/v2/{repo}/manifests/gone")
    untagged = oi.Image([oi.layer_tar({"u": b"u"})])
    for b in untagged.blobs():
        reg.push_blob(repo, b)
    reg.push_manifest(repo, untagged.digest, untagged.manifest, untagged.manifest_type)

    ids = ecr.list_images(repositoryName=repo)["imageIds"]
    assert sorted((i["imageDigest"], i.get("imageTag")) for i in ids) == sorted(
        [(one.digest, "one"), (two.digest, "two"), (two.digest, "also-two"), (untagged.digest, None)])
    ids = ecr.list_images(repositoryName=repo, filter={"tagStatus": "UNTAGGED"})["imageIds"]
    assert ids == [{"imageDigest": untagged.digest}]

    details = ecr.describe_images(repositoryName=repo, imageIds=[{"imageTag": "two"}])["imageDetails"]
    assert len(details) == 1
    d = details[0]
    assert d["imageDigest"] == two.digest and d["imageTags"] == ["also-two", "two"]
    assert d["imageManifestMediaType"] == oi.DOCKER_MANIFEST
    assert d["artifactMediaType"] == oi.DOCKER_CONFIG
    assert d["registryId"] == ACCOUNT and d["repositoryName"] == repo
    assert d["imageSizeInBytes"] >= sum(len(b) for b in two.layers)
    err = error_of(ecr.describe_images, repositoryName=repo, imageIds=[{"imageTag": "nope"}])
    assert err["Code"] == "ImageNotFoundException"
    assert err["Message"] == (f"The image with imageId {{imageDigest:'null', imageTag:'nope'}} does "
                              f"not exist within the repository with name '{repo}' in the registry "
                              f"with id '{ACCOUNT}'")
    err = error_of(ecr.describe_images, repositoryName=repo + "-x")
    assert err["Code"] == "RepositoryNotFoundException"
    assert len(ecr.describe_images(repositoryName=repo, filter={"tagStatus": "TAGGED"})["imageDetails"]) == 2

    got = ecr.batch_get_image(repositoryName=repo, imageIds=[{"imageTag": "one"}, {"imageTag": "nope"}])
    assert got["images"][0]["imageManifest"] == one.manifest.decode()
    assert got["images"][0]["imageManifestMediaType"] == oi.OCI_MANIFEST
    assert got["images"][0]["imageId"] == {"imageDigest": one.digest, "imageTag": "one"}
    assert got["failures"] == [{"imageId": {"imageTag": "nope"}, "failureCode": "ImageNotFound",
                                "failureReason": "Requested image not found"}]
    got = ecr.batch_get_image(repositoryName=repo, imageIds=[{"imageTag": "one"}],
                              acceptedMediaTypes=[oi.DOCKER_MANIFEST])
    assert got["images"] == [] and got["failures"][0]["failureCode"] == "ImageNotFound"

    # by tag: the tag goes; the image goes with its last tag
    out = ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageTag": "also-two"}])
    assert out["imageIds"] == [{"imageDigest": two.digest, "imageTag": "also-two"}]
    assert out["failures"] == []
    out = ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageTag": "one"},
                                                                {"imageDigest": oi.digest(b"none")}])
    assert out["imageIds"] == [{"imageDigest": one.digest, "imageTag": "one"}]
    assert out["failures"][0]["failureCode"] == "ImageNotFound"
    assert reg.request("GET", f"/v2/{repo}/manifests/{one.digest}")[0] == 404

    err = error_of(ecr.delete_repository, repositoryName=repo)
    assert err["Code"] == "RepositoryNotEmptyException"
    assert err["Message"] == (f"The repository with name '{repo}' in registry with id '{ACCOUNT}' "
                              "cannot be deleted because it still contains images")
    ecr.delete_repository(repositoryName=repo, force=True)
    status, _, body = reg.request("GET", f"/v2/{repo}/tags/list")
    assert status == 404 and oi.error_code(body) == "NAME_UNKNOWN"


def test_ecr_authorization_token_and_unemulated(server, ecr):
    data = ecr.get_authorization_token()["authorizationData"][0]
    user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    assert user == "AWS" and password
    assert data["proxyEndpoint"] == f"http://127.0.0.1:{server.port}"
    hours = (data["expiresAt"].timestamp() - __import__("time").time()) / 3600
    assert 11.9 < hours <= 12.01
    err = error_of(ecr.describe_registry)
    assert err["Code"] == "NotImplementedException" and "DescribeRegistry" in err["Message"]


# ----------------------------------------------------------------------- auth, image load, restart

CREDS = "AKIDREGISTRY1 regsecret1 111122223333\n"


def test_sigv4_registry_needs_login(tmp_path):
    (tmp_path / "creds").write_text(CREDS)
    srv = lt.LaminaServer(extra_args=["--auth", "sigv4", "--credentials", str(tmp_path / "creds"),
                                      "--account-id", "111122223333"])
    srv.start()
    try:
        r = oi.Registry(srv.port)
        status, h, body = r.request("GET", "/v2/")
        assert status == 401 and h["www-authenticate"].startswith("Basic realm=")
        assert oi.error_code(body) == "UNAUTHORIZED"
        ecr = lt.make_client(srv.port, "ecr", key="AKIDREGISTRY1")
        ecr._request_signer._credentials.secret_key = "regsecret1"
        token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
        ecr.create_repository(repositoryName="secure")
        bad = oi.Registry(srv.port, auth="Basic " + base64.b64encode(b"AWS:forged.1.2").decode())
        assert bad.request("GET", "/v2/")[0] == 401
        status, _, body = bad.request("POST", "/v2/secure/blobs/uploads/?digest=" + oi.digest(b"x"), b"x")
        assert status == 401
        ok = oi.Registry(srv.port, auth="Basic " + token)
        assert ok.request("GET", "/v2/")[0] == 200
        assert ok.push_blob("secure", b"x")[0] == 201
    finally:
        srv.stop()


def lamina_image_load(port: int, archive: Path, *args) -> subprocess.CompletedProcess:
    return subprocess.run([str(lt.lamina_bin()), "image", "load", str(archive),
                           "--endpoint", f"http://127.0.0.1:{port}", *args],
                          capture_output=True, text=True, timeout=60)


def test_image_load_docker_save_and_oci_archive(server, ecr, reg, tmp_path):
    repo = lt.unique("loaded").lower()
    layers = [oi.layer_tar({"x": b"x"}), oi.layer_tar({"y": b"y" * 3000})]
    tar = tmp_path / "saved.tar"
    tar.write_bytes(oi.docker_save_tar(layers, [f"{repo}:v1"]))
    r = lamina_image_load(server.port, tar)
    assert r.returncode == 0, r.stderr
    assert f"{repo}:v1" in r.stdout
    status, h, body = reg.request("GET", f"/v2/{repo}/manifests/v1")
    assert status == 200 and h["content-type"] == oi.DOCKER_MANIFEST
    manifest = json.loads(body)
    assert [l["digest"] for l in manifest["layers"]] == [oi.digest(t) for t in layers]
    for l, t in zip(manifest["layers"], layers):
        assert reg.request("GET", f"/v2/{repo}/blobs/{l['digest']}")[2] == t

    image = oi.Image([oi.layer_tar({"z": b"z"})])
    oci_tar = tmp_path / "oci.tar"
    oci_tar.write_bytes(oi.oci_archive_tar(image, "ignored", tmp_path))
    r = lamina_image_load(server.port, oci_tar, "--tag", f"{repo}:from-oci")
    assert r.returncode == 0, r.stderr
    status, _, body = reg.request("GET", f"/v2/{repo}/manifests/from-oci")
    assert status == 200 and body == image.manifest

    bad = tmp_path / "bad.tar"
    bad.write_bytes(b"not a tar")
    r = lamina_image_load(server.port, bad)
    assert r.returncode != 0 and "lamina" in r.stderr


def test_restart_keeps_images(tmp_path):
    data = tmp_path / "data"
    srv = lt.LaminaServer(data_dir=data)
    srv.start()
    image = oi.Image([oi.layer_tar({"keep": b"me"})])
    try:
        lt.make_client(srv.port, "ecr").create_repository(repositoryName="kept")
        r = oi.Registry(srv.port)
        r.push_image("kept", "v1", image)
        status, h, _ = r.request("POST", "/v2/kept/blobs/uploads/")
        r.request("PATCH", h["location"], b"half", {"Content-Range": "0-3"})
        r.close()
    finally:
        srv.stop()
    assert list((data / "oci-uploads").iterdir())  # the unfinished upload, until the restart
    srv.start()
    try:
        assert list((data / "oci-uploads").iterdir()) == []
        r = oi.Registry(srv.port)
        status, _, body = r.request("GET", "/v2/kept/manifests/v1")
        assert status == 200 and body == image.manifest
        assert r.request("GET", f"/v2/kept/blobs/{oi.digest(image.layers[0])}")[2] == image.layers[0]
        r.close()
    finally:
        srv.stop()


def test_referrers(ecr, reg):
    repo = new_repo(ecr)
    image = oi.Image([oi.layer_tar({"a": b"r"})])
    reg.push_image(repo, "v1", image)
    empty = b"{}"
    reg.push_blob(repo, empty)
    sbom = json.dumps({
        "schemaVersion": 2, "mediaType": oi.OCI_MANIFEST, "artifactType": "application/spdx+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": oi.digest(empty),
                   "size": 2},
        "layers": [{"mediaType": "application/vnd.oci.empty.v1+json", "digest": oi.digest(empty),
                    "size": 2}],
        "subject": {"mediaType": oi.OCI_MANIFEST, "digest": image.digest,
                    "size": len(image.manifest)}}).encode()
    status, h, body = reg.push_manifest(repo, oi.digest(sbom), sbom, oi.OCI_MANIFEST)
    assert status == 201, body
    assert h["oci-subject"] == image.digest
    status, h, body = reg.request("GET", f"/v2/{repo}/referrers/{image.digest}")
    assert status == 200 and h["content-type"] == oi.OCI_INDEX
    assert json.loads(body)["manifests"] == [{
        "mediaType": oi.OCI_MANIFEST, "digest": oi.digest(sbom), "size": len(sbom),
        "artifactType": "application/spdx+json"}]
    status, _, body = reg.request("GET", f"/v2/{repo}/referrers/{image.digest}?artifactType=x/y")
    assert json.loads(body)["manifests"] == []
