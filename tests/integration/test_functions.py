"""Function CRUD, defaults, identifiers and validation, against AWS's recorded answers."""

from __future__ import annotations

import json
import os
import zipfile
import io

import pytest

import lamina_testlib as lt
from lamina_testlib import (ACCOUNT, REGION, ROLE_ARN, RUNTIME, HANDLER, expect_error, fn_arn,
                            raw_json, validation_message, pattern_error, length_error)

ROLE_PATTERN = r"arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+"
RUNTIME_ENUM = (
    "[nodejs20.x, python3.14, provided.al2023, python3.12, python3.13, nodejs24.x, nodejs22.x, "
    "java25, python3.10, python3.11, java21, ruby3.3, ruby3.4, ruby3.2, python3.8, python3.9, "
    "java17, nodejs16.x, dotnet10, dotnet8, java11, dotnet6, nodejs18.x, provided.al2, java8.al2]"
)
MSG_NOT_A_ZIP = "Could not unzip uploaded file. Please check your file, then try to upload again."
ENV_4KB_PREFIX = (
    "Lambda was unable to configure your environment variables because the environment variables "
    "you have provided exceeded the 4KB limit. String measured: "
)


def _check_defaults(raw: dict, name: str, zip_bytes: bytes):
    assert raw["FunctionName"] == name
    assert raw["Runtime"] == RUNTIME
    assert raw["Role"] == ROLE_ARN
    assert raw["Handler"] == HANDLER
    assert raw["Description"] == ""
    assert raw["Timeout"] == 3
    assert raw["MemorySize"] == 128
    assert raw["PackageType"] == "Zip"
    assert raw["Architectures"] == ["x86_64"]
    assert raw["EphemeralStorage"] == {"Size": 512}
    assert raw["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}"}
    assert raw["SnapStart"] == {"ApplyOn": "None", "OptimizationStatus": "Off"}
    assert raw["TracingConfig"] == {"Mode": "PassThrough"}
    assert raw["CodeSha256"] == lt.b64sha256(zip_bytes)
    assert raw["CodeSize"] == len(zip_bytes)
    assert lt.LAST_MODIFIED_RE.match(raw["LastModified"]), raw["LastModified"]
    assert lt.UUID_RE.match(raw["RevisionId"]), raw["RevisionId"]
    assert "Environment" not in raw, "Environment must be omitted when never given"


class TestCreateGet:
    def test_create_response_is_aws_shaped(self, lam):
        name = lt.unique()
        z = lt.handler_zip()
        resp = lam.create_function(FunctionName=name, Runtime=RUNTIME, Role=ROLE_ARN, Handler=HANDLER,
                                   Code={"ZipFile": z})
        assert resp["ResponseMetadata"]["HTTPStatusCode"] == 201
        raw = raw_json(lam)
        assert set(raw) == lt.CREATE_KEYS
        _check_defaults(raw, name, z)
        assert raw["FunctionArn"] == fn_arn(name)
        assert raw["Version"] == "$LATEST"
        assert raw["State"] == "Pending"
        assert raw["StateReason"] == "The function is being created."
        assert raw["StateReasonCode"] == "Creating"
        assert lt.RUNTIME_VERSION_ARN_RE.match(raw["RuntimeVersionConfig"]["RuntimeVersionArn"])

    def test_get_function_after_create_is_active(self, lam):
        name = lt.unique()
        z = lt.handler_zip()
        created = lam.create_function(FunctionName=name, Runtime=RUNTIME, Role=ROLE_ARN, Handler=HANDLER,
                                      Code={"ZipFile": z})
        got = lam.get_function(FunctionName=name)
        raw = raw_json(lam)
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert set(raw) == {"Configuration", "Code"}, "Tags/Concurrency only when set"
        conf = raw["Configuration"]
        assert set(conf) == lt.ACTIVE_KEYS
        _check_defaults(conf, name, z)
        assert conf["State"] == "Active"
        assert conf["LastUpdateStatus"] == "Successful"
        assert conf["FunctionArn"] == fn_arn(name)
        assert conf["Version"] == "$LATEST"
        assert conf["RevisionId"] != created["RevisionId"], "Pending->Active must change RevisionId"
        assert raw["Code"]["RepositoryType"] == "S3"
        assert raw["Code"]["Location"].startswith("http://")
        # stable on further reads
        again = lam.get_function_configuration(FunctionName=name)
        assert raw_json(lam) == conf
        assert again["RevisionId"] == conf["RevisionId"]

    def test_code_location_downloads_the_zip(self, lam):
        name = lt.unique()
        z1 = lt.handler_zip("one")
        lt.create_function(lam, name, zip_bytes=z1)
        loc = lam.get_function(FunctionName=name)["Code"]["Location"]
        status, _, body = lt.http_get(loc)
        assert status == 200
        assert body == z1
        z2 = lt.handler_zip("two")
        lam.update_function_code(FunctionName=name, ZipFile=z2)
        got = lam.get_function(FunctionName=name)
        assert got["Configuration"]["CodeSha256"] == lt.b64sha256(z2) != lt.b64sha256(z1)
        assert got["Configuration"]["CodeSize"] == len(z2)
        status, _, body = lt.http_get(got["Code"]["Location"])
        assert status == 200 and body == z2

    def test_environment_only_when_given(self, lam):
        name = lt.unique()
        lam.create_function(FunctionName=name, Runtime=RUNTIME, Role=ROLE_ARN, Handler=HANDLER,
                            Code={"ZipFile": lt.handler_zip()}, Environment={"Variables": {"KEY_A": "1", "KEY_B": "two"}})
        assert raw_json(lam)["Environment"] == {"Variables": {"KEY_A": "1", "KEY_B": "two"}}
        assert lam.get_function_configuration(FunctionName=name)["Environment"] == {"Variables": {"KEY_A": "1", "KEY_B": "two"}}
        name2 = lt.unique()
        lam.create_function(FunctionName=name2, Runtime=RUNTIME, Role=ROLE_ARN, Handler=HANDLER,
                            Code={"ZipFile": lt.handler_zip()}, Environment={"Variables": {}})
        assert raw_json(lam)["Environment"] == {"Variables": {}}

    def test_create_with_settings(self, lam):
        name = lt.unique()
        resp = lam.create_function(FunctionName=name, Runtime="nodejs22.x", Role=ROLE_ARN, Handler="index.handler",
                                   Code={"ZipFile": lt.make_zip({"index.js": "exports.handler=async()=>1"})},
                                   MemorySize=256, Timeout=5, Description="my function",
                                   Architectures=["arm64"], EphemeralStorage={"Size": 1024})
        for r in (resp, lam.get_function_configuration(FunctionName=name)):
            assert r["MemorySize"] == 256
            assert r["Timeout"] == 5
            assert r["Description"] == "my function"
            assert r["Architectures"] == ["arm64"]
            assert r["EphemeralStorage"] == {"Size": 1024}
            assert r["Runtime"] == "nodejs22.x"
            assert r["Handler"] == "index.handler"

    def test_create_with_publish(self, lam):
        name = lt.unique()
        resp = lam.create_function(FunctionName=name, Runtime=RUNTIME, Role=ROLE_ARN, Handler=HANDLER,
                                   Code={"ZipFile": lt.handler_zip()}, Publish=True)
        raw = raw_json(lam)
        assert raw["Version"] == "1"
        assert raw["FunctionArn"] == fn_arn(name), "Publish=true on create answers the unqualified ARN"
        assert raw["State"] == "Pending"
        latest = lam.get_function(FunctionName=name)["Configuration"]
        assert latest["Version"] == "$LATEST" and latest["State"] == "Active"
        v1 = lam.get_function(FunctionName=name, Qualifier="1")["Configuration"]
        assert v1["FunctionArn"] == fn_arn(name, "1")
        assert v1["Version"] == "1"
        assert v1["State"] == "Active"
        assert v1["LastUpdateStatus"] == "Successful"
        assert v1["CodeSha256"] == resp["CodeSha256"]
        versions = lam.list_versions_by_function(FunctionName=name)["Versions"]
        assert [v["Version"] for v in versions] == ["$LATEST", "1"]

    def test_duplicate_create_conflicts(self, lam, fn):
        name, _, _ = fn
        with expect_error("ResourceConflictException", 409, f"Function already exist: {name}") as e:
            lt.create_function(lam, name, activate=False)
        assert e.response.get("Type") == "User"

    def test_function_name_forms(self, lam):
        # create by full ARN and by partial ARN (recorded: FunctionName in the answer is the bare name)
        n1, n2 = lt.unique(), lt.unique()
        r1 = lt.create_function(lam, fn_arn(n1))
        assert r1["FunctionName"] == n1 and r1["FunctionArn"] == fn_arn(n1)
        r2 = lt.create_function(lam, f"{ACCOUNT}:function:{n2}")
        assert r2["FunctionName"] == n2 and r2["FunctionArn"] == fn_arn(n2)
        # read by every accepted form
        for form in (n1, fn_arn(n1), f"{ACCOUNT}:function:{n1}"):
            conf = lam.get_function(FunctionName=form)["Configuration"]
            assert conf["FunctionArn"] == fn_arn(n1), form
            assert conf["Version"] == "$LATEST"
        for form in (f"{n1}:$LATEST", fn_arn(n1, "$LATEST")):
            conf = lam.get_function_configuration(FunctionName=form)
            assert conf["FunctionArn"] == fn_arn(n1, "$LATEST"), form
        conf = lam.get_function(FunctionName=n1, Qualifier="$LATEST")["Configuration"]
        assert conf["FunctionArn"] == fn_arn(n1, "$LATEST")
        assert conf["Version"] == "$LATEST"
        lam.delete_function(FunctionName=fn_arn(n2))
        with expect_error("ResourceNotFoundException", 404, f"Function not found: {fn_arn(n2)}"):
            lam.get_function(FunctionName=n2)

    def test_delete_function(self, lam, fn):
        name, _, _ = fn
        resp = lam.delete_function(FunctionName=name)
        assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204
        with expect_error("ResourceNotFoundException", 404, f"Function not found: {fn_arn(name)}") as e:
            lam.delete_function(FunctionName=name)
        assert e.response.get("Type") == "User"
        with expect_error("ResourceNotFoundException", 404, f"Function not found: {fn_arn(name)}"):
            lam.get_function_configuration(FunctionName=name)


class TestNotFound:
    def test_ops_on_nonexisting_function(self, lam):
        name = lt.unique("i-dont-exist")
        msg = f"Function not found: {fn_arn(name)}"
        for op in ("get_function", "get_function_configuration", "delete_function",
                   "get_function_code_signing_config"):
            with expect_error("ResourceNotFoundException", 404, msg):
                getattr(lam, op)(FunctionName=name)
        with expect_error("ResourceNotFoundException", 404,
                          f"The function {fn_arn(name, '$LATEST')} doesn't have an EventInvokeConfig"):
            lam.get_function_event_invoke_config(FunctionName=name)

    def test_ops_on_nonexisting_version(self, lam, fn):
        name, _, _ = fn
        for op in ("get_function", "get_function_configuration"):
            with expect_error("ResourceNotFoundException", 404, f"Function not found: {fn_arn(name, '1221')}"):
                getattr(lam, op)(FunctionName=name, Qualifier="1221")
        with expect_error("ResourceNotFoundException", 404,
                          f"The function {fn_arn(name, '1221')} doesn't have an EventInvokeConfig"):
            lam.get_function_event_invoke_config(FunctionName=name, Qualifier="1221")
        with expect_error("ResourceNotFoundException", 404,
                          f"Function not found: {fn_arn(name, 'aliasdoesnotexist')}"):
            lam.get_function(FunctionName=name, Qualifier="aliasdoesnotexist")

    def test_delete_nonexisting_version(self, lam, fn):
        name, _, _ = fn
        # deleting an absent version of an existing function is idempotent (204)
        assert lam.delete_function(FunctionName=name, Qualifier="1233")["ResponseMetadata"]["HTTPStatusCode"] == 204
        assert lam.delete_function(FunctionName=name, Qualifier="1233")["ResponseMetadata"]["HTTPStatusCode"] == 204
        lam.delete_function(FunctionName=name)
        with expect_error("ResourceNotFoundException", 404, f"Function not found: {fn_arn(name)}"):
            lam.delete_function(FunctionName=name)
        with expect_error("ResourceNotFoundException", 404, f"Function not found: {fn_arn(name)}"):
            lam.delete_function(FunctionName=name, Qualifier="1233")

    @pytest.mark.parametrize("op", ["delete_function", "get_function", "get_function_configuration"])
    def test_arn_qualifier_mismatch(self, lam, op):
        method = getattr(lam, op)
        with expect_error("InvalidParameterValueException", 400, lt.MSG_QUALIFIER_MISMATCH):
            method(FunctionName=fn_arn("some-function", "1"), Qualifier="$LATEST")
        if op == "delete_function":
            with expect_error("InvalidParameterValueException", 400,
                              "$LATEST version cannot be deleted without deleting the function."):
                method(FunctionName=fn_arn("some-function", "$LATEST"), Qualifier="$LATEST")
        else:
            with expect_error("ResourceNotFoundException", 404,
                              f"Function not found: {fn_arn('some-function', '$LATEST')}"):
                method(FunctionName=fn_arn("some-function", "$LATEST"), Qualifier="$LATEST")


# ----------------------------------------------------------------------------------------
# test_function_name_and_qualifier_validation (recorded for get_function, delete_function,
# create_function).  Expectations: ("VE", [errors]) ValidationException; ("IPVE_VE", [errors])
# InvalidParameterValueException with a validation-style message; ("IPVE", msg); ("RNF", msg).
# ----------------------------------------------------------------------------------------
A65, A129, A170 = "a" * 65, "a" * 129, "a" * 170
_BAD_REGION_ARN = f"arn:aws:lambda:invalid-region:{ACCOUNT}:function:my-function"


def _pat_read(v):
    return ("VE", [pattern_error(v, "functionName", lt.READ_FN_PATTERN)])


def _pat_create(v):
    return ("VE", [pattern_error(v, "functionName", lt.CREATE_FN_PATTERN)])


def _both(v):
    return {"get": _pat_read(v), "delete": _pat_read(v), "create": (v, _pat_create(v))}


_long_region_name = _BAD_REGION_ARN + A170
_long_full = f"arn:aws:lambda:invalid-region:{ACCOUNT}:function:my-function-" + A170

NAME_CASES = {
    "function_name_is_single_invalid": ("*", None, _both("*")),
    "invalid_characters_in_function_name": ("my-function!", None, _both("my-function!")),
    "invalid_characters_in_qualifier": ("my-function", "invalid!", {
        "get": ("VE", [pattern_error("invalid!", "qualifier", lt.QUALIFIER_PATTERN)]),
        "delete": ("VE", [pattern_error("invalid!", "qualifier", lt.QUALIFIER_PATTERN)]),
        "create": ("my-function:invalid!", _pat_create("my-function:invalid!")),
    }),
    "qualifier_too_long": ("my-function", A129, {
        "get": ("VE", [length_error(A129, "qualifier", 128)]),
        "delete": ("VE", [length_error(A129, "qualifier", 128)]),
        "create": ("my-function:" + A129, ("VE", [length_error("my-function:" + A129, "functionName", 140)])),
    }),
    "invalid_account_id_in_partial_arn": ("invalid-account:function:my-function", None,
                                          _both("invalid-account:function:my-function")),
    "invalid_region_in_arn": (_BAD_REGION_ARN, None, _both(_BAD_REGION_ARN)),
    "non_lambda_arn": (f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance:i-1234567890abcdef0", None,
                       _both(f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance:i-1234567890abcdef0")),
    "function_name_too_long": (A65, None, {
        "get": ("RNF", f"Function not found: {fn_arn(A65)}"),
        "delete": ("RNF", f"Function not found: {fn_arn(A65)}"),
        "create": (A65, ("IPVE_VE", [length_error(A65, "functionName", 64)])),
    }),
    "function_name_too_long_and_invalid_region": (_long_region_name, None, {
        "get": _pat_read(_long_region_name),
        "delete": _pat_read(_long_region_name),
        "create": (_long_region_name, ("VE", [length_error(_long_region_name, "functionName", 140),
                                              pattern_error(_long_region_name, "functionName",
                                                            lt.CREATE_FN_PATTERN)])),
    }),
    "full_arn_and_qualifier_too_long_and_invalid_region": (_long_full, A129, {
        "get": ("VE", [length_error(A129, "qualifier", 128),
                       pattern_error(_long_full, "functionName", lt.READ_FN_PATTERN)]),
        "delete": ("VE", [length_error(A129, "qualifier", 128),
                          pattern_error(_long_full, "functionName", lt.READ_FN_PATTERN)]),
        "create": (_long_full + ":" + A129, ("VE", [
            length_error(_long_full + ":" + A129, "functionName", 140),
            pattern_error(_long_full + ":" + A129, "functionName", lt.CREATE_FN_PATTERN)])),
    }),
    "qualifier_too_long1": ("my-function", A65, {
        "get": ("RNF", f"Function not found: {fn_arn('my-function', A65)}"),
        "delete": ("IPVE", "Deletion of aliases is not currently supported."),
    }),
    "function_name_and_qualifier_too_long": ("my-function:" + A65, None, {
        "get": ("RNF", f"Function not found: {fn_arn('my-function', A65)}"),
        "delete": ("IPVE", "Deletion of aliases is not currently supported."),
    }),
    "full_arn_with_multiple_qualifiers": (fn_arn("my-function") + ":1:2", None, _both(fn_arn("my-function") + ":1:2")),
    "incomplete_arn": (f"arn:aws:lambda:{REGION}:{ACCOUNT}:function", None, {
        "get": ("RNF", f"Function not found: {fn_arn('function')}"),
        "delete": ("RNF", f"Function not found: {fn_arn('function')}"),
    }),
    "partial_arn_with_extra_qualifier": ("function:my-function:$LATEST:extra", None,
                                         _both("function:my-function:$LATEST:extra")),
    "latest_version_with_additional_qualifier": (fn_arn("my-function", "$LATEST"), "1", {
        "get": ("IPVE", lt.MSG_QUALIFIER_MISMATCH),
        "delete": ("IPVE", lt.MSG_QUALIFIER_MISMATCH),
        "create": (fn_arn("my-function", "$LATEST") + ":1", _pat_create(fn_arn("my-function", "$LATEST") + ":1")),
    }),
    "lowercase_latest_qualifier": (fn_arn("my-function"), "$latest", {
        "get": ("RNF", f"Function not found: {fn_arn('my-function', '$latest')}"),
        "delete": ("RNF", f"Function not found: {fn_arn('my-function')}"),
        "create": (fn_arn("my-function", "$latest"), _pat_create(fn_arn("my-function", "$latest"))),
    }),
    "missing_region_in_arn": (f"arn:aws:lambda::{ACCOUNT}:function:my-function", None,
                              _both(f"arn:aws:lambda::{ACCOUNT}:function:my-function")),
    "missing_account_id_in_arn": (f"arn:aws:lambda:{REGION}::function:my-function", None,
                                  _both(f"arn:aws:lambda:{REGION}::function:my-function")),
    "misspelled_latest_in_arn": (fn_arn("my-function", "$LATES"), None, _both(fn_arn("my-function", "$LATES"))),
}

_MATRIX = []
for _case, (_fname, _qual, _exp) in NAME_CASES.items():
    for _op in ("get", "delete", "create"):
        if _op in _exp:
            _MATRIX.append(pytest.param(_case, _op, id=f"{_case}-{_op}"))


def _assert_expectation(call, expectation):
    kind, detail = expectation
    if kind == "VE":
        with expect_error("ValidationException", 400, validation_message(*detail)):
            call()
    elif kind == "IPVE_VE":
        with expect_error("InvalidParameterValueException", 400, validation_message(*detail)):
            call()
    elif kind == "IPVE":
        with expect_error("InvalidParameterValueException", 400, detail):
            call()
    elif kind == "RNF":
        with expect_error("ResourceNotFoundException", 404, detail):
            call()
    else:  # pragma: no cover
        raise AssertionError(kind)


@pytest.mark.parametrize("case,op", _MATRIX)
def test_function_name_and_qualifier_validation(lam, case, op):
    fname, qual, exp = NAME_CASES[case]
    if op == "create":
        value, expectation = exp["create"]
        _assert_expectation(lambda: lam.create_function(
            FunctionName=value, Runtime=RUNTIME, Role=ROLE_ARN, Handler=HANDLER,
            Code={"ZipFile": lt.handler_zip()}), expectation)
        return
    kwargs = {"FunctionName": fname}
    if qual is not None:
        kwargs["Qualifier"] = qual
    method = lam.get_function if op == "get" else lam.delete_function
    _assert_expectation(lambda: method(**kwargs), exp[op])


def test_create_name_validation_extra(lam):
    with expect_error("ValidationException", 400, validation_message(
            pattern_error("invalid:function:name", "functionName", lt.CREATE_FN_PATTERN))):
        lt.create_function(lam, "invalid:function:name", activate=False)
    long_arn = fn_arn("a" * (140 - len(fn_arn("")) + 1))
    with expect_error("ValidationException", 400,
                      validation_message(length_error(long_arn, "functionName", 140))):
        lt.create_function(lam, long_arn, activate=False)


# ----------------------------------------------------------------------------------------
# Regions and accounts
# ----------------------------------------------------------------------------------------

class TestRegionsAccounts:
    @pytest.mark.parametrize("op", ["get_function", "get_function_configuration", "delete_function",
                                    "get_function_code_signing_config", "get_function_event_invoke_config"])
    def test_function_arn_from_other_region(self, lam, fn, op):
        name, _, _ = fn
        with expect_error("ResourceNotFoundException", 404,
                          "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')"):
            getattr(lam, op)(FunctionName=fn_arn(name, region="eu-west-1"))
        # and the function is still there
        lam.get_function(FunctionName=name)

    def test_create_with_other_region_arn(self, lam):
        with expect_error("ResourceNotFoundException", 404,
                          "Functions from 'ap-southeast-1' are not reachable in this region ('us-east-1')"):
            lt.create_function(lam, fn_arn(lt.unique(), region="ap-southeast-1"), activate=False)

    def test_other_account_arn_is_denied(self, lam, fn):
        name, _, _ = fn
        with expect_error("AccessDeniedException", 403):
            lam.get_function(FunctionName=fn_arn(name, account="111111111111"))
        with expect_error("AccessDeniedException", 403):
            lt.create_function(lam, fn_arn(lt.unique(), account="111111111111"), activate=False)

    def test_regions_are_separate(self, server, lam):
        eu = server.client("lambda", region="eu-west-1")
        name = lt.unique()
        resp = lt.create_function(eu, name)
        assert resp["FunctionArn"] == fn_arn(name, region="eu-west-1")
        eu.get_function(FunctionName=name)
        conf = raw_json(eu)["Configuration"]
        assert conf["FunctionArn"] == fn_arn(name, region="eu-west-1")
        assert conf["LoggingConfig"]["LogGroup"] == f"/aws/lambda/{name}"
        with expect_error("ResourceNotFoundException", 404, f"Function not found: {fn_arn(name)}"):
            lam.get_function(FunctionName=name)
        with expect_error("ResourceNotFoundException", 404,
                          "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')"):
            lam.get_function(FunctionName=fn_arn(name, region="eu-west-1"))
        with expect_error("ResourceNotFoundException", 404,
                          "Functions from 'us-east-1' are not reachable in this region ('eu-west-1')"):
            eu.get_function(FunctionName=fn_arn(name))
        rt = conf["RuntimeVersionConfig"]["RuntimeVersionArn"]
        assert rt.startswith("arn:aws:lambda:eu-west-1::runtime:")

    def test_accounts_are_separate(self, server, lam):
        other = server.client("lambda", key="111111111111")
        name = lt.unique()
        resp = lt.create_function(other, name, Role="arn:aws:iam::111111111111:role/r")
        assert resp["FunctionArn"] == fn_arn(name, account="111111111111")
        with expect_error("ResourceNotFoundException", 404, f"Function not found: {fn_arn(name)}"):
            lam.get_function(FunctionName=name)
        with expect_error("AccessDeniedException", 403):
            lam.get_function(FunctionName=fn_arn(name, account="111111111111"))
        with expect_error("AccessDeniedException", 403):
            other.get_function(FunctionName=fn_arn(name))
        assert name not in [f["FunctionName"] for f in lam.list_functions(MaxItems=50)["Functions"]]


# ----------------------------------------------------------------------------------------
# CreateFunction refusals
# ----------------------------------------------------------------------------------------

class TestCreateExceptions:
    def test_invalid_role(self, lam):
        with expect_error("ValidationException", 400,
                          validation_message(pattern_error("r1", "role", ROLE_PATTERN))):
            lt.create_function(lam, activate=False, Role="r1")

    @pytest.mark.parametrize("runtime", ["non-existent-runtime", "PYTHON3.9"])
    def test_invalid_runtime(self, lam, runtime):
        msg = (f"Value {runtime} at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: "
               f"{RUNTIME_ENUM} or be a valid ARN")
        with expect_error("InvalidParameterValueException", 400, msg) as e:
            lt.create_function(lam, activate=False, Runtime=runtime)
        assert e.response.get("Type") == "User"

    @pytest.mark.parametrize("runtime", ["python3.7", "nodejs12.x", "nodejs14.x", "java8", "go1.x", "provided",
                                         "ruby2.7", "dotnetcore3.1"])
    def test_deprecated_runtime(self, lam, runtime):
        msg = (f"The runtime parameter of {runtime} is no longer supported for creating or updating AWS Lambda "
               "functions. We recommend you use a supported runtime while creating or updating functions.")
        name = lt.unique()
        with expect_error("InvalidParameterValueException", 400, msg):
            lt.create_function(lam, name, activate=False, Runtime=runtime)
        with expect_error("ResourceNotFoundException", 404):
            lam.get_function(FunctionName=name)

    def test_architectures(self, lam):
        with expect_error("ValidationException", 400, validation_message(
                "Value '[x86_64, arm64]' at 'architectures' failed to satisfy constraint: "
                "Member must have length less than or equal to 1")):
            lt.create_function(lam, activate=False, Architectures=["x86_64", "arm64"])
        with expect_error("ValidationException", 400, validation_message(
                "Value '[X86_64]' at 'architectures' failed to satisfy constraint: Member must satisfy "
                "constraint: [Member must satisfy enum value set: [x86_64, arm64], Member must not be null]")):
            lt.create_function(lam, activate=False, Architectures=["X86_64"])

    def test_not_a_zip(self, fresh_account):
        _, client = fresh_account
        name = lt.unique()
        with expect_error("InvalidParameterValueException", 400, MSG_NOT_A_ZIP) as e:
            lt.create_function(client, name, activate=False,
                               zip_bytes=b"this is not a zipfile, just a random string")
        assert e.response.get("Type") == "User"
        with expect_error("ResourceNotFoundException", 404):
            client.get_function(FunctionName=name)

    @pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink_outside"])
    def test_zip_escaping_its_folder_is_refused(self, fresh_account, kind):
        _, client = fresh_account
        if kind == "dotdot":
            z = lt.make_zip({"handler.py": "x=1\n", "../evil.py": "print('escaped')\n"})
        elif kind == "absolute":
            z = lt.make_zip({"handler.py": "x=1\n", "/tmp/evil.py": "print('escaped')\n"})
        else:
            z = lt.make_zip({"handler.py": "x=1\n"}, symlinks={"link": "../../../../etc/passwd"})
        name = lt.unique()
        with expect_error("InvalidParameterValueException", 400):
            lt.create_function(client, name, activate=False, zip_bytes=z)
        with expect_error("ResourceNotFoundException", 404):
            client.get_function(FunctionName=name)
        usage = client.get_account_settings()["AccountUsage"]
        assert usage == {"FunctionCount": 0, "TotalCodeSize": 0}, "nothing may be stored"

    def test_zip_escaping_refused_on_update(self, lam, fn):
        name, _, z = fn
        bad = lt.make_zip({"handler.py": "x=1\n", "../../evil.py": "x=2\n"})
        with expect_error("InvalidParameterValueException", 400):
            lam.update_function_code(FunctionName=name, ZipFile=bad)
        with expect_error("InvalidParameterValueException", 400, MSG_NOT_A_ZIP):
            lam.update_function_code(FunctionName=name, ZipFile=b"garbage")
        conf = lam.get_function_configuration(FunctionName=name)
        assert conf["CodeSha256"] == lt.b64sha256(z)

    @pytest.mark.timeout_s(180)
    def test_zip_over_50mb_is_413(self, fresh_account):
        _, client = fresh_account
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
            zf.writestr("handler.py", "def handler(e, c):\n    return 1\n")
            zf.writestr("blob.bin", os.urandom(52428800 - 200))
        z = buf.getvalue()
        assert 52428800 < len(z) < 52428800 + 1024
        name = lt.unique()
        with expect_error("RequestEntityTooLargeException", 413, "Zipped size must be smaller than 52428800 bytes"):
            lt.create_function(client, name, activate=False, zip_bytes=z)
        with expect_error("ResourceNotFoundException", 404):
            client.get_function(FunctionName=name)

    def test_environment_over_4kb(self, lam):
        big = "x" * (4 * 1024 - 6 - len("LARGE_VAR"))
        name = lt.unique()
        env = {"LARGE_VAR": big}
        measured = json.dumps(env, separators=(",", ":"))
        assert len(measured) == 4097
        with expect_error("InvalidParameterValueException", 400, ENV_4KB_PREFIX + measured):
            lt.create_function(lam, name, activate=False, Environment={"Variables": env})
        with expect_error("ResourceNotFoundException", 404):
            lam.get_function(FunctionName=name)
        env2 = {"SMALL_VAR": "ok", "LARGE_VAR": "x" * 4064}
        measured2 = json.dumps(env2, separators=(",", ":"))
        assert len(measured2) == 4097
        with expect_error("InvalidParameterValueException", 400, ENV_4KB_PREFIX + measured2):
            lt.create_function(lam, name, activate=False, Environment={"Variables": env2})
        # exactly 4 KB is fine
        ok = {"LARGE_VAR": "x" * (4 * 1024 - 7 - len("LARGE_VAR"))}
        assert len(json.dumps(ok, separators=(",", ":"))) == 4096
        resp = lt.create_function(lam, name, Environment={"Variables": ok})
        assert resp["Environment"]["Variables"] == ok

    def test_environment_over_4kb_on_update(self, lam, fn):
        name, _, _ = fn
        env = {"LARGE_VAR": "x" * (4 * 1024 - 6 - len("LARGE_VAR"))}
        with expect_error("InvalidParameterValueException", 400,
                          ENV_4KB_PREFIX + json.dumps(env, separators=(",", ":"))):
            lam.update_function_configuration(FunctionName=name, Environment={"Variables": env})

    @pytest.mark.parametrize("field,value", [("Timeout", 0), ("Timeout", 901), ("MemorySize", 127),
                                             ("MemorySize", 10241)])
    def test_timeout_memory_out_of_range(self, lam_nv, field, value):
        # AWS's exact wording is not recorded: assert status and the family of the error.
        name = lt.unique()
        with pytest.raises(lt.ClientError) as e:
            lt.create_function(lam_nv, name, activate=False, **{field: value})
        r = e.value.response
        assert r["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert r["Error"]["Code"] in ("ValidationException", "InvalidParameterValueException")
        with expect_error("ResourceNotFoundException", 404):
            lam_nv.get_function(FunctionName=name)

    def test_limits_inclusive(self, lam):
        r = lt.create_function(lam, Timeout=900, MemorySize=10240)
        assert (r["Timeout"], r["MemorySize"]) == (900, 10240)
        r = lt.create_function(lam, Timeout=1, MemorySize=128)
        assert (r["Timeout"], r["MemorySize"]) == (1, 128)

    def test_missing_s3_code_and_image_code_refused(self, lam):
        name = lt.unique()
        # (code from S3 itself: test_s3.py)
        with expect_error("InvalidParameterValueException", 400,
                          "Error occurred while GetObject. S3 Error Code: NoSuchBucket. "
                          "S3 Error Message: The specified bucket does not exist"):
            lam.create_function(FunctionName=name, Runtime=RUNTIME, Role=ROLE_ARN, Handler=HANDLER,
                                Code={"S3Bucket": lt.unique("no-such-bucket"), "S3Key": "code.zip"})
        with expect_error("InvalidParameterValueException", 400):
            lam.create_function(FunctionName=name, Role=ROLE_ARN, PackageType="Image",
                                Code={"ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/img:latest"})
        with expect_error("ResourceNotFoundException", 404):
            lam.get_function(FunctionName=name)


# ----------------------------------------------------------------------------------------
# Updates and RevisionId
# ----------------------------------------------------------------------------------------

class TestUpdates:
    def test_update_configuration_cycle(self, lam, fn):
        name, created, z = fn
        rev_active = lam.get_function(FunctionName=name)["Configuration"]["RevisionId"]
        resp = lam.update_function_configuration(FunctionName=name, Runtime="python3.11",
                                                 Description="Changed-Description", MemorySize=512, Timeout=10,
                                                 Environment={"Variables": {"ENV_A": "a"}})
        raw = raw_json(lam)
        assert set(raw) == lt.UPDATE_KEYS | {"Environment"}
        assert raw["State"] == "Active"
        assert raw["LastUpdateStatus"] == "InProgress"
        assert raw["LastUpdateStatusReason"] == "The function is being created."
        assert raw["LastUpdateStatusReasonCode"] == "Creating"
        assert raw["Runtime"] == "python3.11" and raw["MemorySize"] == 512 and raw["Timeout"] == 10
        assert raw["Description"] == "Changed-Description"
        assert raw["Environment"] == {"Variables": {"ENV_A": "a"}}
        assert raw["CodeSha256"] == lt.b64sha256(z)
        assert lt.LAST_MODIFIED_RE.match(raw["LastModified"])
        rev_update = resp["RevisionId"]
        assert rev_update != rev_active
        got = lam.get_function(FunctionName=name)
        conf = raw_json(lam)["Configuration"]
        assert set(conf) == lt.ACTIVE_KEYS | {"Environment"}
        assert conf["LastUpdateStatus"] == "Successful"
        assert conf["RevisionId"] not in (rev_update, rev_active)
        assert got["Configuration"]["MemorySize"] == 512

    def test_update_code_cycle(self, lam, fn):
        name, _, _ = fn
        z2 = lt.handler_zip("second")
        resp = lam.update_function_code(FunctionName=name, ZipFile=z2)
        raw = raw_json(lam)
        assert set(raw) == lt.UPDATE_KEYS
        assert raw["LastUpdateStatus"] == "InProgress"
        assert raw["CodeSha256"] == lt.b64sha256(z2) and raw["CodeSize"] == len(z2)
        assert raw["Version"] == "$LATEST" and raw["FunctionArn"] == fn_arn(name)
        lt.wait_updated(lam, name)
        conf = lam.get_function_configuration(FunctionName=name)
        assert conf["LastUpdateStatus"] == "Successful"
        assert conf["RevisionId"] != resp["RevisionId"]
        assert conf["CodeSha256"] == lt.b64sha256(z2)

    def test_redundant_update_still_cycles(self, lam, fn):
        name, _, _ = fn
        r1 = lam.update_function_configuration(FunctionName=name, Description="1st update description")
        g1 = lam.get_function_configuration(FunctionName=name)
        r2 = lam.update_function_configuration(FunctionName=name, Description="1st update description")
        assert r2["LastUpdateStatus"] == "InProgress"
        g2 = lam.get_function_configuration(FunctionName=name)
        assert g2["LastUpdateStatus"] == "Successful"
        assert len({r1["RevisionId"], g1["RevisionId"], r2["RevisionId"], g2["RevisionId"]}) == 4

    def test_update_code_with_publish(self, lam, fn):
        name, _, _ = fn
        z2 = lt.handler_zip("published")
        resp = lam.update_function_code(FunctionName=name, ZipFile=z2, Publish=True)
        raw = raw_json(lam)
        assert raw["Version"] == "1"
        assert raw["FunctionArn"] == fn_arn(name, "1")
        assert raw["CodeSha256"] == lt.b64sha256(z2)
        assert raw["State"] == "Pending" and raw["StateReasonCode"] == "Creating"
        v1 = lam.get_function(FunctionName=name, Qualifier="1")["Configuration"]
        assert v1["CodeSha256"] == lt.b64sha256(z2) and v1["State"] == "Active"
        latest = lam.get_function(FunctionName=name, Qualifier="$LATEST")["Configuration"]
        assert latest["CodeSha256"] == lt.b64sha256(z2)
        assert resp["Version"] == "1"

    def test_update_code_dry_run_changes_nothing(self, lam, fn):
        name, _, z = fn
        before = lam.get_function_configuration(FunctionName=name)
        resp = lam.update_function_code(FunctionName=name, ZipFile=lt.handler_zip("dry"), DryRun=True)
        assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
        after = lam.get_function_configuration(FunctionName=name)
        assert after["CodeSha256"] == lt.b64sha256(z)
        assert after["RevisionId"] == before["RevisionId"]
        assert lam.list_versions_by_function(FunctionName=name)["Versions"][-1]["Version"] == "$LATEST"

    def test_revision_id_preconditions(self, lam, fn):
        name, _, z = fn
        rev = lam.get_function(FunctionName=name)["Configuration"]["RevisionId"]
        with expect_error("PreconditionFailedException", 412, lt.MSG_REVISION) as e:
            lam.update_function_code(FunctionName=name, ZipFile=z, RevisionId="wrong")
        assert e.response.get("Type") == "User"
        r3 = lam.update_function_code(FunctionName=name, ZipFile=z, RevisionId=rev)
        assert r3["RevisionId"] != rev
        rev4 = lam.get_function(FunctionName=name)["Configuration"]["RevisionId"]
        assert rev4 != r3["RevisionId"]
        with expect_error("PreconditionFailedException", 412, lt.MSG_REVISION):
            lam.update_function_configuration(FunctionName=name, Runtime="python3.11", RevisionId="wrong")
        with expect_error("PreconditionFailedException", 412, lt.MSG_REVISION):
            lam.update_function_configuration(FunctionName=name, Runtime="python3.11", RevisionId=rev)
        r5 = lam.update_function_configuration(FunctionName=name, Runtime="python3.11", RevisionId=rev4)
        assert r5["RevisionId"] != rev4
        assert lam.get_function(FunctionName=name)["Configuration"]["Runtime"] == "python3.11"

    def test_update_exceptions(self, lam, fn):
        name, _, _ = fn
        with expect_error("ValidationException", 400, validation_message(pattern_error("r1", "role", ROLE_PATTERN))):
            lam.update_function_configuration(FunctionName=name, Role="r1")
        for runtime in ("non-existent-runtime", "PYTHON3.9"):
            msg = (f"Value {runtime} at 'runtime' failed to satisfy constraint: Member must satisfy enum value "
                   f"set: {RUNTIME_ENUM} or be a valid ARN")
            with expect_error("InvalidParameterValueException", 400, msg):
                lam.update_function_configuration(FunctionName=name, Runtime=runtime)
        with expect_error("ResourceNotFoundException", 404, f"Function not found: {fn_arn(name + 'x')}"):
            lam.update_function_configuration(FunctionName=name + "x", Description="d")
        with expect_error("ResourceNotFoundException", 404, f"Function not found: {fn_arn(name + 'x')}"):
            lam.update_function_code(FunctionName=name + "x", ZipFile=lt.handler_zip())

    def test_update_by_full_arn(self, lam, fn):
        name, _, _ = fn
        resp = lam.update_function_configuration(FunctionName=fn_arn(name), Description="by arn")
        assert resp["FunctionArn"] == fn_arn(name)
        assert lam.get_function_configuration(FunctionName=name)["Description"] == "by arn"

    def test_waiters(self, lam):
        name = lt.unique()
        lam.create_function(FunctionName=name, Runtime=RUNTIME, Role=ROLE_ARN, Handler=HANDLER,
                            Code={"ZipFile": lt.handler_zip()})
        cfg = {"Delay": 1, "MaxAttempts": 5}
        lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=cfg)
        lam.update_function_code(FunctionName=name, ZipFile=lt.handler_zip())
        lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=cfg)
        v = lam.publish_version(FunctionName=name)["Version"]
        lam.get_waiter("published_version_active").wait(FunctionName=name, Qualifier=v, WaiterConfig=cfg)
        lam.get_waiter("function_exists").wait(FunctionName=name, WaiterConfig=cfg)


# ----------------------------------------------------------------------------------------
# ListFunctions
# ----------------------------------------------------------------------------------------

def _collect(client, **kwargs):
    items, marker, pages = [], None, 0
    while True:
        kw = dict(kwargs)
        if marker:
            kw["Marker"] = marker
        page = client.list_functions(**kw)
        items += page["Functions"]
        pages += 1
        marker = page.get("NextMarker")
        if not marker:
            return items, pages
        assert pages < 100


class TestListFunctions:
    def test_default_and_all(self, fresh_account):
        acct, client = fresh_account
        n1, n2 = lt.unique("list-fn-1"), lt.unique("list-fn-2")
        lt.create_function(client, n1, Role=f"arn:aws:iam::{acct}:role/r", Publish=True)
        lt.create_function(client, n2, Role=f"arn:aws:iam::{acct}:role/r")
        default = client.list_functions()
        rows = raw_json(client)["Functions"]
        assert "NextMarker" not in default
        assert sorted(f["FunctionArn"] for f in rows) == sorted(
            [fn_arn(n1, account=acct), fn_arn(n2, account=acct)])
        for row in rows:
            assert set(row) == lt.LIST_ROW_KEYS, "list rows omit State*, LastUpdateStatus*, RuntimeVersionConfig"
            assert row["Version"] == "$LATEST"
        allv = client.list_functions(FunctionVersion="ALL")["Functions"]
        assert sorted((f["FunctionArn"], f["Version"]) for f in allv) == sorted([
            (fn_arn(n1, "$LATEST", account=acct), "$LATEST"),
            (fn_arn(n1, "1", account=acct), "1"),
            (fn_arn(n2, "$LATEST", account=acct), "$LATEST"),
        ])

    def test_paging(self, fresh_account):
        acct, client = fresh_account
        names = [lt.unique("page") for _ in range(3)]
        for n in names:
            lt.create_function(client, n, Role=f"arn:aws:iam::{acct}:role/r")
        client.publish_version(FunctionName=names[0])
        first = client.list_functions(MaxItems=1)
        assert len(first["Functions"]) == 1 and first.get("NextMarker")
        items, pages = _collect(client, MaxItems=1)
        assert pages == 3
        assert sorted(f["FunctionName"] for f in items) == sorted(names)
        items, pages = _collect(client, MaxItems=2, FunctionVersion="ALL")
        assert pages == 2
        assert len(items) == 4 and len({f["FunctionArn"] for f in items}) == 4
        items, pages = _collect(client)
        assert pages == 1 and len(items) == 3
        # boto3's paginator drives the same Marker protocol
        pag = client.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 1}).build_full_result()
        assert sorted(f["FunctionName"] for f in pag["Functions"]) == sorted(names)

    def test_invalid_function_version(self, lam):
        with expect_error("ValidationException", 400, validation_message(
                "Value 'invalid' at 'functionVersion' failed to satisfy constraint: "
                "Member must satisfy enum value set: [ALL]")):
            lam.list_functions(FunctionVersion="invalid")


NO_LONGER = ("The runtime parameter of {} is no longer supported for creating or updating AWS Lambda "
             "functions. We recommend you use a supported runtime while creating or updating functions.")


def test_runtime_deprecation_follows_aws_schedule(tmp_path):
    """python3.9: deprecated 2025-12-15, CreateFunction blocked from 2026-08-31, updates from
    2026-09-30. On 2026-05-15 (lamina serve --runtime-date) it is deprecated but allowed, as on
    AWS; at today's date (2026-12-06 or later), with --runtime-deprecations enforce, creating and
    updating are refused, and a move to a supported runtime is still allowed."""
    data = tmp_path / "data"
    name = lt.unique("dep")
    srv = lt.LaminaServer(data_dir=data, log_path=tmp_path / "a.log",
                          extra_args=["--runtime-date", "2026-05-15"]).start()
    try:
        lam = srv.client("lambda")
        created = lt.create_function(lam, name, Runtime="python3.9")
        assert created["Runtime"] == "python3.9"
        r = lam.invoke(FunctionName=name, Payload=b"{}")
        assert "FunctionError" not in r
    finally:
        srv.stop()
    srv = lt.LaminaServer(data_dir=data, log_path=tmp_path / "b.log",
                          extra_args=["--runtime-deprecations", "enforce"]).start()
    try:
        lam = srv.client("lambda")
        with expect_error("InvalidParameterValueException", 400, NO_LONGER.format("python3.9")):
            lt.create_function(lam, lt.unique("dep"), activate=False, Runtime="python3.9")
        with expect_error("InvalidParameterValueException", 400, NO_LONGER.format("python3.9")):
            lam.update_function_configuration(FunctionName=name, Description="x")
        with expect_error("InvalidParameterValueException", 400, NO_LONGER.format("python3.9")):
            lam.update_function_code(FunctionName=name, ZipFile=lt.handler_zip())
        cfg = lam.get_function_configuration(FunctionName=name)
        assert cfg["Runtime"] == "python3.9" and cfg.get("Description", "") == ""
        # the function still runs (AWS never blocks invokes), and may move to a supported runtime
        assert "FunctionError" not in lam.invoke(FunctionName=name, Payload=b"{}")
        moved = lam.update_function_configuration(FunctionName=name, Runtime="python3.12")
        assert moved["Runtime"] == "python3.12"
        with expect_error("InvalidParameterValueException", 400, NO_LONGER.format("nodejs20.x")):
            lt.create_function(lam, lt.unique("dep"), activate=False, Runtime="nodejs20.x",
                               Handler="index.handler")
    finally:
        srv.stop()


def test_blocked_runtimes_are_accepted_with_a_warning_by_default(tmp_path):
    """lamina's default (--runtime-deprecations warn): a runtime AWS blocks today (python3.9,
    the tutorial's runtime) still creates, updates and runs, and lamina's log names what AWS
    would answer."""
    log = tmp_path / "w.log"
    srv = lt.LaminaServer(log_path=log).start()
    try:
        lam = srv.client("lambda")
        name = lt.unique("old")
        assert lt.create_function(lam, name, Runtime="python3.9")["Runtime"] == "python3.9"
        assert lam.update_function_configuration(FunctionName=name, Description="d")["Description"] == "d"
        assert "FunctionError" not in lam.invoke(FunctionName=name, Payload=b"{}")
    finally:
        srv.stop()
    text = log.read_text()
    warned = [line for line in text.splitlines() if "lambda.runtime_blocked_on_aws" in line and name in line]
    assert any("use=create" in line for line in warned), text[-2000:]
    assert any("use=update" in line for line in warned), text[-2000:]
    assert NO_LONGER.format("python3.9") in warned[0]


def test_runtime_deprecations_takes_warn_or_enforce(tmp_path):
    srv = lt.LaminaServer(log_path=tmp_path / "d.log", extra_args=["--runtime-deprecations", "strict"])
    with pytest.raises(RuntimeError):
        srv.start()


def test_runtime_date_must_be_a_date(tmp_path):
    srv = lt.LaminaServer(log_path=tmp_path / "c.log", extra_args=["--runtime-date", "2026-13-01"])
    with pytest.raises(RuntimeError):
        srv.start(timeout=10)
    assert "not a YYYY-MM-DD date" in (tmp_path / "c.log").read_text()
