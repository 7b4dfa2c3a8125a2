"""Lambda layers: the layers API against AWS's recorded answers, layer permissions between
accounts, functions with layers, the 250 MB unzipped limit, account usage, the /opt tree lamina
assembles for each function version (checked on disk), zip safety, and restart."""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import random
import shutil
import struct
import zipfile

import pytest

import lamina_testlib as lt
from lamina_testlib import (REGION, expect_error, fn_arn, layer_arn, layer_version_arn,
                            raw_json, validation_message)

MSG_NOT_A_ZIP = "Could not unzip uploaded file. Please check your file, then try to upload again."
MSG_UNZIPPED = "Unzipped size must be smaller than 262144000 bytes"
MSG_NOT_EXIST = "The resource you requested does not exist."
MSG_LESS_THAN_1 = "Layer Version Cannot be less than 1"
MSG_NO_POLICY = "No policy is associated with the given resource."
MSG_REVISION_LAYER = ("The Revision Id provided does not match the latest Revision Id. "
                      "Call the GetLayerPolicy API to retrieve the latest Revision Id")
MSG_TOO_MANY = "Cannot reference more than 5 layers."
LIMIT_UNZIPPED = 262144000
MiB = 1 << 20

# Exactly as AWS quotes them (recorded).
LAYER_VERSION_ARN_PATTERN = (
    r"(arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:layer:"
    r"[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+)"
)
LIST_RUNTIME_ENUM = (
    "[ruby3.5, ruby2.6, dotnetcore1.0, python3.7, nodejs8.10, nasa, ruby2.7, python2.7-greengrass, "
    "dotnetcore2.0, python3.8, java21, dotnet6, dotnetcore2.1, python3.9, java11, nodejs6.10, provided, "
    "dotnetcore3.1, dotnet8, java25, java17, nodejs, nodejs4.3, java8.al2, go1.x, dotnet10, nodejs20.x, go1.9, "
    "byol, nodejs10.x, provided.al2023, nodejs22.x, python3.10, java8, nodejs12.x, python3.11, nodejs24.x, "
    "nodejs8.x, python3.12, nodejs14.x, nodejs8.9, nodejs26.x, python3.13, python3.14, nodejs16.x, python3.15, "
    "provided.al2, nodejs4.3-edge, nodejs18.x, ruby3.2, python3.4, ruby3.3, ruby3.4, ruby2.5, python3.6, python2.7]"
)
PUBLISH_RUNTIME_ENUM = (
    "[nodejs20.x, python3.14, provided.al2023, python3.12, python3.13, nodejs24.x, nodejs22.x, "
    "java25, python3.10, python3.11, java21, ruby3.3, ruby3.4, ruby3.2, python3.8, python3.9, "
    "java17, nodejs16.x, dotnet10, dotnet8, java11, dotnet6, nodejs18.x, provided.al2, java8.al2]"
)
ARCH_CONSTRAINT = ("Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64], "
                   "Member must not be null]")
# Recorded: PublishLayerVersion accepts these lists (deprecated runtimes included), echoed in order.
RECORDED_RUNTIME_LISTS = [
    ["nodejs24.x", "nodejs22.x", "nodejs20.x", "nodejs18.x", "nodejs16.x", "nodejs14.x", "nodejs12.x",
     "python3.14", "python3.13", "python3.12", "python3.11", "python3.10", "python3.9", "python3.8", "python3.7"],
    ["java25", "java21", "java17", "java11", "java8.al2", "java8", "dotnet10", "dotnet8", "dotnet6",
     "dotnetcore3.1", "go1.x", "ruby3.4", "ruby3.3", "ruby3.2", "ruby2.7"],
    ["provided.al2023", "provided.al2", "provided"],
]

PUBLISH_KEYS = {"CompatibleArchitectures", "CompatibleRuntimes", "Content", "CreatedDate", "Description",
                "LayerArn", "LayerVersionArn", "LicenseInfo", "Version"}
MIN_PUBLISH_KEYS = {"Content", "CreatedDate", "Description", "LayerArn", "LayerVersionArn", "Version"}
LIST_VERSION_KEYS = {"CompatibleArchitectures", "CompatibleRuntimes", "CreatedDate", "Description",
                     "LayerVersionArn", "LicenseInfo", "Version"}


# ----------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------

def dummy_layer(tag: str | None = None) -> bytes:
    tag = tag or lt.unique("t")
    return lt.build_zip({"python/dummy_layer.py": f"TAG = {tag!r}\n"})


def publish(client, name: str, zip_bytes: bytes | None = None, **kwargs) -> dict:
    return client.publish_layer_version(LayerName=name, Content={"ZipFile": zip_bytes or dummy_layer()}, **kwargs)


def random_account() -> str:
    return str(random.randint(200000000000, 999999999999))


def role(account: str) -> str:
    return f"arn:aws:iam::{account}:role/lambda-role"


def no_location(doc: dict) -> dict:
    doc = json.loads(json.dumps(doc))
    doc.get("Content", {}).pop("Location", None)
    doc.pop("ResponseMetadata", None)
    return doc


def all_layer_versions(client, name: str, page: int, **filters) -> list[dict]:
    rows, marker, pages = [], None, 0
    while True:
        kw = dict(LayerName=name, MaxItems=page, **filters)
        if marker:
            kw["Marker"] = marker
        resp = client.list_layer_versions(**kw)
        assert len(resp["LayerVersions"]) <= page
        rows += resp["LayerVersions"]
        pages += 1
        assert pages < 100, "pagination does not end"
        marker = resp.get("NextMarker")
        if not marker:
            return rows


def all_layers(client, page: int | None = None, **filters) -> list[dict]:
    rows, marker, pages = [], None, 0
    while True:
        kw = dict(filters)
        if page:
            kw["MaxItems"] = page
        if marker:
            kw["Marker"] = marker
        resp = client.list_layers(**kw)
        if page:
            assert len(resp["Layers"]) <= page
        rows += resp["Layers"]
        pages += 1
        assert pages < 100, "pagination does not end"
        marker = resp.get("NextMarker")
        if not marker:
            return rows


def opt_path(server, name: str, qualifier: str | None = None) -> tuple[str, list]:
    status, _, doc = lt.opt_tree(server.url, name, qualifier)
    assert status == 200, f"/_lamina/opt/{name}?Qualifier={qualifier}: HTTP {status} {doc}"
    assert set(doc) == {"Path", "Layers"}, doc
    path = doc["Path"]
    assert os.path.isabs(path) and os.path.isdir(path), f"/opt directory {path!r} does not exist"
    return path, doc["Layers"]


def read(path: str, rel: str) -> str:
    with open(os.path.join(path, rel)) as f:
        return f.read()


def expect_unzip_refusal(e, allow_size_message: bool = False):
    msg = e.message or ""
    ok = msg.startswith(MSG_NOT_A_ZIP) or (allow_size_message and msg == MSG_UNZIPPED)
    assert ok, f"expected a message starting with {MSG_NOT_A_ZIP!r}, got {msg!r}"


def assert_nothing_published(client, name: str):
    assert client.list_layer_versions(LayerName=name)["LayerVersions"] == []
    with expect_error("ResourceNotFoundException", 404):
        client.get_layer_version(LayerName=name, VersionNumber=1)


# ----------------------------------------------------------------------------------------
# Publish / get / delete
# ----------------------------------------------------------------------------------------

class TestLifecycle:
    def test_publish_and_get_fields(self, lam):
        name = lt.unique("layer")
        z = dummy_layer()
        p1 = publish(lam, name, z, Description="my description", LicenseInfo="MIT",
                     CompatibleRuntimes=["python3.12"], CompatibleArchitectures=["x86_64"])
        assert p1["ResponseMetadata"]["HTTPStatusCode"] == 201
        raw = raw_json(lam)
        assert set(raw) == PUBLISH_KEYS
        assert set(raw["Content"]) == {"CodeSha256", "CodeSize", "Location"}
        assert raw["Content"]["CodeSha256"] == lt.b64sha256(z)
        assert raw["Content"]["CodeSize"] == len(z)
        assert raw["LayerArn"] == layer_arn(name)
        assert raw["LayerVersionArn"] == layer_version_arn(name, 1)
        assert raw["Version"] == 1 and isinstance(raw["Version"], int)
        assert raw["Description"] == "my description"
        assert raw["LicenseInfo"] == "MIT"
        assert raw["CompatibleRuntimes"] == ["python3.12"]
        assert raw["CompatibleArchitectures"] == ["x86_64"]
        assert lt.LAST_MODIFIED_RE.match(raw["CreatedDate"]), raw["CreatedDate"]
        loc = raw["Content"]["Location"]
        assert loc.startswith("http://")
        status, _, body = lt.http_get(loc)
        assert status == 200 and body == z, "Content.Location must download the layer zip"

        # reads: by name, by layer ARN as LayerName, by version ARN
        for got in (lam.get_layer_version(LayerName=name, VersionNumber=1),
                    lam.get_layer_version(LayerName=layer_arn(name), VersionNumber=1),
                    lam.get_layer_version_by_arn(Arn=layer_version_arn(name, 1))):
            assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
            g = raw_json(lam)
            assert set(g) == PUBLISH_KEYS
            assert no_location(g) == no_location(raw)
            status, _, body = lt.http_get(g["Content"]["Location"])
            assert status == 200 and body == z

        # "we don't even need to change anything for a second version to be published" (recorded)
        p2 = publish(lam, name, z, Description="my description", LicenseInfo="MIT",
                     CompatibleRuntimes=["python3.12"], CompatibleArchitectures=["x86_64"])
        assert p2["Version"] == 2
        assert p2["LayerVersionArn"] == layer_version_arn(name, 2)
        assert p2["Content"]["CodeSha256"] == p1["Content"]["CodeSha256"]
        assert p2["CreatedDate"] >= p1["CreatedDate"]
        # a published version never changes
        again = lam.get_layer_version(LayerName=name, VersionNumber=1)
        assert no_location(raw_json(lam)) == no_location(raw)
        assert again["Version"] == 1

    def test_optional_fields_only_when_given(self, lam):
        # nothing optional given: no CompatibleRuntimes/CompatibleArchitectures/LicenseInfo (recorded), Description ""
        name = lt.unique("layer-min")
        publish(lam, name)
        raw = raw_json(lam)
        assert set(raw) == MIN_PUBLISH_KEYS
        assert raw["Description"] == ""
        lam.get_layer_version(LayerName=name, VersionNumber=1)
        assert set(raw_json(lam)) == MIN_PUBLISH_KEYS
        # empty lists are valid and echoed (recorded)
        name2 = lt.unique("layer-empty")
        publish(lam, name2, CompatibleRuntimes=[], CompatibleArchitectures=[])
        raw2 = raw_json(lam)
        assert raw2["CompatibleRuntimes"] == [] and raw2["CompatibleArchitectures"] == []
        assert raw2["Description"] == "" and "LicenseInfo" not in raw2

    @pytest.mark.parametrize("runtimes", RECORDED_RUNTIME_LISTS, ids=["nodejs-python", "java-dotnet-go-ruby",
                                                                       "provided"])
    def test_compatibilities_recorded(self, lam, runtimes):
        name = lt.unique("layer-compat")
        p = publish(lam, name, CompatibleRuntimes=runtimes, CompatibleArchitectures=["arm64", "x86_64"])
        raw = raw_json(lam)
        assert p["ResponseMetadata"]["HTTPStatusCode"] == 201
        assert raw["CompatibleRuntimes"] == runtimes
        assert raw["CompatibleArchitectures"] == ["arm64", "x86_64"]

    def test_versions_never_reused(self, lam):
        name = lt.unique("layer-num")
        assert publish(lam, name)["Version"] == 1
        assert publish(lam, name)["Version"] == 2
        for v in (1, 2):
            r = lam.delete_layer_version(LayerName=name, VersionNumber=v)
            assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
        assert lam.list_layer_versions(LayerName=name)["LayerVersions"] == []
        assert publish(lam, name)["Version"] == 3, "versions continue after deleting all of them (recorded)"
        lam.delete_layer_version(LayerName=name, VersionNumber=3)
        p4 = publish(lam, name)
        assert p4["Version"] == 4, "the newest version's number is not reused either"
        assert p4["LayerVersionArn"] == layer_version_arn(name, 4)
        for v in (1, 2, 3):
            with expect_error("ResourceNotFoundException", 404, MSG_NOT_EXIST):
                lam.get_layer_version(LayerName=name, VersionNumber=v)
        assert [v["Version"] for v in lam.list_layer_versions(LayerName=name)["LayerVersions"]] == [4]

    def test_regions_and_accounts_are_separate(self, server, lam):
        name = lt.unique("layer-sep")
        other_acct = random_account()
        west = server.client(region="us-west-2")
        other = server.client(key=other_acct)
        assert publish(lam, name)["Version"] == 1
        assert publish(lam, name)["Version"] == 2
        pw = publish(west, name)
        assert pw["Version"] == 1
        assert pw["LayerVersionArn"] == layer_version_arn(name, 1, region="us-west-2")
        po = publish(other, name)
        assert po["Version"] == 1
        assert po["LayerArn"] == layer_arn(name, account=other_acct)
        assert [v["Version"] for v in lam.list_layer_versions(LayerName=name)["LayerVersions"]] == [2, 1]
        assert [v["Version"] for v in west.list_layer_versions(LayerName=name)["LayerVersions"]] == [1]
        assert [v["LayerVersionArn"] for v in other.list_layer_versions(LayerName=name)["LayerVersions"]] == \
            [layer_version_arn(name, 1, account=other_acct)]
        with expect_error("ResourceNotFoundException", 404):
            west.get_layer_version(LayerName=name, VersionNumber=2)
        # deleting in one region leaves the other alone
        west.delete_layer_version(LayerName=name, VersionNumber=1)
        assert lam.get_layer_version(LayerName=name, VersionNumber=1)["Version"] == 1


# ----------------------------------------------------------------------------------------
# ListLayers / ListLayerVersions
# ----------------------------------------------------------------------------------------

class TestListing:
    def test_list_layer_versions_newest_first_with_paging(self, fresh_account):
        acct, c = fresh_account
        name = lt.unique("layer-page")
        published = {}
        for i in range(1, 8):
            p = publish(c, name, Description=f"v{i}", LicenseInfo="MIT", CompatibleRuntimes=["python3.12"],
                        CompatibleArchitectures=["x86_64"])
            published[p["Version"]] = p
        c.delete_layer_version(LayerName=name, VersionNumber=3)
        resp = c.list_layer_versions(LayerName=name)
        raw = raw_json(c)
        assert set(raw) == {"LayerVersions"}, "no NextMarker when everything fits"
        assert [r["Version"] for r in raw["LayerVersions"]] == [7, 6, 5, 4, 2, 1]
        for row in raw["LayerVersions"]:
            assert set(row) == LIST_VERSION_KEYS
            p = published[row["Version"]]
            assert row["LayerVersionArn"] == layer_version_arn(name, row["Version"], account=acct)
            assert row["Description"] == p["Description"] and row["CreatedDate"] == p["CreatedDate"]
            assert row["CompatibleRuntimes"] == ["python3.12"] and row["CompatibleArchitectures"] == ["x86_64"]
            assert row["LicenseInfo"] == "MIT"
        assert resp["LayerVersions"][0]["Version"] == 7
        for page in (1, 2, 4, 50):
            rows = all_layer_versions(c, name, page)
            assert [r["Version"] for r in rows] == [7, 6, 5, 4, 2, 1], f"MaxItems={page}"
        # ARN as LayerName
        rows = c.list_layer_versions(LayerName=layer_arn(name, account=acct))["LayerVersions"]
        assert [r["Version"] for r in rows] == [7, 6, 5, 4, 2, 1]

    def test_list_layer_versions_filters(self, fresh_account):
        _, c = fresh_account
        name = lt.unique("layer-filter")
        publish(c, name, CompatibleRuntimes=["python3.12"], CompatibleArchitectures=["x86_64"])  # 1
        publish(c, name, CompatibleRuntimes=["nodejs20.x"], CompatibleArchitectures=["arm64"])  # 2
        publish(c, name, CompatibleRuntimes=["python3.12", "nodejs20.x"],
                CompatibleArchitectures=["x86_64", "arm64"])  # 3
        publish(c, name)  # 4: no compatibility declared
        versions = lambda **f: [r["Version"] for r in c.list_layer_versions(LayerName=name, **f)["LayerVersions"]]
        assert versions() == [4, 3, 2, 1]
        assert versions(CompatibleRuntime="python3.12") == [3, 1]
        assert versions(CompatibleRuntime="nodejs20.x") == [3, 2]
        assert versions(CompatibleRuntime="java21") == []
        assert versions(CompatibleArchitecture="arm64") == [3, 2]
        assert versions(CompatibleArchitecture="x86_64") == [3, 1]
        assert versions(CompatibleRuntime="python3.12", CompatibleArchitecture="arm64") == [3]
        assert [r["Version"] for r in all_layer_versions(c, name, 1, CompatibleRuntime="nodejs20.x")] == [3, 2]

    def test_list_layers_latest_matching_version(self, fresh_account):
        acct, c = fresh_account
        a, b, gone, bare = (lt.unique(p) for p in ("la", "lb", "lgone", "lbare"))
        publish(c, a, Description="a1", CompatibleRuntimes=["python3.12"], CompatibleArchitectures=["x86_64"])
        publish(c, a, Description="a2", CompatibleRuntimes=["nodejs20.x"], CompatibleArchitectures=["arm64"])
        publish(c, a, Description="a3", CompatibleRuntimes=["nodejs20.x"], CompatibleArchitectures=["x86_64"],
                LicenseInfo="MIT")
        publish(c, b, Description="b1", CompatibleRuntimes=["python3.12"], CompatibleArchitectures=["arm64"])
        publish(c, gone, CompatibleRuntimes=["python3.12"])
        c.delete_layer_version(LayerName=gone, VersionNumber=1)
        publish(c, bare)

        def latest(**filters):
            rows = all_layers(c, **filters)
            names = [r["LayerName"] for r in rows]
            assert len(names) == len(set(names)), f"a layer listed twice: {names}"
            return {r["LayerName"]: r for r in rows}

        everything = latest()
        assert set(everything) == {a, b, bare}, "layers without versions are not listed"
        resp = c.list_layers()
        for item in raw_json(c)["Layers"]:
            assert set(item) == {"LayerName", "LayerArn", "LatestMatchingVersion"}
            assert item["LayerArn"] == layer_arn(item["LayerName"], account=acct)
        assert "NextMarker" not in resp
        la = everything[a]["LatestMatchingVersion"]
        assert la["Version"] == 3 and la["LayerVersionArn"] == layer_version_arn(a, 3, account=acct)
        assert set(la) == LIST_VERSION_KEYS
        assert la["Description"] == "a3" and la["LicenseInfo"] == "MIT"
        assert la["CompatibleRuntimes"] == ["nodejs20.x"] and la["CompatibleArchitectures"] == ["x86_64"]
        assert lt.LAST_MODIFIED_RE.match(la["CreatedDate"])

        py = latest(CompatibleRuntime="python3.12")
        assert set(py) == {a, b}
        assert py[a]["LatestMatchingVersion"]["Version"] == 1, "newest version that matches the filter"
        arm = latest(CompatibleArchitecture="arm64")
        assert set(arm) == {a, b}
        assert arm[a]["LatestMatchingVersion"]["Version"] == 2
        both = latest(CompatibleRuntime="nodejs20.x", CompatibleArchitecture="x86_64")
        assert set(both) == {a} and both[a]["LatestMatchingVersion"]["Version"] == 3
        assert latest(CompatibleRuntime="java21") == {}
        # paging covers every layer exactly once
        for page in (1, 2):
            rows = all_layers(c, page)
            assert sorted(r["LayerName"] for r in rows) == sorted([a, b, bare]), f"MaxItems={page}"
        # a version published without compatibility lists shows none (recorded: omitted, not [])
        assert set(everything[bare]["LatestMatchingVersion"]) == {"CreatedDate", "Description", "LayerVersionArn",
                                                                  "Version"}

    def test_lists_are_per_account(self, server, fresh_account):
        acct, c = fresh_account
        name = lt.unique("layer-mine")
        publish(c, name)
        other = server.client(key=random_account())
        assert name not in [r["LayerName"] for r in all_layers(other)]
        assert other.list_layer_versions(LayerName=name)["LayerVersions"] == []


# ----------------------------------------------------------------------------------------
# Errors (recorded)
# ----------------------------------------------------------------------------------------

class TestErrors:
    def test_recorded_layer_exceptions(self, lam):
        name = lt.unique("layer-exc")
        p = publish(lam, name, CompatibleRuntimes=["python3.12"], CompatibleArchitectures=["x86_64"])
        with expect_error("ValidationException", 400, validation_message(
                f"Value 'runtimedoesnotexist' at 'compatibleRuntime' failed to satisfy constraint: "
                f"Member must satisfy enum value set: {LIST_RUNTIME_ENUM}")):
            lam.list_layers(CompatibleRuntime="runtimedoesnotexist")
        with expect_error("ValidationException", 400, validation_message(
                "Value 'archdoesnotexist' at 'compatibleArchitecture' failed to satisfy constraint: "
                "Member must satisfy enum value set: [x86_64, arm64]")):
            lam.list_layers(CompatibleArchitecture="archdoesnotexist")
        resp = lam.list_layer_versions(LayerName=lt.unique("layerdoesnotexist"))
        assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert raw_json(lam) == {"LayerVersions": []}

        with expect_error("ResourceNotFoundException", 404, MSG_NOT_EXIST) as e:
            lam.get_layer_version(LayerName=lt.unique("layerdoesnotexist"), VersionNumber=1)
        assert e.response.get("Type") == "User"
        for bad in (-1, 0):
            with expect_error("InvalidParameterValueException", 400, MSG_LESS_THAN_1) as e:
                lam.get_layer_version(LayerName=name, VersionNumber=bad)
            assert e.response.get("Type") == "User"
        with expect_error("ResourceNotFoundException", 404, MSG_NOT_EXIST):
            lam.get_layer_version(LayerName=name, VersionNumber=2)
        with expect_error("ValidationException", 400, validation_message(
                f"Value '{p['LayerArn']}' at 'arn' failed to satisfy constraint: Member must satisfy "
                f"regular expression pattern: {LAYER_VERSION_ARN_PATTERN}")):
            lam.get_layer_version_by_arn(Arn=p["LayerArn"])
        with expect_error("ResourceNotFoundException", 404, MSG_NOT_EXIST):
            lam.get_layer_version_by_arn(Arn=f"{p['LayerArn']}:2")

        # delete is idempotent: 204 every time
        for layer, version in ((lt.unique("layerdoesnotexist"), 1), (name, 2), (name, 1), (name, 1)):
            r = lam.delete_layer_version(LayerName=layer, VersionNumber=version)
            assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
        with expect_error("ResourceNotFoundException", 404, MSG_NOT_EXIST):
            lam.get_layer_version(LayerName=name, VersionNumber=1)
        with expect_error("InvalidParameterValueException", 400, MSG_LESS_THAN_1):
            lam.delete_layer_version(LayerName=name, VersionNumber=-1)

    def test_publish_invalid_runtime_and_architecture(self, lam):
        name = lt.unique("layer-inv")
        with expect_error("ValidationException", 400, validation_message(
                f"Value '[invalidruntime]' at 'compatibleRuntimes' failed to satisfy constraint: "
                f"Member must satisfy enum value set: {PUBLISH_RUNTIME_ENUM}",
                f"Value '[invalidarch]' at 'compatibleArchitectures' failed to satisfy constraint: "
                f"{ARCH_CONSTRAINT}")):
            publish(lam, name, CompatibleRuntimes=["invalidruntime"], CompatibleArchitectures=["invalidarch"])
        with expect_error("ValidationException", 400, validation_message(
                f"Value '[invalidruntime, invalidruntime2, nodejs20.x]' at 'compatibleRuntimes' failed to "
                f"satisfy constraint: Member must satisfy enum value set: {PUBLISH_RUNTIME_ENUM}",
                f"Value '[invalidarch, x86_64]' at 'compatibleArchitectures' failed to satisfy constraint: "
                f"{ARCH_CONSTRAINT}")):
            publish(lam, name, CompatibleRuntimes=["invalidruntime", "invalidruntime2", "nodejs20.x"],
                    CompatibleArchitectures=["invalidarch", "x86_64"])
        assert_nothing_published(lam, name)

    def test_publish_limits(self, lam_nv):
        """Model limits (AWS's wording not recorded): 15 runtimes, 2 architectures, Description 256,
        LicenseInfo 512, LayerName pattern. Refused with 400, nothing published."""
        name = lt.unique("layer-lim")
        current = PUBLISH_RUNTIME_ENUM.strip("[]").split(", ")
        runtimes15, runtimes16 = current[:15], current[:16]
        for kwargs in (dict(CompatibleRuntimes=runtimes16),
                       dict(CompatibleArchitectures=["x86_64", "arm64", "x86_64"]),
                       dict(Description="d" * 257),
                       dict(LicenseInfo="l" * 513)):
            with pytest.raises(lt.ClientError) as e:
                publish(lam_nv, name, **kwargs)
            r = e.value.response
            assert r["ResponseMetadata"]["HTTPStatusCode"] == 400, (kwargs.keys(), r)
            assert r["Error"]["Code"] in ("ValidationException", "InvalidParameterValueException"), r
        assert_nothing_published(lam_nv, name)
        # exactly at the limits is fine
        p = publish(lam_nv, name, CompatibleRuntimes=runtimes15, Description="d" * 256,
                    LicenseInfo="l" * 512, CompatibleArchitectures=["x86_64", "arm64"])
        assert p["Version"] == 1

    def test_s3_content_from_a_missing_bucket_refused(self, lam):
        name = lt.unique("layer-s3")
        # (layer content from S3 itself: test_s3.py)
        with expect_error("InvalidParameterValueException", 400,
                          "Error occurred while GetObject. S3 Error Code: NoSuchBucket. "
                          "S3 Error Message: The specified bucket does not exist"):
            lam.publish_layer_version(LayerName=name, Content={"S3Bucket": lt.unique("no-such-bucket"),
                                                               "S3Key": "layer.zip"})
        assert_nothing_published(lam, name)

    def test_not_a_zip(self, fresh_account):
        _, c = fresh_account
        name = lt.unique("layer-nozip")
        with expect_error("InvalidParameterValueException", 400, MSG_NOT_A_ZIP):
            c.publish_layer_version(LayerName=name, Content={"ZipFile": b"this is not a zipfile"})
        assert_nothing_published(c, name)
        assert c.get_account_settings()["AccountUsage"]["TotalCodeSize"] == 0


# ----------------------------------------------------------------------------------------
# Unsafe zips
# ----------------------------------------------------------------------------------------

def _under_symlink_zip():
    """The symlink comes first (pointing inside the layer), then an entry written through it."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(_info("python/real/a.py", 0o100644), "A = 1\n")
        z.writestr(_info("python/link", 0o120777), "real")
        z.writestr(_info("python/link/evil.py", 0o100644), "E = 1\n")
    return buf.getvalue()


def _info(name, mode):
    info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
    info.create_system = 3
    info.external_attr = mode << 16
    return info


UNSAFE_ZIPS = {
    "dotdot": lambda: lt.build_zip({"python/ok.py": "x=1\n", "../evil.py": "e=1\n"}),
    "dotdot_inside_path": lambda: lt.build_zip({"python/ok.py": "x=1\n", "python/../../evil.py": "e=1\n"}),
    "absolute": lambda: lt.build_zip({"python/ok.py": "x=1\n", "/tmp/lamina-evil.py": "e=1\n"}),
    "symlink_relative_out": lambda: lt.build_zip({"python/ok.py": "x=1\n"},
                                                 symlinks={"python/passwd": "../../../../etc/passwd"}),
    "symlink_absolute_out": lambda: lt.build_zip({"python/ok.py": "x=1\n"}, symlinks={"python/passwd": "/etc/passwd"}),
    "symlink_normalizes_out": lambda: lt.build_zip({"python/ok/a.py": "x=1\n"},
                                                   symlinks={"python/esc": "ok/../../../etc"}),
    "entry_under_symlink": _under_symlink_zip,
}


class TestUnsafeZips:
    @pytest.mark.parametrize("kind", list(UNSAFE_ZIPS))
    def test_unsafe_zip_refused(self, fresh_account, kind):
        _, c = fresh_account
        name = lt.unique("layer-unsafe")
        with expect_error("InvalidParameterValueException", 400) as e:
            publish(c, name, UNSAFE_ZIPS[kind]())
        expect_unzip_refusal(e)
        assert_nothing_published(c, name)
        assert c.get_account_settings()["AccountUsage"]["TotalCodeSize"] == 0, "nothing may be stored"

    @pytest.mark.timeout_s(60)
    @pytest.mark.parametrize("kind", ["one_entry_270mb_zip64", "two_entries_140mb", "declared_sizes_lie"])
    def test_zip_bomb_refused(self, fresh_account, kind):
        """Real unzipped total over 262144000 bytes, honest or lying about its sizes: refused, and the
        limit is enforced while extracting (the lying one declares 1 MB)."""
        _, c = fresh_account
        z = _bomb(kind)
        assert len(z) < 2 * MiB
        name = lt.unique("layer-bomb")
        with expect_error("InvalidParameterValueException", 400) as e:
            publish(c, name, z)
        # a bomb that is honest about its sizes may get AWS's size message instead
        # the size message (AWS's for oversized code) or the unzip message: either refuses it
        expect_unzip_refusal(e, allow_size_message=True)
        assert_nothing_published(c, name)
        assert c.get_account_settings()["AccountUsage"]["TotalCodeSize"] == 0
        # the server is still fine afterwards
        assert publish(c, name)["Version"] >= 1


@functools.lru_cache(maxsize=None)
def _bomb(kind: str) -> bytes:
    if kind == "one_entry_270mb_zip64":
        return lt.zeros_zip({"python/zeros.bin": 270 * MiB}, force_zip64=True)
    if kind == "two_entries_140mb":
        z = lt.zeros_zip({"python/a.bin": 140 * MiB, "python/b.bin": 140 * MiB})
        assert lt.unzipped_size(z) > LIMIT_UNZIPPED
        return z
    # one 270 MB entry whose local and central headers both claim 1 MB
    z = bytearray(lt.zeros_zip({"python/zeros.bin": 270 * MiB}))
    claimed = 1 * MiB
    assert z[0:4] == b"PK\x03\x04"
    real = struct.unpack_from("<I", z, 22)[0]
    assert real == 270 * MiB, "expected a zip without zip64 extras"
    struct.pack_into("<I", z, 22, claimed)
    cd = z.index(b"PK\x01\x02")
    assert struct.unpack_from("<I", z, cd + 24)[0] == real
    struct.pack_into("<I", z, cd + 24, claimed)
    return bytes(z)


# ----------------------------------------------------------------------------------------
# Layer version policies (recorded)
# ----------------------------------------------------------------------------------------

def _statement(sid, lv_arn, principal="*", condition=None):
    s = {"Sid": sid, "Effect": "Allow", "Principal": principal, "Action": "lambda:GetLayerVersion",
         "Resource": lv_arn}
    if condition:
        s["Condition"] = condition
    return s


class TestLayerPolicy:
    def test_policy_lifecycle(self, lam):
        name = lt.unique("layer-pol")
        p = publish(lam, name, CompatibleRuntimes=["python3.12"], CompatibleArchitectures=["x86_64"])
        lv = p["LayerVersionArn"]
        a1 = lam.add_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="s1",
                                              Action="lambda:GetLayerVersion", Principal="*")
        assert a1["ResponseMetadata"]["HTTPStatusCode"] == 201
        raw = raw_json(lam)
        assert set(raw) == {"Statement", "RevisionId"}
        assert isinstance(raw["Statement"], str), "Statement is a JSON document in a string"
        assert json.loads(raw["Statement"]) == _statement("s1", lv)
        assert lt.UUID_RE.match(raw["RevisionId"])

        g1 = lam.get_layer_version_policy(LayerName=name, VersionNumber=1)
        raw = raw_json(lam)
        assert set(raw) == {"Policy", "RevisionId"} and isinstance(raw["Policy"], str)
        assert json.loads(raw["Policy"]) == {"Version": "2012-10-17", "Id": "default",
                                             "Statement": [_statement("s1", lv)]}
        assert g1["RevisionId"] == a1["RevisionId"]

        a2 = lam.add_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="s2",
                                              Action="lambda:GetLayerVersion", Principal="*",
                                              RevisionId=g1["RevisionId"])
        assert json.loads(a2["Statement"]) == _statement("s2", lv)
        assert a2["RevisionId"] != a1["RevisionId"]
        g2 = lam.get_layer_version_policy(LayerName=name, VersionNumber=1)
        assert json.loads(g2["Policy"])["Statement"] == [_statement("s1", lv), _statement("s2", lv)]
        assert g2["RevisionId"] == a2["RevisionId"]

        r = lam.remove_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="s2",
                                                RevisionId=g2["RevisionId"])
        assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
        g3 = lam.get_layer_version_policy(LayerName=name, VersionNumber=1)
        assert json.loads(g3["Policy"]) == {"Version": "2012-10-17", "Id": "default",
                                            "Statement": [_statement("s1", lv)]}
        assert g3["RevisionId"] not in (g1["RevisionId"], g2["RevisionId"])
        # a stale RevisionId is refused on add and remove
        with expect_error("PreconditionFailedException", 412, MSG_REVISION_LAYER):
            lam.add_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="s3",
                                             Action="lambda:GetLayerVersion", Principal="*",
                                             RevisionId=g2["RevisionId"])
        with expect_error("PreconditionFailedException", 412, MSG_REVISION_LAYER):
            lam.remove_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="s1",
                                                RevisionId=g1["RevisionId"])
        assert lam.get_layer_version_policy(LayerName=name, VersionNumber=1)["RevisionId"] == g3["RevisionId"]

    def test_policy_exceptions(self, lam):
        name = lt.unique("layer4policy")
        p = publish(lam, name, CompatibleRuntimes=["python3.12"], CompatibleArchitectures=["x86_64"])
        missing_name = layer_version_arn(f"{name}-doesnotexist", 1)
        missing_version = layer_version_arn(name, 2)
        with expect_error("ResourceNotFoundException", 404, MSG_NO_POLICY) as e:
            lam.get_layer_version_policy(LayerName=name, VersionNumber=1)
        assert e.response.get("Type") == "User"
        add = dict(Action="lambda:GetLayerVersion", Principal="*")
        a = lam.add_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="s1", **add)
        assert json.loads(a["Statement"]) == _statement("s1", p["LayerVersionArn"])

        with expect_error("ValidationException", 400, validation_message(
                "Value '*' at 'action' failed to satisfy constraint: Member must satisfy regular expression "
                "pattern: lambda:GetLayerVersion")):
            lam.add_layer_version_permission(LayerName=name, VersionNumber=1, StatementId=lt.unique("s"),
                                             Action="*", Principal="*")
        with expect_error("ResourceConflictException", 409,
                          "The statement id (s1) provided already exists. Please provide a new statement id, "
                          "or remove the existing statement.") as e:
            lam.add_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="s1", **add)
        assert e.response.get("Type") == "User"
        with expect_error("PreconditionFailedException", 412, MSG_REVISION_LAYER) as e:
            lam.add_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="s2",
                                             RevisionId="wrong", **add)
        assert e.response.get("Type") == "User"

        for layer, version, arn in ((f"{name}-doesnotexist", 1, missing_name), (name, 2, missing_version)):
            msg = f"Layer version {arn} does not exist."
            with expect_error("ResourceNotFoundException", 404, msg) as e:
                lam.add_layer_version_permission(LayerName=layer, VersionNumber=version,
                                                 StatementId=lt.unique("s"), **add)
            assert e.response.get("Type") == "User"
            with expect_error("ResourceNotFoundException", 404, msg):
                lam.get_layer_version_policy(LayerName=layer, VersionNumber=version)
            with expect_error("ResourceNotFoundException", 404, msg):
                lam.remove_layer_version_permission(LayerName=layer, VersionNumber=version, StatementId="s1")

        with expect_error("ResourceNotFoundException", 404, "Statement doesnotexist is not found in resource policy."):
            lam.remove_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="doesnotexist")
        with expect_error("PreconditionFailedException", 412, MSG_REVISION_LAYER):
            lam.remove_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="s1",
                                                RevisionId="wrong")
        # nothing of the refused calls changed the policy
        pol = json.loads(lam.get_layer_version_policy(LayerName=name, VersionNumber=1)["Policy"])
        assert pol["Statement"] == [_statement("s1", p["LayerVersionArn"])]

    def test_principals_and_organization(self, lam):
        name = lt.unique("layer-princ")
        publish(lam, name)
        lv = publish(lam, name)["LayerVersionArn"]  # version 2
        other = random_account()
        s_acct = lam.add_layer_version_permission(LayerName=name, VersionNumber=2, StatementId="acct",
                                                  Action="lambda:GetLayerVersion", Principal=other)
        assert json.loads(s_acct["Statement"]) == _statement("acct", lv, {"AWS": f"arn:aws:iam::{other}:root"})
        s_root = lam.add_layer_version_permission(LayerName=name, VersionNumber=2, StatementId="root",
                                                  Action="lambda:GetLayerVersion",
                                                  Principal=f"arn:aws:iam::{other}:root")
        assert json.loads(s_root["Statement"]) == _statement("root", lv, {"AWS": f"arn:aws:iam::{other}:root"})
        s_org = lam.add_layer_version_permission(LayerName=name, VersionNumber=2, StatementId="org",
                                                 Action="lambda:GetLayerVersion", Principal="*",
                                                 OrganizationId="o-t194hfs8cz")
        org_cond = {"StringEquals": {"aws:PrincipalOrgID": "o-t194hfs8cz"}}
        assert json.loads(s_org["Statement"]) == _statement("org", lv, "*", org_cond)
        pol = json.loads(lam.get_layer_version_policy(LayerName=name, VersionNumber=2)["Policy"])
        assert [s["Sid"] for s in pol["Statement"]] == ["acct", "root", "org"]
        assert pol["Statement"][2] == _statement("org", lv, "*", org_cond)
        # policies are per version
        with expect_error("ResourceNotFoundException", 404, MSG_NO_POLICY):
            lam.get_layer_version_policy(LayerName=name, VersionNumber=1)
        # the layer ARN works as LayerName too
        g = lam.get_layer_version_policy(LayerName=layer_arn(name), VersionNumber=2)
        assert json.loads(g["Policy"]) == pol
        # a principal outside the model's pattern is refused (AWS's wording not recorded)
        with pytest.raises(lt.ClientError) as e:
            lam.add_layer_version_permission(LayerName=name, VersionNumber=2, StatementId="bad",
                                             Action="lambda:GetLayerVersion", Principal="s3.amazonaws.com")
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert e.value.response["Error"]["Code"] in ("ValidationException", "InvalidParameterValueException")
        assert len(json.loads(lam.get_layer_version_policy(LayerName=name, VersionNumber=2)["Policy"])
                   ["Statement"]) == 3


# ----------------------------------------------------------------------------------------
# Cross-account use
# ----------------------------------------------------------------------------------------

def _denied_prefix(caller: str, lv_arn: str) -> str:
    return (f"User: arn:aws:iam::{caller}:root is not authorized to perform: lambda:GetLayerVersion "
            f"on resource: {lv_arn}")


@contextlib.contextmanager
def _expect_denied(caller: str, lv_arn: str):
    """403 AccessDeniedException whose message starts as AWS's does for an ungranted layer version."""
    with expect_error("AccessDeniedException", 403) as e:
        yield e
    prefix = _denied_prefix(caller, lv_arn)
    assert (e.message or "").startswith(prefix), f"\nexpected message starting: {prefix!r}\n" \
                                                 f"                     got: {e.message!r}"


class TestCrossAccount:
    def test_grant_and_revoke(self, server, fresh_account):
        owner, lam_a = fresh_account
        b, c = random_account(), random_account()
        lam_b, lam_c = server.client(key=b), server.client(key=c)
        name = lt.unique("shared-layer")
        z = dummy_layer()
        p1 = publish(lam_a, name, z, CompatibleRuntimes=["python3.12"])
        p2 = publish(lam_a, name)
        lv1, lv2 = p1["LayerVersionArn"], p2["LayerVersionArn"]
        assert lv1 == layer_version_arn(name, 1, account=owner)

        def b_uses_fail(client, caller, lv):
            with _expect_denied(caller, lv):
                client.get_layer_version(LayerName=layer_arn(name, account=owner),
                                         VersionNumber=int(lv.rsplit(":", 1)[1]))
            with _expect_denied(caller, lv):
                client.get_layer_version_by_arn(Arn=lv)
            fname = lt.unique("xacct-fn")
            with _expect_denied(caller, lv):
                lt.create_function(client, fname, activate=False, Role=role(caller), Layers=[lv])
            with expect_error("ResourceNotFoundException", 404):
                client.get_function(FunctionName=fname)

        # 1. nothing granted
        b_uses_fail(lam_b, b, lv1)
        # 2. grant account b on version 1
        lam_a.add_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="allow-b",
                                           Action="lambda:GetLayerVersion", Principal=b)
        got = lam_b.get_layer_version(LayerName=layer_arn(name, account=owner), VersionNumber=1)
        assert got["LayerVersionArn"] == lv1 and got["Content"]["CodeSha256"] == lt.b64sha256(z)
        assert lam_b.get_layer_version_by_arn(Arn=lv1)["Version"] == 1
        fn_b = lt.unique("xacct-fn")
        created = lt.create_function(lam_b, fn_b, Role=role(b), Layers=[lv1])
        assert created["Layers"] == [{"Arn": lv1, "CodeSize": len(z)}]
        assert lam_b.get_function(FunctionName=fn_b)["Configuration"]["Layers"] == [{"Arn": lv1, "CodeSize": len(z)}]
        # ... only b, and only version 1
        b_uses_fail(lam_c, c, lv1)
        b_uses_fail(lam_b, b, lv2)
        with _expect_denied(b, lv2):
            lam_b.update_function_configuration(FunctionName=fn_b, Layers=[lv2])
        assert name not in [r["LayerName"] for r in all_layers(lam_b)], "a grant does not list the layer"
        # 3. revoke: new uses fail again, the function created meanwhile keeps the layer
        lam_a.remove_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="allow-b")
        b_uses_fail(lam_b, b, lv1)
        conf = lam_b.get_function(FunctionName=fn_b)["Configuration"]
        assert conf["Layers"] == [{"Arn": lv1, "CodeSize": len(z)}]
        # 4. principal "*": every account
        lam_a.add_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="allow-all",
                                           Action="lambda:GetLayerVersion", Principal="*")
        assert lam_c.get_layer_version_by_arn(Arn=lv1)["LayerVersionArn"] == lv1
        fn_c = lt.unique("xacct-fn")
        assert lt.create_function(lam_c, fn_c, Role=role(c), Layers=[lv1])["Layers"][0]["Arn"] == lv1
        assert lam_b.get_layer_version(LayerName=layer_arn(name, account=owner), VersionNumber=1)["Version"] == 1
        lam_a.remove_layer_version_permission(LayerName=name, VersionNumber=1, StatementId="allow-all")
        b_uses_fail(lam_c, c, lv1)
        # the owner itself never needs a grant
        assert lam_a.get_layer_version_by_arn(Arn=lv2)["Version"] == 2


# ----------------------------------------------------------------------------------------
# Functions with layers
# ----------------------------------------------------------------------------------------

class TestFunctionsWithLayers:
    def test_configuration_and_versions_keep_layers(self, fresh_account):
        acct, c = fresh_account
        za, zb = dummy_layer("a"), dummy_layer("bb")
        la = publish(c, lt.unique("la"), za)["LayerVersionArn"]
        lb = publish(c, lt.unique("lb"), zb)["LayerVersionArn"]
        name = lt.unique("fn-layers")
        created = lt.create_function(c, name, Role=role(acct), Layers=[lb, la])
        raw_layers = [{"Arn": lb, "CodeSize": len(zb)}, {"Arn": la, "CodeSize": len(za)}]
        assert created["Layers"] == raw_layers, "in the order given"
        conf = c.get_function_configuration(FunctionName=name)
        raw = raw_json(c)
        assert raw["Layers"] == raw_layers and set(raw) == lt.ACTIVE_KEYS | {"Layers"}
        row = [f for f in c.list_functions()["Functions"] if f["FunctionName"] == name][0]
        assert row["Layers"] == raw_layers
        assert conf["Layers"] == raw_layers

        v1 = c.publish_version(FunctionName=name)
        assert v1["Layers"] == raw_layers
        upd = c.update_function_configuration(FunctionName=name, Layers=[la])
        raw = raw_json(c)
        assert raw["LastUpdateStatus"] == "InProgress" and raw["Layers"] == [{"Arn": la, "CodeSize": len(za)}]
        lt.wait_updated(c, name)
        assert c.get_function(FunctionName=name)["Configuration"]["Layers"] == [{"Arn": la, "CodeSize": len(za)}]
        assert c.get_function(FunctionName=name, Qualifier="1")["Configuration"]["Layers"] == raw_layers
        assert upd["RevisionId"] != conf["RevisionId"]
        v2 = c.publish_version(FunctionName=name)
        assert v2["Version"] == "2" and v2["Layers"] == [{"Arn": la, "CodeSize": len(za)}]
        # Layers=[] removes them all
        c.update_function_configuration(FunctionName=name, Layers=[])
        lt.wait_updated(c, name)
        assert c.get_function_configuration(FunctionName=name).get("Layers", []) == []
        assert c.get_function_configuration(FunctionName=name, Qualifier="1")["Layers"] == raw_layers
        # a function never given layers has no Layers key
        plain = lt.unique("fn-plain")
        lt.create_function(c, plain, Role=role(acct))
        c.get_function_configuration(FunctionName=plain)
        assert "Layers" not in raw_json(c)

    def test_recorded_function_exceptions(self, lam, fn):
        name, _, _ = fn
        layer = lt.unique("testlayer")
        p = [publish(lam, layer, CompatibleRuntimes=[], CompatibleArchitectures=["x86_64"]) for _ in range(3)]
        arns = [x["LayerVersionArn"] for x in p]
        two = ("Two different versions of the same layer are not allowed to be referenced in the same function. "
               "{} and {} are versions of the same layer.")
        with expect_error("InvalidParameterValueException", 400, two.format(arns[0], arns[1])) as e:
            lam.update_function_configuration(FunctionName=name, Layers=arns[:2])
        assert e.response.get("Type") == "User"
        with expect_error("InvalidParameterValueException", 400, two.format(arns[0], arns[1])):
            lam.update_function_configuration(FunctionName=name, Layers=arns)
        with expect_error("InvalidParameterValueException", 400, two.format(arns[0], arns[0])):
            lam.update_function_configuration(FunctionName=name, Layers=[arns[0], arns[0]])
        missing = f"{p[0]['LayerArn'].replace(layer, 'doesnotexist-' + lt.unique('x'))}:1"
        with expect_error("InvalidParameterValueException", 400, f"Layer version {missing} does not exist."):
            lam.update_function_configuration(FunctionName=name, Layers=[missing])
        with expect_error("InvalidParameterValueException", 400,
                          f"Layer version {p[0]['LayerArn']}:9 does not exist."):
            lam.update_function_configuration(FunctionName=name, Layers=[f"{p[0]['LayerArn']}:9"])
        with expect_error("ValidationException", 400, validation_message(
                f"Value '[{p[0]['LayerArn']}]' at 'layers' failed to satisfy constraint: Member must satisfy "
                f"constraint: [Member must have length less than or equal to 2048, Member must have length "
                f"greater than or equal to 1, Member must satisfy regular expression pattern: "
                f"{LAYER_VERSION_ARN_PATTERN}, Member must not be null]")):
            lam.update_function_configuration(FunctionName=name, Layers=[p[0]["LayerArn"]])
        conf = lam.get_function_configuration(FunctionName=name)
        assert "Layers" not in conf, "refused updates change nothing"
        # the same refusals on CreateFunction, which then creates nothing
        new = lt.unique("fn")
        with expect_error("InvalidParameterValueException", 400, f"Layer version {missing} does not exist."):
            lt.create_function(lam, new, activate=False, Layers=[missing])
        with expect_error("InvalidParameterValueException", 400, two.format(arns[1], arns[2])):
            lt.create_function(lam, new, activate=False, Layers=arns[1:])
        with expect_error("ResourceNotFoundException", 404):
            lam.get_function(FunctionName=new)

    def test_too_many_layers(self, lam):
        arns = [publish(lam, lt.unique(f"testlayer-{n + 1}"), CompatibleRuntimes=[],
                        CompatibleArchitectures=["x86_64"])["LayerVersionArn"] for n in range(6)]
        name = lt.unique("fn-layer")
        with expect_error("InvalidParameterValueException", 400, MSG_TOO_MANY) as e:
            lt.create_function(lam, name, activate=False, Layers=arns)
        assert e.response.get("Type") == "User"
        with expect_error("ResourceNotFoundException", 404):
            lam.get_function(FunctionName=name)
        created = lt.create_function(lam, name, Layers=arns[:5])
        assert [x["Arn"] for x in created["Layers"]] == arns[:5], "five is fine"
        with expect_error("InvalidParameterValueException", 400, MSG_TOO_MANY):
            lam.update_function_configuration(FunctionName=name, Layers=arns)
        assert [x["Arn"] for x in lam.get_function_configuration(FunctionName=name)["Layers"]] == arns[:5]

    def test_layer_in_other_region(self, server, lam):
        west = server.client(region="us-west-2")
        layer = lt.unique("testlayer")
        other = publish(west, layer, CompatibleRuntimes=[], CompatibleArchitectures=["x86_64"])
        msg = ("Layers are not in the same region as the function. "
               f"Layers are expected to be in region {REGION}.")
        name = lt.unique("fn-layer")
        with expect_error("InvalidParameterValueException", 400, msg) as e:
            lt.create_function(lam, name, activate=False, Layers=[other["LayerVersionArn"]])
        assert e.response.get("Type") == "User"
        with expect_error("ResourceNotFoundException", 404):
            lam.get_function(FunctionName=name)
        lt.create_function(lam, name)
        with expect_error("InvalidParameterValueException", 400, msg):
            lam.update_function_configuration(FunctionName=name, Layers=[other["LayerVersionArn"]])
        # recorded: AWS checks the layers before noticing that the function already exists
        with expect_error("InvalidParameterValueException", 400, msg):
            lt.create_function(lam, name, activate=False, Layers=[other["LayerVersionArn"]])

    def test_deleted_layer_keeps_working_for_existing_users(self, server, lam):
        layer = lt.unique("layer-del")
        z = lt.build_zip({"python/deleted_layer.py": "DELETED = 'still here'\n"})
        lv = publish(lam, layer, z)["LayerVersionArn"]
        name = lt.unique("fn-del")
        lt.create_function(lam, name, Layers=[lv])
        lam.publish_version(FunctionName=name)
        assert lam.delete_layer_version(LayerName=layer, VersionNumber=1)["ResponseMetadata"]["HTTPStatusCode"] == 204
        with expect_error("ResourceNotFoundException", 404):
            lam.get_layer_version(LayerName=layer, VersionNumber=1)
        expected = [{"Arn": lv, "CodeSize": len(z)}]
        assert lam.get_function(FunctionName=name)["Configuration"]["Layers"] == expected
        assert lam.get_function_configuration(FunctionName=name, Qualifier="1")["Layers"] == expected
        for q in (None, "1"):
            path, layers = opt_path(server, name, q)
            assert layers == [lv]
            assert read(path, "python/deleted_layer.py") == "DELETED = 'still here'\n"
        # a config change that does not touch Layers keeps them
        lam.update_function_configuration(FunctionName=name, Description="after delete")
        lt.wait_updated(lam, name)
        assert lam.get_function_configuration(FunctionName=name)["Layers"] == expected
        # new references fail
        with expect_error("InvalidParameterValueException", 400, f"Layer version {lv} does not exist."):
            lt.create_function(lam, lt.unique("fn-del2"), activate=False, Layers=[lv])

    @pytest.mark.timeout_s(120)
    def test_unzipped_size_of_code_plus_layers(self, fresh_account):
        acct, c = fresh_account
        code = lt.zeros_zip({"big200.bin": 200 * MiB}, extra_files={"handler.py": "def handler(e, c):\n    return 1\n"})
        layer60 = lt.zeros_zip({"python/big60.bin": 60 * MiB})
        layer40 = lt.zeros_zip({"python/big40.bin": 40 * MiB})
        total = lt.unzipped_size(code) + lt.unzipped_size(layer60)
        assert lt.unzipped_size(code) < LIMIT_UNZIPPED < total
        lv60 = publish(c, lt.unique("big60"), layer60)["LayerVersionArn"]
        lv40 = publish(c, lt.unique("big40"), layer40)["LayerVersionArn"]
        # AWS's message for the combined case is not recorded: accept the recorded size message or the
        # one real AWS is widely reported to give
        combined = (f"Function code combined with layers exceeds the maximum allowed size of 262144000 bytes. "
                    f"The actual size is {total} bytes.")

        def check(e):
            assert e.message in (MSG_UNZIPPED, combined), e.message

        name = lt.unique("fn-big")
        with expect_error("InvalidParameterValueException", 400) as e:
            lt.create_function(c, name, zip_bytes=code, activate=False, Role=role(acct), Layers=[lv60])
        check(e)
        with expect_error("ResourceNotFoundException", 404):
            c.get_function(FunctionName=name)
        # the code alone fits, and so do code + 40 MB
        lt.create_function(c, name, zip_bytes=code, Role=role(acct))
        with expect_error("InvalidParameterValueException", 400) as e:
            c.update_function_configuration(FunctionName=name, Layers=[lv60])
        check(e)
        assert "Layers" not in c.get_function_configuration(FunctionName=name)
        c.update_function_configuration(FunctionName=name, Layers=[lv40])
        lt.wait_updated(c, name)
        assert c.get_function_configuration(FunctionName=name)["Layers"][0]["Arn"] == lv40
        with expect_error("InvalidParameterValueException", 400):
            c.update_function_configuration(FunctionName=name, Layers=[lv40, lv60])

    def test_account_usage_counts_layers(self, fresh_account):
        acct, c = fresh_account
        assert c.get_account_settings()["AccountUsage"] == {"FunctionCount": 0, "TotalCodeSize": 0}
        name = lt.unique("layer-usage")
        z = dummy_layer("usage" * 20)
        lv1 = publish(c, name, z)["LayerVersionArn"]
        assert c.get_account_settings()["AccountUsage"] == {"FunctionCount": 0, "TotalCodeSize": len(z)}
        publish(c, name, z)
        assert c.get_account_settings()["AccountUsage"] == {"FunctionCount": 0, "TotalCodeSize": 2 * len(z)}, \
            "every layer version counts, even with the same content (recorded)"
        code = lt.handler_zip()
        lt.create_function(c, lt.unique("fn"), zip_bytes=code, Role=role(acct), Layers=[lv1])
        assert c.get_account_settings()["AccountUsage"] == {"FunctionCount": 1,
                                                            "TotalCodeSize": 2 * len(z) + len(code)}
        c.delete_layer_version(LayerName=name, VersionNumber=2)
        assert c.get_account_settings()["AccountUsage"]["TotalCodeSize"] == len(z) + len(code)


# ----------------------------------------------------------------------------------------
# The /opt tree (lamina extension GET /_lamina/opt/{FunctionName}?Qualifier=)
# ----------------------------------------------------------------------------------------

L1_FILES = {
    "python/common.py": "SOURCE = 'layer1'\n",
    "python/only1.py": "X = 1\n",
    "bin/tool": ("#!/bin/sh\necho layer1-tool\n", 0o755),
    "shared/config.txt": "one\n",
    "lib/deep/nested/file1.txt": "deep1\n",
}
L1_LINKS = {"python/link1.py": "only1.py", "bin/tool-link": "tool"}
L2_FILES = {
    "python/common.py": "SOURCE = 'layer2'\n",
    "python/only2.py": "X = 2\n",
    "shared/config.txt": "two\n",
    "lib/deep/nested/file2.txt": "deep2\n",
}


@pytest.fixture(scope="module")
def two_layers(lam):
    z1 = lt.build_zip(L1_FILES, symlinks=L1_LINKS, dirs=["python/", "bin/"])
    z2 = lt.build_zip(L2_FILES)
    l1 = publish(lam, lt.unique("opt-l1"), z1)["LayerVersionArn"]
    l2 = publish(lam, lt.unique("opt-l2"), z2)["LayerVersionArn"]
    return l1, l2


class TestOptTree:
    def test_order_override_modes_symlinks(self, server, lam, two_layers):
        l1, l2 = two_layers
        name = lt.unique("fn-opt")
        lt.create_function(lam, name, Layers=[l1, l2])
        path, layers = opt_path(server, name)
        assert layers == [l1, l2]
        # later layer wins on the same path, everything else from both
        assert read(path, "python/common.py") == "SOURCE = 'layer2'\n"
        assert read(path, "shared/config.txt") == "two\n"
        assert read(path, "python/only1.py") == "X = 1\n"
        assert read(path, "python/only2.py") == "X = 2\n"
        assert read(path, "lib/deep/nested/file1.txt") == "deep1\n"
        assert read(path, "lib/deep/nested/file2.txt") == "deep2\n"
        # modes
        tool = os.path.join(path, "bin/tool")
        assert read(path, "bin/tool") == "#!/bin/sh\necho layer1-tool\n"
        assert os.access(tool, os.X_OK), "bin/tool (0755 in the zip) must stay executable"
        assert os.stat(tool).st_mode & 0o111, "bin/tool has no execute bit"
        assert not os.stat(os.path.join(path, "python/only1.py")).st_mode & 0o111, "0644 files are not executable"
        # symlinks inside the layer are kept as symlinks
        link = os.path.join(path, "python/link1.py")
        assert os.path.islink(link) and os.readlink(link) == "only1.py"
        assert read(path, "python/link1.py") == "X = 1\n"
        tool_link = os.path.join(path, "bin/tool-link")
        assert os.path.islink(tool_link) and os.readlink(tool_link) == "tool"
        assert os.access(tool_link, os.X_OK)
        assert sorted(os.listdir(path)) == ["bin", "lib", "python", "shared"]
        assert sorted(os.listdir(os.path.join(path, "python"))) == ["common.py", "link1.py", "only1.py", "only2.py"]

        # the other order
        rev = lt.unique("fn-opt-rev")
        lt.create_function(lam, rev, Layers=[l2, l1])
        rpath, rlayers = opt_path(server, rev)
        assert rlayers == [l2, l1]
        assert read(rpath, "python/common.py") == "SOURCE = 'layer1'\n"
        assert read(rpath, "shared/config.txt") == "one\n"
        assert read(rpath, "python/only2.py") == "X = 2\n"
        assert os.path.realpath(rpath) != os.path.realpath(path)

        # extracted once and shared: no full copy per function (skip the check for a mount point,
        # whose files have their own identity)
        if not os.path.ismount(path) and not os.path.ismount(rpath):
            assert os.path.samefile(os.path.join(path, "python/only1.py"), os.path.join(rpath, "python/only1.py")), \
                "layer files should be shared between functions, not copied"

    def test_qualifiers_and_aliases(self, server, lam, two_layers):
        l1, l2 = two_layers
        name = lt.unique("fn-optq")
        lt.create_function(lam, name, Layers=[l1, l2])
        lam.publish_version(FunctionName=name)
        lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
        lam.update_function_configuration(FunctionName=name, Layers=[l2])
        lt.wait_updated(lam, name)
        for q in (None, "$LATEST"):
            path, layers = opt_path(server, name, q)
            assert layers == [l2], q
            assert read(path, "python/common.py") == "SOURCE = 'layer2'\n"
            assert not os.path.lexists(os.path.join(path, "python/only1.py")), "layer 1 is gone from $LATEST"
            assert not os.path.lexists(os.path.join(path, "bin"))
        for q in ("1", "live"):
            path, layers = opt_path(server, name, q)
            assert layers == [l1, l2], q
            assert read(path, "python/only1.py") == "X = 1\n"
            assert os.access(os.path.join(path, "bin/tool"), os.X_OK)
        status, _, doc = lt.opt_tree(server.url, name, "99")
        assert status == 404, doc

    def test_function_without_layers_gets_empty_dir(self, server, lam):
        name = lt.unique("fn-nolayers")
        lt.create_function(lam, name)
        path, layers = opt_path(server, name)
        assert layers == []
        assert os.listdir(path) == []

    def test_unknown_function_is_404(self, server):
        name = lt.unique("fn-missing")
        status, headers, doc = lt.opt_tree(server.url, name)
        assert status == 404
        assert headers.get("x-amzn-errortype", "").startswith("ResourceNotFoundException"), headers
        assert doc.get("Message") == f"Function not found: {fn_arn(name)}", doc
        assert doc.get("Type") == "User"

    def test_zip64_layer_extracts(self, server, lam):
        z = lt.zeros_zip({"python/zeros.bin": 3 * MiB}, extra_files={"python/marker.py": "M = 1\n"},
                         force_zip64=True)
        lv = publish(lam, lt.unique("zip64"), z)["LayerVersionArn"]
        name = lt.unique("fn-zip64")
        lt.create_function(lam, name, Layers=[lv])
        path, _ = opt_path(server, name)
        assert read(path, "python/marker.py") == "M = 1\n"
        assert os.path.getsize(os.path.join(path, "python/zeros.bin")) == 3 * MiB


# ----------------------------------------------------------------------------------------
# Restart
# ----------------------------------------------------------------------------------------

def _layer_state(lam, names):
    out = {}
    for n in names:
        out[n] = [no_location(v) for v in lam.list_layer_versions(LayerName=n)["LayerVersions"]]
        for v in out[n]:
            out[(n, v["Version"])] = no_location(lam.get_layer_version(LayerName=n, VersionNumber=v["Version"]))
    out["layers"] = sorted((r["LayerName"], r["LatestMatchingVersion"]["Version"]) for r in all_layers(lam))
    return out


@pytest.mark.timeout_s(120)
def test_restart_keeps_layers_and_rebuilds_the_cache(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    other = random_account()
    srv = lt.LaminaServer(data_dir=data, log_path=tmp_path / "server1.log").start()
    try:
        lam = srv.client()
        n1, n2 = lt.unique("rl1"), lt.unique("rl2")
        z1 = lt.build_zip(L1_FILES, symlinks=L1_LINKS)
        z2 = lt.build_zip(L2_FILES)
        l1 = publish(lam, n1, z1, Description="first", CompatibleRuntimes=["python3.12"])["LayerVersionArn"]
        publish(lam, n1, dummy_layer())
        lam.delete_layer_version(LayerName=n1, VersionNumber=2)
        l2 = publish(lam, n2, z2, LicenseInfo="MIT")["LayerVersionArn"]
        lam.add_layer_version_permission(LayerName=n2, VersionNumber=1, StatementId="share",
                                         Action="lambda:GetLayerVersion", Principal=other)
        fname, plain = lt.unique("rfn"), lt.unique("rfn-plain")
        lt.create_function(lam, fname, Layers=[l1, l2])
        lam.publish_version(FunctionName=fname)
        lt.create_function(lam, plain)
        state = _layer_state(lam, [n1, n2])
        policy = lam.get_layer_version_policy(LayerName=n2, VersionNumber=1)
        policy.pop("ResponseMetadata")
        path, _ = opt_path(srv, fname)
        tree = lt.dir_snapshot(path)
        assert tree["python/common.py"][1] == b"SOURCE = 'layer2'\n"
        usage = lam.get_account_settings()["AccountUsage"]
    finally:
        code = srv.stop()
    assert code in (0, -15, 143), f"SIGTERM shutdown exit code {code}"

    def check_everything(server):
        lam = server.client()
        assert _layer_state(lam, [n1, n2]) == state
        p = lam.get_layer_version_policy(LayerName=n2, VersionNumber=1)
        p.pop("ResponseMetadata")
        assert p == policy
        assert server.client(key=other).get_layer_version_by_arn(Arn=l2)["LayerVersionArn"] == l2, \
            "the grant survives a restart"
        for n, z in ((n1, z1), (n2, z2)):
            loc = lam.get_layer_version(LayerName=n, VersionNumber=1)["Content"]["Location"]
            status, _, body = lt.http_get(loc)
            assert status == 200 and body == z
        assert lam.get_account_settings()["AccountUsage"] == usage
        for q in (None, "1"):
            p2, layers = opt_path(server, fname, q)
            assert layers == [l1, l2]
            assert lt.dir_snapshot(p2) == tree, f"/opt of {fname}:{q} after restart"
            assert os.access(os.path.join(p2, "bin/tool"), os.X_OK)
        empty, layers = opt_path(server, plain)
        assert layers == [] and os.listdir(empty) == []

    srv2 = lt.LaminaServer(data_dir=data, log_path=tmp_path / "server2.log").start()
    try:
        check_everything(srv2)
    finally:
        srv2.stop()

    # the extraction cache is gone while stopped: /opt is rebuilt from the blobs
    cache = data / "extracted"
    assert cache.is_dir(), f"expected the extraction cache at {cache}"
    shutil.rmtree(cache)
    srv3 = lt.LaminaServer(data_dir=data, log_path=tmp_path / "server3.log").start()
    try:
        check_everything(srv3)
        lam = srv3.client()
        assert publish(lam, n1)["Version"] == 3, "numbering continues after a restart, deleted 2 not reused"
        fresh = lt.unique("rfn-new")
        lt.create_function(lam, fresh, Layers=[l2, l1])
        p3, _ = opt_path(srv3, fresh)
        assert read(p3, "python/common.py") == "SOURCE = 'layer1'\n"
        assert cache.is_dir(), "the extraction cache is rebuilt"
    finally:
        srv3.stop()
