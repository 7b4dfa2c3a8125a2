"""lamina's S3 surface (same endpoint as Lambda, on by default) and Lambda code
read from S3, driven with the real `aws s3` / `aws s3api` CLI and boto3.

What this machine's clients send (captured on a loopback listener): aws-cli
1.45 / botocore 1.43 sign S3 calls for the service `s3`, path-style
(`PUT /bucket/key`) against an --endpoint-url, with the payload's real
SHA-256 in x-amz-content-sha256, `x-amz-checksum-crc32` plus
`x-amz-sdk-checksum-algorithm: CRC32` on uploads, `Expect: 100-continue`,
and no aws-chunked body over plain http (botocore keeps aws-chunked for
https). The aws-chunked encodings (STREAMING-UNSIGNED-PAYLOAD-TRAILER and
STREAMING-AWS4-HMAC-SHA256-PAYLOAD) are therefore sent by hand below.

`bucket.localhost` does not resolve on this machine (/etc/hosts has only
localhost), so virtual-host requests go to 127.0.0.1 with the Host header
boto3 signed (`<bucket>.localhost:PORT`), set by a before-send hook.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import zlib
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

import lamina_testlib as lt
from lamina_testlib import ROLE_ARN, RUNTIME, HANDLER, expect_error

MiB = 1024 * 1024
MSG_NO_BUCKET = ("Error occurred while GetObject. S3 Error Code: NoSuchBucket. "
                 "S3 Error Message: The specified bucket does not exist")
MSG_NO_KEY = ("Error occurred while GetObject. S3 Error Code: NoSuchKey. "
              "S3 Error Message: The specified key does not exist.")
MSG_DENIED = ("Error occurred while GetObject. S3 Error Code: AccessDenied. "
              "S3 Error Message: Access Denied")


def s3_client(port: int, *, key: str = "test", secret: str = "test", addressing: str = "path",
              host: str = "127.0.0.1", region: str = lt.REGION):
    return boto3.session.Session().client(
        "s3", endpoint_url=f"http://{host}:{port}", region_name=region, aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(retries={"total_max_attempts": 1}, proxies={}, s3={"addressing_style": addressing}))


@pytest.fixture(scope="module")
def s3(server):
    return s3_client(server.port)


@pytest.fixture
def bucket(s3):
    name = lt.unique("bkt")
    s3.create_bucket(Bucket=name)
    return name


def md5_etag(data: bytes) -> str:
    return '"' + hashlib.md5(data).hexdigest() + '"'


def multipart_etag(parts: list[bytes]) -> str:
    digests = b"".join(hashlib.md5(p).digest() for p in parts)
    return f'"{hashlib.md5(digests).hexdigest()}-{len(parts)}"'


def crc32_b64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def s3_error(body: bytes) -> dict:
    """The fields of an S3 XML error body."""
    import xml.etree.ElementTree as ET
    root = ET.fromstring(body)
    assert root.tag == "Error", body
    return {child.tag: child.text for child in root}


def invoke_json(lam, name: str, **kwargs):
    r = lam.invoke(FunctionName=name, **kwargs)
    assert "FunctionError" not in r, r["Payload"].read()
    return json.loads(r["Payload"].read())


def tag_of(lam, name: str) -> str:
    return json.loads(invoke_json(lam, name)["body"])["tag"]


# --------------------------------------------------------------------------------------
# aws CLI: s3 cp / ls / rm / rb and s3api
# --------------------------------------------------------------------------------------

@pytest.mark.cli
class TestAwsCli:
    def test_cp_ls_and_back(self, cli, s3, tmp_path):
        name = lt.unique("cli")
        cli.run("s3", "mb", f"s3://{name}")
        src = tmp_path / "hello.txt"
        src.write_bytes(b"hello from the aws CLI\n")
        cli.run("s3", "cp", str(src), f"s3://{name}/dir/hello.txt")
        cli.run("s3", "cp", str(src), f"s3://{name}/top.txt")
        top = cli.run("s3", "ls", f"s3://{name}/").stdout
        assert "PRE dir/" in top and "top.txt" in top and "hello.txt" not in top
        rec = cli.run("s3", "ls", f"s3://{name}", "--recursive").stdout
        assert "dir/hello.txt" in rec and "top.txt" in rec
        assert name in cli.run("s3", "ls").stdout
        dst = tmp_path / "back.txt"
        cli.run("s3", "cp", f"s3://{name}/dir/hello.txt", str(dst))
        assert dst.read_bytes() == src.read_bytes()
        head = cli.json("s3api", "head-object", "--bucket", name, "--key", "dir/hello.txt")
        assert head["ETag"] == md5_etag(src.read_bytes())
        assert head["ContentLength"] == src.stat().st_size
        assert head["ContentType"] == "text/plain"  # guessed by the CLI from the name, kept by lamina
        # and boto3 sees the same object
        assert s3.get_object(Bucket=name, Key="dir/hello.txt")["Body"].read() == src.read_bytes()

    @pytest.mark.timeout_s(180)
    def test_cp_above_8mb_is_a_multipart_upload(self, cli, s3, tmp_path):
        name = lt.unique("cli-mp")
        cli.run("s3", "mb", f"s3://{name}")
        data = os.urandom(20 * MiB + 12345)
        src = tmp_path / "big.bin"
        src.write_bytes(data)
        cli.run("s3", "cp", str(src), f"s3://{name}/big.bin", timeout=150)
        head = s3.head_object(Bucket=name, Key="big.bin")
        chunks = [data[i:i + 8 * MiB] for i in range(0, len(data), 8 * MiB)]  # the CLI's 8 MiB parts
        assert head["ETag"] == multipart_etag(chunks)
        assert head["ContentLength"] == len(data)
        dst = tmp_path / "big.back"
        cli.run("s3", "cp", f"s3://{name}/big.bin", str(dst), timeout=150)  # ranged GETs
        assert dst.read_bytes() == data
        out = tmp_path / "range.bin"
        r = cli.json("s3api", "get-object", "--bucket", name, "--key", "big.bin", "--range", "bytes=100-199",
                     str(out))
        assert r["ContentRange"] == f"bytes 100-199/{len(data)}"
        assert out.read_bytes() == data[100:200]

    def test_rm_recursive_and_rb(self, cli, s3, tmp_path):
        name = lt.unique("cli-rm")
        cli.run("s3", "mb", f"s3://{name}")
        f = tmp_path / "x"
        f.write_bytes(b"x")
        for k in ("a/1", "a/2", "b"):
            cli.run("s3", "cp", str(f), f"s3://{name}/{k}")
        p = cli.run("s3", "rb", f"s3://{name}", check=False)
        assert p.returncode != 0 and "BucketNotEmpty" in p.stderr
        cli.run("s3", "rm", f"s3://{name}", "--recursive")
        assert s3.list_objects_v2(Bucket=name)["KeyCount"] == 0
        cli.run("s3", "rb", f"s3://{name}")
        assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]

    def test_cli_errors(self, cli, s3, bucket, tmp_path):
        p = cli.run("s3api", "get-object", "--bucket", bucket, "--key", "missing", str(tmp_path / "o"), check=False)
        assert p.returncode != 0 and "NoSuchKey" in p.stderr
        p = cli.run("s3", "mb", "s3://Not_A_Valid_Bucket", check=False)
        assert p.returncode != 0 and "InvalidBucketName" in p.stderr
        p = cli.run("s3", "ls", f"s3://{lt.unique('missing')}", check=False)
        assert p.returncode != 0 and "NoSuchBucket" in p.stderr


# --------------------------------------------------------------------------------------
# boto3: objects, listings, errors
# --------------------------------------------------------------------------------------

class TestObjects:
    def test_put_get_head_round_trip(self, s3, bucket):
        body = b"some bytes \x00\xff"
        put = s3.put_object(Bucket=bucket, Key="dir/obj.bin", Body=body, ContentType="application/x-test",
                            Metadata={"Owner": "alice", "purpose": "test"}, CacheControl="max-age=60",
                            ContentDisposition="attachment")
        assert put["ETag"] == md5_etag(body)
        got = s3.get_object(Bucket=bucket, Key="dir/obj.bin")
        assert got["Body"].read() == body
        assert got["ContentType"] == "application/x-test"
        assert got["ContentLength"] == len(body)
        assert got["ETag"] == md5_etag(body)
        assert got["Metadata"] == {"owner": "alice", "purpose": "test"}
        assert got["CacheControl"] == "max-age=60"
        assert got["ContentDisposition"] == "attachment"
        head = s3.head_object(Bucket=bucket, Key="dir/obj.bin")
        assert head["ContentLength"] == len(body)
        assert head["ETag"] == md5_etag(body)
        assert head["LastModified"] == got["LastModified"]
        assert head["Metadata"] == {"owner": "alice", "purpose": "test"}

    def test_ranges(self, s3, bucket):
        body = bytes(range(256)) * 4
        s3.put_object(Bucket=bucket, Key="r", Body=body)
        for spec, first, last in (("bytes=0-9", 0, 9), ("bytes=1000-", 1000, 1023), ("bytes=-24", 1000, 1023),
                                  ("bytes=500-5000", 500, 1023)):
            r = s3.get_object(Bucket=bucket, Key="r", Range=spec)
            assert r["ResponseMetadata"]["HTTPStatusCode"] == 206
            assert r["ContentRange"] == f"bytes {first}-{last}/1024"
            assert r["Body"].read() == body[first:last + 1]
        with expect_error("InvalidRange", 416):
            s3.get_object(Bucket=bucket, Key="r", Range="bytes=2000-")

    def test_overwrite_and_delete(self, s3, bucket):
        s3.put_object(Bucket=bucket, Key="k", Body=b"one")
        s3.put_object(Bucket=bucket, Key="k", Body=b"two")
        assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"two"
        assert s3.delete_object(Bucket=bucket, Key="k")["ResponseMetadata"]["HTTPStatusCode"] == 204
        assert s3.delete_object(Bucket=bucket, Key="k")["ResponseMetadata"]["HTTPStatusCode"] == 204  # idempotent
        with expect_error("NoSuchKey", 404, "The specified key does not exist."):
            s3.get_object(Bucket=bucket, Key="k")

    def test_keys_with_odd_characters(self, s3, bucket):
        keys = ["with space.txt", "plus+sign", "ünïcødé/ключ", "a%2Fb", "q?x=1&y", "tilde~", "deep/" * 20 + "end"]
        for k in keys:
            s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
        for k in keys:
            assert s3.get_object(Bucket=bucket, Key=k)["Body"].read() == k.encode()
        listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
        assert sorted(listed) == sorted(keys)

    def test_list_objects_v2(self, s3, bucket):
        keys = ["a.txt", "dir/1", "dir/2", "dir/sub/3", "other/x", "z"]
        for k in keys:
            s3.put_object(Bucket=bucket, Key=k, Body=b"x" * len(k))
        r = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
        assert [o["Key"] for o in r["Contents"]] == ["a.txt", "z"]
        assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["dir/", "other/"]
        assert r["KeyCount"] == 4 and r["IsTruncated"] is False
        r = s3.list_objects_v2(Bucket=bucket, Prefix="dir/", Delimiter="/")
        assert [o["Key"] for o in r["Contents"]] == ["dir/1", "dir/2"]
        assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["dir/sub/"]
        assert all(o["Size"] == len(o["Key"]) and o["ETag"] == md5_etag(b"x" * len(o["Key"]))
                   for o in r["Contents"])
        r = s3.list_objects_v2(Bucket=bucket, StartAfter="dir/2")
        assert [o["Key"] for o in r["Contents"]] == ["dir/sub/3", "other/x", "z"]
        # pages of 2 through the paginator (continuation tokens)
        pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, PaginationConfig={"PageSize": 2}))
        assert len(pages) == 3
        assert [o["Key"] for p in pages for o in p["Contents"]] == keys
        assert pages[0]["IsTruncated"] and pages[0]["MaxKeys"] == 2
        # v1 with markers too
        v1 = list(s3.get_paginator("list_objects").paginate(Bucket=bucket, PaginationConfig={"PageSize": 4}))
        assert [o["Key"] for p in v1 for o in p["Contents"]] == keys
        r = s3.list_objects_v2(Bucket=bucket, MaxKeys=0)
        assert r["KeyCount"] == 0
        with expect_error("InvalidArgument", 400):
            s3.list_objects_v2(Bucket=bucket, ContinuationToken="not-a-token")

    def test_get_object_checksum_validated_by_botocore(self, s3, bucket):
        body = b"checksummed"
        s3.put_object(Bucket=bucket, Key="c", Body=body, ChecksumAlgorithm="CRC32")
        r = s3.get_object(Bucket=bucket, Key="c", ChecksumMode="ENABLED")
        assert r["ChecksumCRC32"] == crc32_b64(body)
        assert r["Body"].read() == body  # botocore checks the body against it while reading

    def test_delete_objects(self, s3, bucket):
        for k in ("a", "b", "c"):
            s3.put_object(Bucket=bucket, Key=k, Body=b"x")
        r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "a"}, {"Key": "b"}, {"Key": "nope"}]})
        assert sorted(d["Key"] for d in r["Deleted"]) == ["a", "b", "nope"]
        assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["c"]


class TestBuckets:
    def test_create_list_head_delete(self, s3):
        name = lt.unique("life")
        r = s3.create_bucket(Bucket=name)
        assert r["Location"] == f"/{name}"
        listed = {b["Name"]: b for b in s3.list_buckets()["Buckets"]}
        assert name in listed and listed[name]["CreationDate"]
        head = s3.head_bucket(Bucket=name)
        assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == lt.REGION
        assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] is None  # us-east-1
        # us-east-1 answers its owner re-creating a bucket with 200 (legacy); other regions 409
        s3.create_bucket(Bucket=name)
        s3.delete_bucket(Bucket=name)
        with expect_error("404", 404):
            s3.head_bucket(Bucket=name)

    def test_other_region(self, server):
        eu = s3_client(server.port, region="eu-west-1")
        name = lt.unique("eu")
        eu.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        assert eu.get_bucket_location(Bucket=name)["LocationConstraint"] == "eu-west-1"
        with expect_error("BucketAlreadyOwnedByYou", 409):
            eu.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})

    def test_bucket_owned_by_another_account(self, server):
        a = s3_client(server.port, key="111111111111")
        b = s3_client(server.port, key="222222222222")
        name = lt.unique("owned")
        a.create_bucket(Bucket=name)
        with expect_error("BucketAlreadyExists", 409):
            b.create_bucket(Bucket=name)
        # names are global, lists are per account
        assert name in [x["Name"] for x in a.list_buckets()["Buckets"]]
        assert name not in [x["Name"] for x in b.list_buckets()["Buckets"]]

    def test_errors_are_s3_shaped_and_change_nothing(self, s3, server):
        before = sorted(b["Name"] for b in s3.list_buckets()["Buckets"])
        unvalidated = boto3_unvalidated(server.port)
        for bad in ("Upper_Case", "ab", "a" * 64, "-leading", "192.168.0.1", "dots..dots"):
            with expect_error("InvalidBucketName", 400, "The specified bucket is not valid."):
                unvalidated.create_bucket(Bucket=bad)
        missing = lt.unique("missing")
        with expect_error("NoSuchBucket", 404, "The specified bucket does not exist"):
            s3.delete_bucket(Bucket=missing)
        with expect_error("NoSuchBucket", 404, "The specified bucket does not exist"):
            s3.put_object(Bucket=missing, Key="k", Body=b"x")
        with expect_error("NoSuchBucket", 404):
            s3.list_objects_v2(Bucket=missing)
        assert sorted(b["Name"] for b in s3.list_buckets()["Buckets"]) == before
        # the raw error body, as S3 writes it
        status, headers, body = lt.http_request(f"{server.url}/{missing}/key")
        assert status == 404 and headers["content-type"] == "application/xml"
        err = s3_error(body)
        assert err["Code"] == "NoSuchBucket"
        assert err["Message"] == "The specified bucket does not exist"
        assert err["BucketName"] == missing
        assert err["RequestId"] == headers["x-amz-request-id"]

    def test_delete_non_empty_bucket(self, s3, bucket):
        s3.put_object(Bucket=bucket, Key="k", Body=b"x")
        with expect_error("BucketNotEmpty", 409, "The bucket you tried to delete is not empty"):
            s3.delete_bucket(Bucket=bucket)
        assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"

    def test_unsupported_operations_say_so(self, s3, bucket):
        s3.put_object(Bucket=bucket, Key="k", Body=b"x")
        with expect_error("NotImplemented", 501):
            s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "k"})
        with expect_error("NotImplemented", 501):
            s3.get_bucket_versioning(Bucket=bucket)
        with expect_error("NoSuchKey", 404):
            s3.get_object(Bucket=bucket, Key="copy")


def boto3_unvalidated(port: int):
    return boto3.session.Session().client(
        "s3", endpoint_url=f"http://127.0.0.1:{port}", region_name=lt.REGION, aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}, proxies={}, parameter_validation=False))


# --------------------------------------------------------------------------------------
# Multipart, addressing, body encodings
# --------------------------------------------------------------------------------------

class TestMultipart:
    def test_upload_complete_and_refusals(self, s3, bucket, server):
        up = s3.create_multipart_upload(Bucket=bucket, Key="mp", ContentType="application/zip",
                                        Metadata={"m": "1"})
        uid = up["UploadId"]
        p1, p2 = os.urandom(5 * MiB), b"the last part may be small"
        e1 = s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=1, Body=p1)["ETag"]
        e2 = s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=2, Body=p2)["ETag"]
        assert (e1, e2) == (md5_etag(p1), md5_etag(p2))
        # a wrong ETag, bad XML, parts out of order: refused, nothing visible
        with expect_error("InvalidPart", 400):
            s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid, MultipartUpload={
                "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": md5_etag(b"other")}]})
        with expect_error("InvalidPartOrder", 400):
            s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid, MultipartUpload={
                "Parts": [{"PartNumber": 2, "ETag": e2}, {"PartNumber": 1, "ETag": e1}]})
        status, _, body = lt.http_request(f"{server.url}/{bucket}/mp?uploadId={uid}", method="POST",
                                          body=b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>")
        assert status == 400 and s3_error(body)["Code"] == "MalformedXML"
        with expect_error("NoSuchKey", 404):
            s3.get_object(Bucket=bucket, Key="mp")
        done = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid, MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
        assert done["ETag"] == multipart_etag([p1, p2])
        got = s3.get_object(Bucket=bucket, Key="mp")
        assert got["Body"].read() == p1 + p2
        assert got["ContentType"] == "application/zip" and got["Metadata"] == {"m": "1"}
        with expect_error("NoSuchUpload", 404):
            s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=3, Body=b"late")

    def test_small_parts_and_abort(self, s3, bucket):
        uid = s3.create_multipart_upload(Bucket=bucket, Key="small")["UploadId"]
        e1 = s3.upload_part(Bucket=bucket, Key="small", UploadId=uid, PartNumber=1, Body=b"tiny")["ETag"]
        e2 = s3.upload_part(Bucket=bucket, Key="small", UploadId=uid, PartNumber=2, Body=b"tiny")["ETag"]
        with expect_error("EntityTooSmall", 400):
            s3.complete_multipart_upload(Bucket=bucket, Key="small", UploadId=uid, MultipartUpload={
                "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
        s3.abort_multipart_upload(Bucket=bucket, Key="small", UploadId=uid)
        with expect_error("NoSuchUpload", 404):
            s3.complete_multipart_upload(Bucket=bucket, Key="small", UploadId=uid, MultipartUpload={
                "Parts": [{"PartNumber": 1, "ETag": e1}]})
        with expect_error("NoSuchUpload", 404):
            s3.abort_multipart_upload(Bucket=bucket, Key="small", UploadId="0123456789abcdef")
        with expect_error("NoSuchKey", 404):
            s3.get_object(Bucket=bucket, Key="small")


class TestAddressing:
    def test_virtual_host_style_with_boto3(self, server, s3):
        vs = s3_client(server.port, addressing="virtual", host="localhost")

        def route_to_loopback(request, **_):
            # bucket.localhost does not resolve here: send to 127.0.0.1 with the Host boto3 signed
            from urllib.parse import urlsplit, urlunsplit
            parts = urlsplit(request.url)
            request.headers["Host"] = parts.netloc
            request.url = urlunsplit(parts._replace(netloc=f"127.0.0.1:{server.port}"))

        vs.meta.events.register("before-send.s3", route_to_loopback)
        seen_hosts = []
        vs.meta.events.register("before-send.s3", lambda request, **_: seen_hosts.append(request.headers["Host"]))
        name = lt.unique("virt")
        vs.create_bucket(Bucket=name)
        vs.put_object(Bucket=name, Key="v/key.txt", Body=b"virtual")
        assert vs.get_object(Bucket=name, Key="v/key.txt")["Body"].read() == b"virtual"
        assert [o["Key"] for o in vs.list_objects_v2(Bucket=name)["Contents"]] == ["v/key.txt"]
        assert all(h == f"{name}.localhost:{server.port}" for h in seen_hosts), seen_hosts
        # the same object path-style
        assert s3.get_object(Bucket=name, Key="v/key.txt")["Body"].read() == b"virtual"

    def test_virtual_host_style_unsigned(self, server, s3, bucket):
        host = {"Host": f"{bucket}.localhost:{server.port}"}
        status, _, _ = lt.http_request(f"{server.url}/raw.txt", method="PUT", body=b"raw", headers=host)
        assert status == 200
        status, headers, body = lt.http_request(f"{server.url}/raw.txt", headers=host)
        assert (status, body, headers["etag"]) == (200, b"raw", md5_etag(b"raw"))
        assert s3.get_object(Bucket=bucket, Key="raw.txt")["Body"].read() == b"raw"


    def test_unsigned_request_to_root_is_not_s3(self, server, s3, bucket):
        # no s3 signature and no bucket Host: "/" names nothing of S3's, and gets lamina's unknown-path answer
        for method in ("GET", "PUT", "DELETE"):
            status, headers, body = lt.http_request(f"{server.url}/", method=method)
            assert status == 404, (method, body)
            assert headers["x-amzn-errortype"] == "UnknownOperationException"
            assert f"lamina does not recognise {method} / ".encode() in body
        # signed for s3 it is ListBuckets
        assert bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]
        # an unsigned form posted to "/" stays the query protocol
        status, _, body = lt.http_request(f"{server.url}/", method="POST",
                                          body=b"Action=GetCallerIdentity&Version=2011-06-15",
                                          headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 200 and b"<GetCallerIdentityResponse" in body


class TestBodyEncodings:
    def test_aws_chunked_unsigned_with_crc32_trailer(self, server, s3, bucket):
        data = os.urandom(200_000)
        chunks = [data[i:i + 65536] for i in range(0, len(data), 65536)]
        body = b"".join(b"%x\r\n" % len(c) + c + b"\r\n" for c in chunks)
        body += b"0\r\nx-amz-checksum-crc32:" + crc32_b64(data).encode() + b"\r\n\r\n"
        headers = {"Content-Encoding": "aws-chunked", "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                   "x-amz-decoded-content-length": str(len(data)), "x-amz-trailer": "x-amz-checksum-crc32",
                   "Content-Type": "application/octet-stream"}
        status, h, _ = lt.http_request(f"{server.url}/{bucket}/chunked", method="PUT", body=body, headers=headers)
        assert status == 200 and h["etag"] == md5_etag(data)
        got = s3.get_object(Bucket=bucket, Key="chunked")
        assert got["Body"].read() == data
        assert "ContentEncoding" not in got  # aws-chunked was the transfer, not the object's encoding
        # a wrong CRC32 in the trailer: refused, the stored object unchanged
        bad = body.replace(crc32_b64(data).encode(), crc32_b64(b"x").encode())
        status, _, resp = lt.http_request(f"{server.url}/{bucket}/chunked", method="PUT", body=bad, headers=headers)
        assert status == 400 and s3_error(resp)["Code"] == "BadDigest"
        # a declared length that does not match
        status, _, resp = lt.http_request(f"{server.url}/{bucket}/chunked", method="PUT", body=body,
                                          headers={**headers, "x-amz-decoded-content-length": "7"})
        assert status == 400 and s3_error(resp)["Code"] == "IncompleteBody"
        assert s3.get_object(Bucket=bucket, Key="chunked")["Body"].read() == data

    def test_aws_chunked_signed_chunks(self, server, s3, bucket):
        # STREAMING-AWS4-HMAC-SHA256-PAYLOAD framing under --auth none: no secret to check
        # the chunk signatures with, so they are read and not checked (TestSigV4 checks them)
        data = b"a" * 66560
        body = (b"10000;chunk-signature=" + b"0" * 64 + b"\r\n" + data[:65536] + b"\r\n" +
                b"400;chunk-signature=" + b"1" * 64 + b"\r\n" + data[65536:] + b"\r\n" +
                b"0;chunk-signature=" + b"2" * 64 + b"\r\n\r\n")
        status, _, _ = lt.http_request(
            f"{server.url}/{bucket}/signed-chunks", method="PUT", body=body,
            headers={"Content-Encoding": "aws-chunked", "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
                     "x-amz-decoded-content-length": str(len(data))})
        assert status == 200
        assert s3.get_object(Bucket=bucket, Key="signed-chunks")["Body"].read() == data

    def test_payload_digest_mismatch(self, server, s3, bucket):
        status, _, body = lt.http_request(f"{server.url}/{bucket}/k", method="PUT", body=b"hello",
                                          headers={"x-amz-content-sha256": hashlib.sha256(b"other").hexdigest()})
        assert status == 400 and s3_error(body)["Code"] == "XAmzContentSHA256Mismatch"
        status, _, body = lt.http_request(f"{server.url}/{bucket}/k", method="PUT", body=b"hello",
                                          headers={"Content-MD5": base64.b64encode(hashlib.md5(b"x").digest()).decode()})
        assert status == 400 and s3_error(body)["Code"] == "BadDigest"
        with expect_error("NoSuchKey", 404):
            s3.get_object(Bucket=bucket, Key="k")


# --------------------------------------------------------------------------------------
# Persistence, --s3 off, --auth sigv4
# --------------------------------------------------------------------------------------

def test_objects_survive_a_restart(tmp_path):
    srv = lt.LaminaServer(data_dir=tmp_path / "data", log_path=tmp_path / "server.log")
    srv.start()
    try:
        c = s3_client(srv.port)
        c.create_bucket(Bucket="persist-bkt")
        c.put_object(Bucket="persist-bkt", Key="a/b.txt", Body=b"kept", ContentType="text/plain",
                     Metadata={"k": "v"})
        uid = c.create_multipart_upload(Bucket="persist-bkt", Key="mp")["UploadId"]
        part = os.urandom(5 * MiB)
        e1 = c.upload_part(Bucket="persist-bkt", Key="mp", UploadId=uid, PartNumber=1, Body=part)["ETag"]
        srv.stop()
        srv.start()
        c = s3_client(srv.port)
        assert [b["Name"] for b in c.list_buckets()["Buckets"]] == ["persist-bkt"]
        got = c.get_object(Bucket="persist-bkt", Key="a/b.txt")
        assert got["Body"].read() == b"kept" and got["ContentType"] == "text/plain" and got["Metadata"] == {"k": "v"}
        # an upload in progress survives too
        c.complete_multipart_upload(Bucket="persist-bkt", Key="mp", UploadId=uid,
                                    MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}]})
        assert c.get_object(Bucket="persist-bkt", Key="mp")["Body"].read() == part
        assert not list((tmp_path / "data" / "s3" / "tmp").iterdir())
    finally:
        srv.stop()


def test_s3_off(tmp_path):
    srv = lt.LaminaServer(log_path=tmp_path / "server.log", extra_args=["--s3", "off"])
    srv.start()
    try:
        with pytest.raises(ClientError) as e:
            s3_client(srv.port).list_buckets()
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] >= 400
        lam = srv.client("lambda")
        with expect_error("InvalidParameterValueException", 400, message_contains="--s3 off"):
            lam.create_function(FunctionName=lt.unique(), Runtime=RUNTIME, Role=ROLE_ARN, Handler=HANDLER,
                                Code={"S3Bucket": "some-bucket", "S3Key": "code.zip"})
        assert lam.list_functions()["Functions"] == []
    finally:
        srv.stop()


SIGNED = ("AKIAS3USER000000001", "s3-user-secret", "333333333333")
SIGNED_OTHER = ("AKIAS3USER000000002", "other-user-secret", "444444444444")


def credentials_file(path: Path) -> Path:
    path.write_text("".join(" ".join(c) + "\n" for c in (SIGNED, SIGNED_OTHER)))
    return path


def streaming_put(url: str, key: str, secret: str, chunks: list, *, crc32_trailer: str | None = None,
                  tamper: bool = False, chunk_secret: str | None = None, tamper_trailer: bool = False):
    """A PutObject with a signed aws-chunked body (AWS's "chunked upload" signing)."""
    from datetime import datetime, timezone
    from urllib.parse import urlsplit

    def hmac256(k: bytes, msg: str) -> bytes:
        return hmac.new(k, msg.encode(), hashlib.sha256).digest()

    def signing_key(sec: str, date: str) -> bytes:
        k = hmac256(("AWS4" + sec).encode(), date)
        for part in (lt.REGION, "s3", "aws4_request"):
            k = hmac256(k, part)
        return k

    parts = urlsplit(url)
    amz_date = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    date = amz_date[:8]
    scope = f"{date}/{lt.REGION}/s3/aws4_request"
    content_sha = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" + ("-TRAILER" if crc32_trailer else "")
    data_len = sum(len(c) for c in chunks)
    headers = {"host": parts.netloc, "x-amz-content-sha256": content_sha, "x-amz-date": amz_date,
               "x-amz-decoded-content-length": str(data_len)}
    if crc32_trailer:
        headers["x-amz-trailer"] = "x-amz-checksum-crc32"
    signed = ";".join(sorted(headers))
    canonical = "\n".join(["PUT", parts.path, "", *(f"{h}:{headers[h]}" for h in sorted(headers)), "", signed,
                           content_sha])
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    seed = hmac.new(signing_key(secret, date), to_sign.encode(), hashlib.sha256).hexdigest()
    ckey = signing_key(chunk_secret or secret, date)
    empty = hashlib.sha256(b"").hexdigest()
    previous, body = seed, b""
    for chunk in [*chunks, b""]:
        sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, previous, empty,
                         hashlib.sha256(chunk).hexdigest()])
        previous = hmac.new(ckey, sts.encode(), hashlib.sha256).hexdigest()
        sent = (b"X" + chunk[1:]) if (tamper and chunk) else chunk
        body += b"%x;chunk-signature=%s\r\n" % (len(chunk), previous.encode()) + sent + (b"\r\n" if chunk else b"")
    if crc32_trailer:
        trailer = f"x-amz-checksum-crc32:{crc32_trailer}\n"
        sts = "\n".join(["AWS4-HMAC-SHA256-TRAILER", amz_date, scope, previous,
                         hashlib.sha256(trailer.encode()).hexdigest()])
        tsig = hmac.new(ckey, sts.encode(), hashlib.sha256).hexdigest()
        sent_crc = crc32_b64(b"changed") if tamper_trailer else crc32_trailer
        body += f"x-amz-checksum-crc32:{sent_crc}\r\nx-amz-trailer-signature:{tsig}\r\n".encode()
    body += b"\r\n"
    auth = f"AWS4-HMAC-SHA256 Credential={key}/{scope}, SignedHeaders={signed}, Signature={seed}"
    send = {k: v for k, v in headers.items() if k != "host"}
    send.update({"Authorization": auth, "Content-Encoding": "aws-chunked"})
    return lt.http_request(url, method="PUT", body=body, headers=send)


@pytest.fixture(scope="module")
def signed_server(tmp_path_factory):
    d = tmp_path_factory.mktemp("s3sigv4")
    creds = credentials_file(d / "credentials")
    srv = lt.LaminaServer(data_dir=d / "data", log_path=d / "server.log",
                          extra_args=["--auth", "sigv4", "--credentials", str(creds)])
    srv.start()
    yield srv
    srv.stop()


class TestSigV4:
    def test_signed_requests_work(self, signed_server, tmp_path):
        c = s3_client(signed_server.port, key=SIGNED[0], secret=SIGNED[1])
        name = lt.unique("signed")
        c.create_bucket(Bucket=name)
        c.put_object(Bucket=name, Key="dir/odd key+1.txt", Body=b"signed")
        assert c.get_object(Bucket=name, Key="dir/odd key+1.txt")["Body"].read() == b"signed"
        # the aws CLI, multipart included
        env = lt.cli_env(tmp_path, key=SIGNED[0])
        env["AWS_SECRET_ACCESS_KEY"] = SIGNED[1]
        big = tmp_path / "big.bin"
        big.write_bytes(os.urandom(9 * MiB))
        p = subprocess.run(["aws", "s3", "cp", str(big), f"s3://{name}/big.bin", "--endpoint-url",
                            signed_server.url], env=env, capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        assert c.head_object(Bucket=name, Key="big.bin")["ContentLength"] == 9 * MiB
        # the bucket belongs to the key's account
        owner = c.list_buckets()["Owner"]
        assert owner["DisplayName"] == SIGNED[2]

    def test_signed_chunks_are_checked(self, signed_server):
        """STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER], as the Java and Go SDKs upload: each
        chunk signed, chained from the request's signature. botocore never sends it, so the
        request is signed here, by the algorithm AWS documents. A chunk whose signature does not
        hold is 403 SignatureDoesNotMatch and stores nothing."""
        c = s3_client(signed_server.port, key=SIGNED[0], secret=SIGNED[1])
        name = lt.unique("streamed")
        c.create_bucket(Bucket=name)
        data = os.urandom(150_000)
        chunks = [data[i:i + 65536] for i in range(0, len(data), 65536)]
        url = f"{signed_server.url}/{name}/streamed.bin"

        status, _, body = streaming_put(url, SIGNED[0], SIGNED[1], chunks)
        assert status == 200, body
        assert c.get_object(Bucket=name, Key="streamed.bin")["Body"].read() == data
        # with a signed CRC32 trailer
        status, _, body = streaming_put(url + "2", SIGNED[0], SIGNED[1], chunks, crc32_trailer=crc32_b64(data))
        assert status == 200, body
        assert c.get_object(Bucket=name, Key="streamed.bin2")["Body"].read() == data
        assert c.head_object(Bucket=name, Key="streamed.bin2", ChecksumMode="ENABLED")["ChecksumCRC32"] == \
            crc32_b64(data)

        # refused, and nothing stored: a chunk changed after signing, a chunk signed with
        # another secret, the trailer changed after signing
        for key, kwargs in [("tampered", {"tamper": True}), ("wrong-secret", {"chunk_secret": "wrong"}),
                            ("trailer", {"crc32_trailer": crc32_b64(data), "tamper_trailer": True})]:
            status, _, body = streaming_put(f"{signed_server.url}/{name}/{key}", SIGNED[0], SIGNED[1], chunks,
                                            **kwargs)
            assert status == 403 and s3_error(body)["Code"] == "SignatureDoesNotMatch", (key, status, body)
            with expect_error("NoSuchKey", 404):
                c.get_object(Bucket=name, Key=key)
        # an overwrite that fails leaves the object as it was
        status, _, _ = streaming_put(url, SIGNED[0], SIGNED[1], [b"other"], tamper=True)
        assert status == 403
        assert c.get_object(Bucket=name, Key="streamed.bin")["Body"].read() == data

    def test_unsigned_and_mis_signed_are_refused(self, signed_server):
        name = lt.unique("refused")
        with expect_error("SignatureDoesNotMatch", 403):
            s3_client(signed_server.port, key=SIGNED[0], secret="wrong").create_bucket(Bucket=name)
        with expect_error("InvalidAccessKeyId", 403):
            s3_client(signed_server.port, key="AKIAUNKNOWN", secret="x").create_bucket(Bucket=name)
        status, _, body = lt.http_request(f"{signed_server.url}/{name}", method="PUT")
        assert status == 403 and s3_error(body)["Code"] == "AccessDenied"
        # a bucket named like lamina's own pages is still S3's, and still needs a signature
        status, _, body = lt.http_request(f"{signed_server.url}/health/x", method="PUT", body=b"x")
        assert status == 403
        c = s3_client(signed_server.port, key=SIGNED[0], secret=SIGNED[1])
        assert name not in [b["Name"] for b in c.list_buckets()["Buckets"]]
        status, _, _ = lt.http_get(signed_server.url + "/health")
        assert status == 200


# --------------------------------------------------------------------------------------
# Accounts: a bucket is its owner's alone (no bucket policies or ACLs are emulated)
# --------------------------------------------------------------------------------------

ACCOUNT_A, ACCOUNT_B = "111111111111", "222222222222"  # --auth none: the key names the account


def denied():
    return expect_error("AccessDenied", 403, "Access Denied")


def check_other_account_is_denied(a, b, name: str):
    """Account b can do nothing to account a's bucket `name`; a's objects stay as they were."""
    a.put_object(Bucket=name, Key="k", Body=b"A's bytes", ContentType="text/plain", Metadata={"who": "a"})
    uid = a.create_multipart_upload(Bucket=name, Key="mp")["UploadId"]
    e1 = a.upload_part(Bucket=name, Key="mp", UploadId=uid, PartNumber=1, Body=b"A's part")["ETag"]
    with denied():
        b.get_object(Bucket=name, Key="k")
    with denied():
        b.get_object(Bucket=name, Key="k", Range="bytes=0-2")
    with denied():
        b.get_object(Bucket=name, Key="no-such-key")  # nor does b learn which keys exist
    with expect_error("403", 403):  # HEAD answers carry no body: botocore sees the status alone
        b.head_object(Bucket=name, Key="k")
    with expect_error("403", 403):
        b.head_bucket(Bucket=name)
    with denied():
        b.get_bucket_location(Bucket=name)
    with denied():
        b.list_objects_v2(Bucket=name)
    with denied():
        b.list_objects(Bucket=name)
    with denied():
        b.put_object(Bucket=name, Key="k", Body=b"B's bytes")
    with denied():
        b.put_object(Bucket=name, Key="new", Body=b"B's bytes")
    with denied():
        b.delete_object(Bucket=name, Key="k")
    with denied():
        b.delete_objects(Bucket=name, Delete={"Objects": [{"Key": "k"}, {"Key": "mp"}]})
    with denied():
        b.copy_object(Bucket=name, Key="copy", CopySource={"Bucket": name, "Key": "k"})
    with denied():
        b.create_multipart_upload(Bucket=name, Key="b-mp")
    with denied():
        b.upload_part(Bucket=name, Key="mp", UploadId=uid, PartNumber=2, Body=b"B's part")
    with denied():
        b.complete_multipart_upload(Bucket=name, Key="mp", UploadId=uid,
                                    MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}]})
    with denied():
        b.abort_multipart_upload(Bucket=name, Key="mp", UploadId=uid)
    with denied():
        b.delete_bucket(Bucket=name)
    with expect_error("BucketAlreadyExists", 409):
        b.create_bucket(Bucket=name)
    assert name not in [x["Name"] for x in b.list_buckets()["Buckets"]]
    # a bucket that does not exist is NoSuchBucket, whoever asks
    missing = lt.unique("missing")
    with expect_error("NoSuchBucket", 404, "The specified bucket does not exist"):
        b.get_object(Bucket=missing, Key="k")
    with expect_error("NoSuchBucket", 404):
        b.list_objects_v2(Bucket=missing)
    with expect_error("404", 404):
        b.head_bucket(Bucket=missing)
    # nothing changed, and the owner keeps full access (the upload b could not touch included)
    got = a.get_object(Bucket=name, Key="k")
    assert got["Body"].read() == b"A's bytes"
    assert got["ContentType"] == "text/plain" and got["Metadata"] == {"who": "a"}
    assert got["ETag"] == md5_etag(b"A's bytes")
    assert [o["Key"] for o in a.list_objects_v2(Bucket=name)["Contents"]] == ["k"]
    a.complete_multipart_upload(Bucket=name, Key="mp", UploadId=uid,
                                MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}]})
    assert a.get_object(Bucket=name, Key="mp")["Body"].read() == b"A's part"
    assert a.head_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 200
    a.delete_objects(Bucket=name, Delete={"Objects": [{"Key": "k"}, {"Key": "mp"}]})
    a.delete_bucket(Bucket=name)


def lambda_client(port: int, key: str, secret: str = "test"):
    return boto3.session.Session().client(
        "lambda", endpoint_url=f"http://127.0.0.1:{port}", region_name=lt.REGION, aws_access_key_id=key,
        aws_secret_access_key=secret, config=Config(retries={"total_max_attempts": 1}, proxies={}))


def registry(lam) -> tuple:
    """What an account's Lambda registry holds: functions (with their code and revision) and layers."""
    fns = sorted((f["FunctionName"], f["CodeSha256"], f["RevisionId"], f["LastModified"])
                 for f in lam.list_functions()["Functions"])
    layers = sorted((la["LayerName"], la["LatestMatchingVersion"]["Version"]) for la in lam.list_layers()["Layers"])
    return fns, layers


def check_lambda_code_from_another_accounts_bucket(s3_a, s3_b, lam_b, account_b: str):
    """Lambda in account b reads no code from account a's bucket: CreateFunction,
    UpdateFunctionCode and PublishLayerVersion are refused and change nothing."""
    role = f"arn:aws:iam::{account_b}:role/r"
    foreign = lt.unique("a-code")
    s3_a.create_bucket(Bucket=foreign)
    z = lt.handler_zip("from-a")
    s3_a.put_object(Bucket=foreign, Key="fn.zip", Body=z)
    s3_a.put_object(Bucket=foreign, Key="layer.zip", Body=lt.make_zip({"python/alayer.py": "X = 1\n"}))
    mine = lt.unique("b-fn")
    lam_b.create_function(FunctionName=mine, Runtime=RUNTIME, Role=role, Handler=HANDLER,
                          Code={"ZipFile": lt.handler_zip("b's own")})
    lt.wait_active(lam_b, mine)
    before = registry(lam_b)
    new = lt.unique("b-new")
    with expect_error("InvalidParameterValueException", 400, MSG_DENIED):
        lam_b.create_function(FunctionName=new, Runtime=RUNTIME, Role=role, Handler=HANDLER,
                              Code={"S3Bucket": foreign, "S3Key": "fn.zip"})
    with expect_error("InvalidParameterValueException", 400, MSG_DENIED):
        lam_b.update_function_code(FunctionName=mine, S3Bucket=foreign, S3Key="fn.zip")
    with expect_error("InvalidParameterValueException", 400, MSG_DENIED):
        lam_b.publish_layer_version(LayerName=lt.unique("b-layer"),
                                    Content={"S3Bucket": foreign, "S3Key": "layer.zip"})
    with expect_error("InvalidParameterValueException", 400, MSG_NO_BUCKET):  # still, for a missing one
        lam_b.create_function(FunctionName=new, Runtime=RUNTIME, Role=role, Handler=HANDLER,
                              Code={"S3Bucket": lt.unique("no-such-bucket"), "S3Key": "fn.zip"})
    assert registry(lam_b) == before
    with expect_error("ResourceNotFoundException", 404):
        lam_b.get_function(FunctionName=new)
    # the same zip from b's own bucket works
    own = lt.unique("b-code")
    s3_b.create_bucket(Bucket=own)
    s3_b.put_object(Bucket=own, Key="fn.zip", Body=z)
    r = lam_b.create_function(FunctionName=new, Runtime=RUNTIME, Role=role, Handler=HANDLER,
                              Code={"S3Bucket": own, "S3Key": "fn.zip"})
    assert r["CodeSha256"] == lt.b64sha256(z)


class TestAccounts:
    def test_other_account_is_denied(self, server):
        a = s3_client(server.port, key=ACCOUNT_A)
        b = s3_client(server.port, key=ACCOUNT_B)
        name = lt.unique("acct")
        a.create_bucket(Bucket=name)
        check_other_account_is_denied(a, b, name)

    def test_denial_is_s3_xml(self, server):
        a = s3_client(server.port, key=ACCOUNT_A)
        name = lt.unique("acct-raw")
        a.create_bucket(Bucket=name)
        a.put_object(Bucket=name, Key="k", Body=b"x")
        # unsigned requests act in the default account, which does not own the bucket
        for method, path in (("GET", f"/{name}/k"), ("PUT", f"/{name}/k"), ("DELETE", f"/{name}"),
                             ("GET", f"/{name}?list-type=2")):
            status, headers, body = lt.http_request(f"{server.url}{path}", method=method,
                                                    body=b"y" if method == "PUT" else None)
            assert status == 403 and headers["content-type"] == "application/xml", (method, path, body)
            assert s3_error(body) == {"Code": "AccessDenied", "Message": "Access Denied",
                                      "RequestId": headers["x-amz-request-id"],
                                      "HostId": headers["x-amz-request-id"]}, body
        status, _, body = lt.http_request(f"{server.url}/{name}/k", method="HEAD")
        assert status == 403 and body == b""
        assert a.get_object(Bucket=name, Key="k")["Body"].read() == b"x"

    def test_lambda_code_from_another_accounts_bucket(self, server):
        check_lambda_code_from_another_accounts_bucket(
            s3_client(server.port, key=ACCOUNT_A), s3_client(server.port, key=ACCOUNT_B),
            lambda_client(server.port, ACCOUNT_B), ACCOUNT_B)

    def test_signed_other_account_is_denied(self, signed_server):
        a = s3_client(signed_server.port, key=SIGNED[0], secret=SIGNED[1])
        b = s3_client(signed_server.port, key=SIGNED_OTHER[0], secret=SIGNED_OTHER[1])
        name = lt.unique("acct-signed")
        a.create_bucket(Bucket=name)
        check_other_account_is_denied(a, b, name)

    def test_signed_lambda_code_from_another_accounts_bucket(self, signed_server):
        check_lambda_code_from_another_accounts_bucket(
            s3_client(signed_server.port, key=SIGNED[0], secret=SIGNED[1]),
            s3_client(signed_server.port, key=SIGNED_OTHER[0], secret=SIGNED_OTHER[1]),
            lambda_client(signed_server.port, SIGNED_OTHER[0], SIGNED_OTHER[1]), SIGNED_OTHER[2])

    @pytest.mark.cli
    def test_with_the_aws_cli(self, server, tmp_path):
        a = s3_client(server.port, key=ACCOUNT_A)
        name = lt.unique("acct-cli")
        a.create_bucket(Bucket=name)
        a.put_object(Bucket=name, Key="secret.txt", Body=b"A's secret")
        env = lt.cli_env(tmp_path, key=ACCOUNT_B)

        def aws_as_b(*args):
            return subprocess.run(["aws", *args, "--endpoint-url", server.url], env=env, capture_output=True,
                                  text=True, timeout=60, stdin=subprocess.DEVNULL)

        p = aws_as_b("s3", "cp", f"s3://{name}/secret.txt", "-")
        assert p.returncode != 0 and "A's secret" not in p.stdout
        # (the CLI starts with a HeadObject, whose 403 has no body: botocore can only say "403 Forbidden")
        assert "403" in p.stderr and "Forbidden" in p.stderr, p.stderr
        p = aws_as_b("s3api", "get-object", "--bucket", name, "--key", "secret.txt", str(tmp_path / "out"))
        assert p.returncode != 0 and "AccessDenied" in p.stderr and "Access Denied" in p.stderr, p.stderr
        assert not (tmp_path / "out").exists()
        p = aws_as_b("s3", "ls", f"s3://{name}")
        assert p.returncode != 0 and "AccessDenied" in p.stderr, p.stderr
        p = aws_as_b("s3", "rm", f"s3://{name}/secret.txt")
        assert p.returncode != 0 and "AccessDenied" in p.stderr, p.stderr
        assert a.get_object(Bucket=name, Key="secret.txt")["Body"].read() == b"A's secret"


# --------------------------------------------------------------------------------------
# Lambda code from S3
# --------------------------------------------------------------------------------------

class TestLambdaCodeFromS3:
    def test_create_update_invoke_with_boto3(self, lam, s3, bucket):
        z1, z2 = lt.handler_zip("first"), lt.handler_zip("second")
        s3.put_object(Bucket=bucket, Key="code/v1.zip", Body=z1)
        s3.put_object(Bucket=bucket, Key="code/v2.zip", Body=z2)
        name = lt.unique("from-s3")
        r = lam.create_function(FunctionName=name, Runtime=RUNTIME, Role=ROLE_ARN, Handler=HANDLER,
                                Code={"S3Bucket": bucket, "S3Key": "code/v1.zip"})
        assert r["CodeSha256"] == lt.b64sha256(z1) and r["CodeSize"] == len(z1)
        assert r["State"] == "Pending"
        lt.wait_active(lam, name)
        assert tag_of(lam, name) == "first"
        u = lam.update_function_code(FunctionName=name, S3Bucket=bucket, S3Key="code/v2.zip")
        assert u["CodeSha256"] == lt.b64sha256(z2) and u["LastUpdateStatus"] == "InProgress"
        lt.wait_updated(lam, name)
        assert tag_of(lam, name) == "second"
        # the stored code is the object's bytes
        status, _, body = lt.http_get(lam.get_function(FunctionName=name)["Code"]["Location"])
        assert status == 200 and body == z2
        # S3ObjectVersion: an unversioned object's version is "null"; any other does not exist
        lam.update_function_code(FunctionName=name, S3Bucket=bucket, S3Key="code/v1.zip", S3ObjectVersion="null")
        lt.wait_updated(lam, name)
        assert tag_of(lam, name) == "first"
        with expect_error("InvalidParameterValueException", 400,
                          "Error occurred while GetObject. S3 Error Code: NoSuchVersion. "
                          "S3 Error Message: The specified version does not exist."):
            lam.update_function_code(FunctionName=name, S3Bucket=bucket, S3Key="code/v2.zip",
                                     S3ObjectVersion="3HL4kqtJlcpXroDTDmjVBH40Nrjfkd")

    def test_recorded_errors(self, lam, s3, bucket):
        """test_lambda_code_location_s3_errors, as recorded from AWS."""
        name = lt.unique("s3-errors")
        with expect_error("InvalidParameterValueException", 400, MSG_NO_BUCKET) as e:
            lam.create_function(FunctionName=name, Runtime=RUNTIME, Role=ROLE_ARN, Handler=HANDLER,
                                Code={"S3Bucket": lt.unique("no-such-bucket"), "S3Key": "code.zip"})
        assert e.response["Error"].get("Type", "User") == "User"
        with expect_error("InvalidParameterValueException", 400, MSG_NO_KEY):
            lam.create_function(FunctionName=name, Runtime=RUNTIME, Role=ROLE_ARN, Handler=HANDLER,
                                Code={"S3Bucket": bucket, "S3Key": "no-such-key.zip"})
        with expect_error("ResourceNotFoundException", 404):
            lam.get_function(FunctionName=name)
        z = lt.handler_zip("unchanged")
        lt.create_function(lam, name, zip_bytes=z)
        with expect_error("InvalidParameterValueException", 400, MSG_NO_BUCKET):
            lam.update_function_code(FunctionName=name, S3Bucket=lt.unique("no-such-bucket"), S3Key="code.zip")
        with expect_error("InvalidParameterValueException", 400, MSG_NO_KEY):
            lam.update_function_code(FunctionName=name, S3Bucket=bucket, S3Key="no-such-key.zip")
        assert lam.get_function(FunctionName=name)["Configuration"]["CodeSha256"] == lt.b64sha256(z)

    def test_zipfile_and_s3_together_and_incomplete_locations(self, lam, s3, bucket):
        s3.put_object(Bucket=bucket, Key="c.zip", Body=lt.handler_zip())
        name = lt.unique()
        with expect_error("InvalidParameterValueException", 400,
                          "Please do not provide other FunctionCode parameters when providing a ZipFile."):
            lam.create_function(FunctionName=name, Runtime=RUNTIME, Role=ROLE_ARN, Handler=HANDLER,
                                Code={"ZipFile": lt.handler_zip(), "S3Bucket": bucket, "S3Key": "c.zip"})
        with expect_error("InvalidParameterValueException", 400, "Please provide a source for function code."):
            lam.create_function(FunctionName=name, Runtime=RUNTIME, Role=ROLE_ARN, Handler=HANDLER,
                                Code={"S3Bucket": bucket})
        with expect_error("ValidationException", 400, message_contains="'code.s3Bucket'"):
            lam.create_function(FunctionName=name, Runtime=RUNTIME, Role=ROLE_ARN, Handler=HANDLER,
                                Code={"S3Bucket": "s3://bucket", "S3Key": "c.zip"})
        with expect_error("ResourceNotFoundException", 404):
            lam.get_function(FunctionName=name)

    def test_not_a_zip_in_s3(self, lam, s3, bucket):
        s3.put_object(Bucket=bucket, Key="not.zip", Body=b"this is not a zip file")
        with expect_error("InvalidParameterValueException", 400):
            lam.create_function(FunctionName=lt.unique(), Runtime=RUNTIME, Role=ROLE_ARN, Handler=HANDLER,
                                Code={"S3Bucket": bucket, "S3Key": "not.zip"})

    def test_bucket_in_another_region(self, server, lam):
        eu = s3_client(server.port, region="eu-west-1")
        name = lt.unique("eu-code")
        eu.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        eu.put_object(Bucket=name, Key="c.zip", Body=lt.handler_zip())
        with expect_error("InvalidParameterValueException", 400,
                          message_contains="S3 Error Code: PermanentRedirect"):
            lam.create_function(FunctionName=lt.unique(), Runtime=RUNTIME, Role=ROLE_ARN, Handler=HANDLER,
                                Code={"S3Bucket": name, "S3Key": "c.zip"})
        lam_eu = server.client("lambda", region="eu-west-1")
        fn = lt.unique("eu-fn")
        lam_eu.create_function(FunctionName=fn, Runtime=RUNTIME, Role=ROLE_ARN, Handler=HANDLER,
                               Code={"S3Bucket": name, "S3Key": "c.zip"})
        lt.wait_active(lam_eu, fn)

    def test_layer_from_s3(self, lam, s3, bucket):
        layer_zip = lt.make_zip({"python/s3layer.py": "VALUE = 'from a layer in S3'\n"})
        s3.put_object(Bucket=bucket, Key="layers/l.zip", Body=layer_zip)
        lname = lt.unique("s3layer")
        p = lam.publish_layer_version(LayerName=lname, Content={"S3Bucket": bucket, "S3Key": "layers/l.zip"},
                                      CompatibleRuntimes=[RUNTIME])
        assert p["Version"] == 1
        assert p["Content"]["CodeSha256"] == lt.b64sha256(layer_zip) and p["Content"]["CodeSize"] == len(layer_zip)
        with expect_error("InvalidParameterValueException", 400, MSG_NO_KEY):
            lam.publish_layer_version(LayerName=lname, Content={"S3Bucket": bucket, "S3Key": "layers/none.zip"})
        fn_zip = lt.make_zip({"handler.py": "import s3layer\ndef handler(e, c):\n    return s3layer.VALUE\n"})
        s3.put_object(Bucket=bucket, Key="fn.zip", Body=fn_zip)
        name = lt.unique("uses-s3layer")
        lam.create_function(FunctionName=name, Runtime=RUNTIME, Role=ROLE_ARN, Handler=HANDLER,
                            Code={"S3Bucket": bucket, "S3Key": "fn.zip"}, Layers=[p["LayerVersionArn"]])
        lt.wait_active(lam, name)
        assert invoke_json(lam, name) == "from a layer in S3"

    @pytest.mark.cli
    @pytest.mark.timeout_s(150)
    def test_with_the_aws_cli(self, cli, lam, tmp_path):
        name = lt.unique("cli-code")
        cli.run("s3", "mb", f"s3://{name}")
        z1 = tmp_path / "function.zip"
        z1.write_bytes(lt.handler_zip("cli-one"))
        cli.run("s3", "cp", str(z1), f"s3://{name}/function.zip")
        fn = lt.unique("cli-fn")
        out = cli.json("lambda", "create-function", "--function-name", fn, "--runtime", RUNTIME, "--role", ROLE_ARN,
                       "--handler", HANDLER, "--code", f"S3Bucket={name},S3Key=function.zip")
        assert out["CodeSha256"] == lt.b64sha256(z1.read_bytes())
        cli.run("lambda", "wait", "function-active-v2", "--function-name", fn)
        resp = tmp_path / "out.json"
        cli.run("lambda", "invoke", "--function-name", fn, str(resp))
        assert json.loads(json.loads(resp.read_text())["body"])["tag"] == "cli-one"
        z2 = tmp_path / "function2.zip"
        z2.write_bytes(lt.handler_zip("cli-two"))
        cli.run("s3", "cp", str(z2), f"s3://{name}/function2.zip")
        cli.json("lambda", "update-function-code", "--function-name", fn, "--s3-bucket", name,
                 "--s3-key", "function2.zip")
        cli.run("lambda", "wait", "function-updated-v2", "--function-name", fn)
        cli.run("lambda", "invoke", "--function-name", fn, str(resp))
        assert json.loads(json.loads(resp.read_text())["body"])["tag"] == "cli-two"
        lz = tmp_path / "layer.zip"
        lz.write_bytes(lt.make_zip({"python/clilayer.py": "X = 1\n"}))
        cli.run("s3", "cp", str(lz), f"s3://{name}/layer.zip")
        p = cli.json("lambda", "publish-layer-version", "--layer-name", lt.unique("cli-layer"),
                     "--content", f"S3Bucket={name},S3Key=layer.zip")
        assert p["Version"] == 1 and p["Content"]["CodeSha256"] == lt.b64sha256(lz.read_bytes())
        bad = cli.run("lambda", "create-function", "--function-name", lt.unique(), "--runtime", RUNTIME, "--role",
                      ROLE_ARN, "--handler", HANDLER, "--code", f"S3Bucket={name},S3Key=missing.zip", check=False)
        assert bad.returncode != 0 and MSG_NO_KEY in bad.stderr


# --------------------------------------------------------------------------------------
# --s3-endpoint: code from another S3 server (a second lamina)
# --------------------------------------------------------------------------------------

@pytest.mark.timeout_s(120)
def test_s3_endpoint_reads_code_from_another_server(tmp_path):
    source_creds = credentials_file(tmp_path / "credentials")
    source = lt.LaminaServer(log_path=tmp_path / "source.log",
                             extra_args=["--auth", "sigv4", "--credentials", str(source_creds)])
    source.start()
    consumer = wrong = None
    try:
        src = s3_client(source.port, key=SIGNED[0], secret=SIGNED[1])
        src.create_bucket(Bucket="code-source")
        z = lt.handler_zip("remote")
        src.put_object(Bucket="code-source", Key="dir/fn v1.zip", Body=z)
        consumer = lt.LaminaServer(log_path=tmp_path / "consumer.log",
                                   extra_args=["--s3-endpoint", source.url],
                                   env={"AWS_ACCESS_KEY_ID": SIGNED[0], "AWS_SECRET_ACCESS_KEY": SIGNED[1]})
        consumer.start()
        lam = consumer.client("lambda")
        # the consumer's own S3 has no such bucket: the code comes from the source
        assert s3_client(consumer.port).list_buckets()["Buckets"] == []
        name = lt.unique("remote")
        r = lam.create_function(FunctionName=name, Runtime=RUNTIME, Role=ROLE_ARN, Handler=HANDLER,
                                Code={"S3Bucket": "code-source", "S3Key": "dir/fn v1.zip"})
        assert r["CodeSha256"] == lt.b64sha256(z)
        lt.wait_active(lam, name)
        assert tag_of(lam, name) == "remote"
        # the source's errors, quoted as Lambda quotes S3's
        with expect_error("InvalidParameterValueException", 400, MSG_NO_KEY):
            lam.update_function_code(FunctionName=name, S3Bucket="code-source", S3Key="nope.zip")
        with expect_error("InvalidParameterValueException", 400, MSG_NO_BUCKET):
            lam.update_function_code(FunctionName=name, S3Bucket="no-such-source", S3Key="x.zip")
        # a bucket of another account on the source: its 403 AccessDenied, quoted
        other = s3_client(source.port, key=SIGNED_OTHER[0], secret=SIGNED_OTHER[1])
        other.create_bucket(Bucket="other-source")
        other.put_object(Bucket="other-source", Key="fn.zip", Body=lt.handler_zip("other"))
        with expect_error("InvalidParameterValueException", 400, MSG_DENIED):
            lam.update_function_code(FunctionName=name, S3Bucket="other-source", S3Key="fn.zip")
        assert lam.get_function(FunctionName=name)["Configuration"]["CodeSha256"] == lt.b64sha256(z)
        # a consumer with the wrong secret is refused by the source
        wrong = lt.LaminaServer(log_path=tmp_path / "wrong.log", extra_args=["--s3-endpoint", source.url],
                                env={"AWS_ACCESS_KEY_ID": SIGNED[0], "AWS_SECRET_ACCESS_KEY": "wrong"})
        wrong.start()
        with expect_error("InvalidParameterValueException", 400,
                          message_contains="S3 Error Code: SignatureDoesNotMatch"):
            wrong.client("lambda").create_function(FunctionName=lt.unique(), Runtime=RUNTIME, Role=ROLE_ARN,
                                                   Handler=HANDLER,
                                                   Code={"S3Bucket": "code-source", "S3Key": "dir/fn v1.zip"})
    finally:
        for s in (wrong, consumer, source):
            if s:
                s.stop()


def test_s3_endpoint_needs_credentials(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LAMINA_"))}
    p = subprocess.run([str(lt.lamina_bin()), "serve", "--port", "0", "--ephemeral", "--s3-endpoint",
                        "http://127.0.0.1:1"], env=env, capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "AWS_ACCESS_KEY_ID" in p.stderr
    p = subprocess.run([str(lt.lamina_bin()), "serve", "--port", "0", "--ephemeral", "--s3-endpoint",
                        "https://s3.amazonaws.com"], env={**env, "AWS_ACCESS_KEY_ID": "a",
                                                          "AWS_SECRET_ACCESS_KEY": "b"},
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "plain http" in p.stderr


# --------------------------------------------------------------------------------------
# Bad input: S3-shaped errors, nothing changed, the server still answers
# --------------------------------------------------------------------------------------

def test_bad_requests_get_s3_errors_and_change_nothing(server, s3, bucket):
    import socket
    s3.put_object(Bucket=bucket, Key="keep", Body=b"kept")
    url = f"{server.url}/{bucket}"
    cases = [
        # (method, path, body, headers, status, code)
        ("PUT", f"/{bucket}/" + "k" * 1025, b"x", {}, 400, "KeyTooLongError"),
        ("PUT", f"/{bucket}/keep", b"5\r\nab", {"Content-Encoding": "aws-chunked"}, 400, "IncompleteBody"),
        ("PUT", f"/{bucket}/keep", b"zz\r\nab\r\n0\r\n\r\n",
         {"x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER"}, 400, "IncompleteBody"),
        ("PUT", f"/{bucket}/keep", b"new", {"Content-MD5": "not base64!"}, 400, "InvalidArgument"),
        ("PUT", f"/{bucket}/keep", b"new", {"x-amz-checksum-crc32": crc32_b64(b"old")}, 400, "BadDigest"),
        ("PUT", f"/{bucket}/keep?partNumber=1&uploadId=0123abcd", b"p", {}, 404, "NoSuchUpload"),
        ("PUT", f"/{bucket}/keep?partNumber=0&uploadId=0123abcd", b"p", {}, 400, "InvalidArgument"),
        ("PUT", f"/{bucket}/keep?partNumber=10001&uploadId=0123abcd", b"p", {}, 400, "InvalidArgument"),
        ("PUT", f"/{bucket}/keep?uploadId=..%2F..%2Fetc&partNumber=1", b"p", {}, 404, "NoSuchUpload"),
        ("POST", f"/{bucket}/keep?uploadId=0123abcd",
         b'<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"x"</ETag></Part></CompleteMultipartUpload>',
         {"Content-Type": "application/xml"}, 404, "NoSuchUpload"),
        ("POST", f"/{bucket}?delete", b"<Delete><Object></Object></Delete>", {"Content-Type": "application/xml"},
         400, "MalformedXML"),
        ("POST", f"/{bucket}?delete", b"<<<not xml", {"Content-Type": "application/xml"}, 400, "MalformedXML"),
        ("PUT", f"/{lt.unique('new')}", b"<CreateBucketConfiguration><LocationConstraint>",
         {}, 400, "MalformedXML"),
        ("GET", f"/{bucket}?list-type=2&max-keys=-1", None, {}, 400, "InvalidArgument"),
        ("GET", f"/{bucket}?list-type=2&max-keys=abc", None, {}, 400, "InvalidArgument"),
        ("GET", f"/{bucket}?list-type=2&encoding-type=base64", None, {}, 400, "InvalidArgument"),
        ("GET", f"/{bucket}/keep?versionId=abc", None, {}, 404, "NoSuchVersion"),
        ("GET", f"/{bucket}/keep?acl", None, {}, 501, "NotImplemented"),
        ("PUT", f"/{bucket}?policy", b"{}", {}, 501, "NotImplemented"),
        ("PATCH", f"/{bucket}/keep", b"x", {}, 405, "MethodNotAllowed"),
        # "/" is S3's when signed for s3 (unsigned it is not: test_unsigned_request_to_root_is_not_s3)
        ("DELETE", "/", None, {"Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/"
                                                "aws4_request, SignedHeaders=host, Signature=0"},
         405, "MethodNotAllowed"),
        ("GET", f"/{bucket}/%zz", None, {}, 400, "InvalidRequest"),
    ]
    for method, path, body, headers, status, code in cases:
        got, h, resp = lt.http_request(server.url + path, method=method, body=body, headers=headers)
        assert got == status, (method, path, got, resp[:300])
        err = s3_error(resp)
        assert err["Code"] == code, (method, path, err)
        assert err["Message"] and err["RequestId"] == h["x-amz-request-id"]
    # a declared body over the cap is refused from its head, before any byte of it
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(f"PUT /{bucket}/huge HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {10 * 1024**3}\r\n"
                     f"Expect: 100-continue\r\n\r\n".encode())
        head = sock.recv(65536).decode(errors="replace")
    assert head.startswith("HTTP/1.1 400") and "<Code>EntityTooLarge</Code>" in head, head[:500]
    # nothing changed
    assert s3.get_object(Bucket=bucket, Key="keep")["Body"].read() == b"kept"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["keep"]
    assert not [b for b in s3.list_buckets()["Buckets"] if b["Name"].startswith("new-")]
    assert server.alive()
