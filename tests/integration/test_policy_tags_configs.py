"""Resource policies, tags, event invoke configs, read-only configs, account settings."""

from __future__ import annotations

import datetime
import json

import pytest

import lamina_testlib as lt
from lamina_testlib import ACCOUNT, expect_error, fn_arn, raw_json, validation_message

S3_ARN = "arn:aws:s3:::test-bucket"


def _statement(resp) -> dict:
    assert isinstance(resp["Statement"], str), "Statement is a JSON string"
    return json.loads(resp["Statement"])


def _policy(resp) -> dict:
    assert isinstance(resp["Policy"], str), "Policy is a JSON string"
    return json.loads(resp["Policy"])


class TestPermissions:
    def test_add_permission_service_principal(self, lam, fn):
        name, _, _ = fn
        resp = lam.add_permission(FunctionName=name, Action="lambda:InvokeFunction", StatementId="s3",
                                  Principal="s3.amazonaws.com", SourceArn=S3_ARN)
        assert resp["ResponseMetadata"]["HTTPStatusCode"] == 201
        st = {"Sid": "s3", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
              "Action": "lambda:InvokeFunction", "Resource": fn_arn(name),
              "Condition": {"ArnLike": {"AWS:SourceArn": S3_ARN}}}
        assert _statement(resp) == st
        pol = lam.get_policy(FunctionName=name)
        assert set(raw_json(lam)) == {"Policy", "RevisionId"}
        assert _policy(pol) == {"Version": "2012-10-17", "Id": "default", "Statement": [st]}
        assert lt.UUID_RE.match(pol["RevisionId"])
        # the policy RevisionId is the function's RevisionId
        assert lam.get_function(FunctionName=name)["Configuration"]["RevisionId"] == pol["RevisionId"]

    def test_principal_shapes(self, lam, fn):
        name, _, _ = fn
        r = lam.add_permission(FunctionName=name, Action="lambda:InvokeFunction", StatementId="wilcard",
                               Principal="*", SourceAccount=ACCOUNT)
        assert _statement(r) == {"Sid": "wilcard", "Effect": "Allow", "Principal": "*",
                                 "Action": "lambda:InvokeFunction", "Resource": fn_arn(name),
                                 "Condition": {"StringEquals": {"AWS:SourceAccount": ACCOUNT}}}
        r = lam.add_permission(FunctionName=name, Action="lambda:InvokeFunction", StatementId="lambda",
                               Principal="lambda.amazonaws.com", SourceAccount=ACCOUNT)
        assert _statement(r)["Principal"] == {"Service": "lambda.amazonaws.com"}
        assert _statement(r)["Condition"] == {"StringEquals": {"AWS:SourceAccount": ACCOUNT}}
        r = lam.add_permission(FunctionName=name, Action="lambda:InvokeFunction", StatementId="account-id",
                               Principal="111111111111")
        assert _statement(r) == {"Sid": "account-id", "Effect": "Allow",
                                 "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
                                 "Action": "lambda:InvokeFunction", "Resource": fn_arn(name)}
        user = f"arn:aws:iam::{ACCOUNT}:user/someone"
        r = lam.add_permission(FunctionName=name, Action="lambda:InvokeFunction", StatementId="user-arn",
                               Principal=user, SourceAccount=ACCOUNT)
        assert _statement(r)["Principal"] == {"AWS": user}
        r = lam.add_permission(FunctionName=name, Action="lambda:InvokeFunction", StatementId="alexaSkill",
                               Principal="*", EventSourceToken="amzn1.ask.skill.xxxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx")
        assert _statement(r)["Condition"] == {
            "StringEquals": {"lambda:EventSourceToken": "amzn1.ask.skill.xxxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"}}
        r = lam.add_permission(FunctionName=name, StatementId="urlPermission", Action="lambda:InvokeFunctionUrl",
                               Principal="*", SourceArn=S3_ARN, SourceAccount=ACCOUNT,
                               PrincipalOrgID="o-1234567890", FunctionUrlAuthType="NONE")
        st = _statement(r)
        assert st["Action"] == "lambda:InvokeFunctionUrl"
        assert st["Condition"] == {
            "StringEquals": {"AWS:SourceAccount": ACCOUNT, "lambda:FunctionUrlAuthType": "NONE",
                             "aws:PrincipalOrgID": "o-1234567890"},
            "ArnLike": {"AWS:SourceArn": S3_ARN}}
        sids = [s["Sid"] for s in _policy(lam.get_policy(FunctionName=name))["Statement"]]
        assert sids == ["wilcard", "lambda", "account-id", "user-arn", "alexaSkill", "urlPermission"]

    def test_remove_permissions(self, lam, fn):
        name, _, _ = fn
        a1 = lam.add_permission(FunctionName=name, Action="lambda:InvokeFunction", StatementId="s3",
                                Principal="s3.amazonaws.com")
        assert "Condition" not in _statement(a1)
        lam.add_permission(FunctionName=name, Action="lambda:InvokeFunction", StatementId="sqs",
                           Principal="sqs.amazonaws.com", SourceArn=S3_ARN)
        assert [s["Sid"] for s in _policy(lam.get_policy(FunctionName=name))["Statement"]] == ["s3", "sqs"]
        with expect_error("ResourceNotFoundException", 404, "Statement non-existent is not found in resource policy."):
            lam.remove_permission(FunctionName=name, StatementId="non-existent")
        r = lam.remove_permission(FunctionName=name, StatementId="sqs")
        assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
        pol = lam.get_policy(FunctionName=name)
        assert [s["Sid"] for s in _policy(pol)["Statement"]] == ["s3"]
        with expect_error("PreconditionFailedException", 412):
            lam.remove_permission(FunctionName=name, StatementId="s3", RevisionId="wrong")
        lam.remove_permission(FunctionName=name, StatementId="s3", RevisionId=pol["RevisionId"])
        with expect_error("ResourceNotFoundException", 404, lt.MSG_NOT_EXIST):
            lam.get_policy(FunctionName=name)

    def test_permission_exceptions(self, lam, fn):
        name, _, _ = fn
        with expect_error("ValidationException", 400, validation_message(
                "Value 'example.com' at 'statementId' failed to satisfy constraint: Member must satisfy regular "
                "expression pattern: ([a-zA-Z0-9-_]+)")):
            lam.add_permission(FunctionName=name, Action="lambda:InvokeFunction", StatementId="example.com",
                               Principal="s3.amazonaws.com")
        with expect_error("InvalidParameterValueException", 400, lt.MSG_QUALIFIER_MISMATCH):
            lam.add_permission(FunctionName=f"{name}:alias-not-42", Action="lambda:InvokeFunction",
                               StatementId="s3", Principal="s3.amazonaws.com", SourceArn=S3_ARN, Qualifier="42")
        with expect_error("InvalidParameterValueException", 400,
                          "We currently do not support adding policies for $LATEST."):
            lam.add_permission(FunctionName=f"{name}:$LATEST", Action="lambda:InvokeFunction", StatementId="s3",
                               Principal="s3.amazonaws.com", SourceArn=S3_ARN, Qualifier="$LATEST")
        with expect_error("InvalidParameterValueException", 400,
                          "The provided principal was invalid. Please check the principal and try again."):
            lam.add_permission(FunctionName=name, Action="lambda:InvokeFunction", StatementId="lambda",
                               Principal="invalid.nonaws.com", SourceAccount=ACCOUNT)
        with expect_error("ResourceNotFoundException", 404, lt.MSG_NOT_EXIST):
            lam.get_policy(FunctionName="doesnotexist-" + name)
        with expect_error("ResourceNotFoundException", 404, lt.MSG_NOT_EXIST):
            lam.get_policy(FunctionName=name, Qualifier="77")
        with expect_error("ResourceNotFoundException", 404, f"Function not found: {fn_arn('doesnotexist-' + name)}"):
            lam.add_permission(FunctionName="doesnotexist-" + name, Action="lambda:InvokeFunction",
                               StatementId="s3", Principal="s3.amazonaws.com", SourceArn=S3_ARN)
        with expect_error("ResourceNotFoundException", 404, "No policy is associated with the given resource."):
            lam.remove_permission(FunctionName=name, StatementId="s3")
        with expect_error("ResourceNotFoundException", 404,
                          f"Cannot find alias arn: {fn_arn(name, 'alias-doesnotexist')}"):
            lam.add_permission(FunctionName=f"{name}:alias-doesnotexist", Action="lambda:InvokeFunction",
                               StatementId="s3", Principal="s3.amazonaws.com", SourceArn=S3_ARN)
        with expect_error("ResourceNotFoundException", 404, f"Function not found: {fn_arn(name, '42')}"):
            lam.add_permission(FunctionName=name, Action="lambda:InvokeFunction", StatementId="s3",
                               Principal="s3.amazonaws.com", SourceArn=S3_ARN, Qualifier="42")
        with expect_error("ValidationException", 400, validation_message(
                "Value 'invalid-qualifier-with-?-char' at 'qualifier' failed to satisfy constraint: Member must "
                "satisfy regular expression pattern: " + lt.QUALIFIER_PATTERN)):
            lam.add_permission(FunctionName=name, Action="lambda:InvokeFunction", StatementId="s3",
                               Principal="s3.amazonaws.com", SourceArn=S3_ARN,
                               Qualifier="invalid-qualifier-with-?-char")
        with expect_error("ResourceNotFoundException", 404,
                          f"Function not found: {fn_arn(name, 'valid-with-$-but-doesnotexist')}"):
            lam.add_permission(FunctionName=name, Action="lambda:InvokeFunction", StatementId="s3",
                               Principal="s3.amazonaws.com", SourceArn=S3_ARN,
                               Qualifier="valid-with-$-but-doesnotexist")
        lam.add_permission(FunctionName=name, Action="lambda:InvokeFunction", StatementId="s3",
                           Principal="s3.amazonaws.com", SourceArn=S3_ARN)
        with expect_error("ResourceConflictException", 409,
                          "The statement id (s3) provided already exists. Please provide a new statement id, or "
                          "remove the existing statement."):
            lam.add_permission(FunctionName=name, Action="lambda:InvokeFunction", StatementId="s3",
                               Principal="s3.amazonaws.com", SourceArn=S3_ARN)
        with expect_error("ResourceNotFoundException", 404, f"No policy found for: {fn_arn('doesnotexist-' + name)}"):
            lam.remove_permission(FunctionName="doesnotexist-" + name, StatementId="s3")
        with expect_error("ResourceNotFoundException", 404,
                          f"Cannot find alias arn: {fn_arn(name, 'alias-doesnotexist')}"):
            lam.remove_permission(FunctionName=name, StatementId="s3", Qualifier="alias-doesnotexist")

    def test_policies_per_qualifier(self, lam, fn):
        name, _, _ = fn
        lam.add_permission(FunctionName=name, Action="lambda:InvokeFunction", StatementId="s3",
                           Principal="s3.amazonaws.com", SourceArn=S3_ARN)
        base = lam.get_policy(FunctionName=name)
        v = lam.publish_version(FunctionName=name)["Version"]
        assert _policy(lam.get_policy(FunctionName=name)) == _policy(base)
        with expect_error("ResourceNotFoundException", 404, lt.MSG_NOT_EXIST):
            lam.get_policy(FunctionName=name, Qualifier=v)
        lam.add_permission(FunctionName=f"{name}:{v}", Action="lambda:InvokeFunction", StatementId="s3",
                           Principal="s3.amazonaws.com", SourceArn=S3_ARN, Qualifier=v)
        vp = _policy(lam.get_policy(FunctionName=name, Qualifier=v))
        assert [s["Resource"] for s in vp["Statement"]] == [fn_arn(name, v)]
        alias = lam.create_alias(FunctionName=name, Name="permission-alias", FunctionVersion=v)
        with expect_error("PreconditionFailedException", 412, lt.MSG_REVISION_POLICY) as e:
            lam.add_permission(FunctionName=name, Action="lambda:InvokeFunction", StatementId="s3",
                               Principal="s3.amazonaws.com", SourceArn=S3_ARN, Qualifier="permission-alias",
                               RevisionId="wrong")
        assert e.response.get("Type") == "User"
        lam.add_permission(FunctionName=f"{name}:permission-alias", Action="lambda:InvokeFunction",
                           StatementId="s3", Principal="s3.amazonaws.com", SourceArn=S3_ARN,
                           Qualifier="permission-alias", RevisionId=alias["RevisionId"])
        ap = _policy(lam.get_policy(FunctionName=name, Qualifier="permission-alias"))
        assert [s["Resource"] for s in ap["Statement"]] == [fn_arn(name, "permission-alias")]
        # the unqualified policy is untouched and takes RevisionId preconditions
        pol = lam.get_policy(FunctionName=name)
        assert [s["Sid"] for s in _policy(pol)["Statement"]] == ["s3"]
        with expect_error("PreconditionFailedException", 412, lt.MSG_REVISION_POLICY):
            lam.add_permission(FunctionName=name, Action="lambda:InvokeFunction", StatementId="s3_2",
                               Principal="s3.amazonaws.com", SourceArn=S3_ARN, RevisionId="wrong")
        lam.add_permission(FunctionName=name, Action="lambda:InvokeFunction", StatementId="s3_2",
                           Principal="s3.amazonaws.com", SourceArn=S3_ARN, RevisionId=pol["RevisionId"])
        assert [s["Sid"] for s in _policy(lam.get_policy(FunctionName=name))["Statement"]] == ["s3", "s3_2"]

    def test_permission_changes_function_revision(self, lam, fn):
        name, _, _ = fn
        rev = lam.get_function(FunctionName=name)["Configuration"]["RevisionId"]
        lam.add_permission(FunctionName=name, StatementId="s3", Action="lambda:InvokeFunction",
                           Principal="s3.amazonaws.com", RevisionId=rev)
        rev3 = lam.get_policy(FunctionName=name)["RevisionId"]
        assert rev3 != rev
        assert lam.get_function(FunctionName=name)["Configuration"]["RevisionId"] == rev3
        lam.remove_permission(FunctionName=name, StatementId="s3", RevisionId=rev3)
        assert lam.get_function(FunctionName=name)["Configuration"]["RevisionId"] != rev3


class TestTags:
    def test_tag_lifecycle(self, lam):
        name = lt.unique()
        lt.create_function(lam, name, Tags={"key_a": "value_a"})
        arn = fn_arn(name)
        assert lam.list_tags(Resource=arn)["Tags"] == {"key_a": "value_a"}
        assert lam.get_function(FunctionName=name)["Tags"] == {"key_a": "value_a"}
        rev = lam.get_function(FunctionName=name)["Configuration"]["RevisionId"]
        r = lam.tag_resource(Resource=arn, Tags={"key_b": "value_b", "key_c": "value_c", "key_d": "value_d",
                                                  "key_e": "value_e"})
        assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
        assert lam.get_function(FunctionName=name)["Configuration"]["RevisionId"] != rev, "tags bump RevisionId"
        lam.tag_resource(Resource=arn, Tags={"key_b": "value_b", "key_c": "value_x"})
        expect = {"key_a": "value_a", "key_b": "value_b", "key_c": "value_x", "key_d": "value_d", "key_e": "value_e"}
        assert lam.list_tags(Resource=arn)["Tags"] == expect
        assert lam.get_function(FunctionName=name)["Tags"] == expect
        r = lam.untag_resource(Resource=arn, TagKeys=["key_c", "key_d"])
        assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
        assert lam.list_tags(Resource=arn)["Tags"] == {"key_a": "value_a", "key_b": "value_b", "key_e": "value_e"}
        lam.untag_resource(Resource=arn, TagKeys=["key_a", "key_b", "key_e", "not-there"])
        assert lam.list_tags(Resource=arn)["Tags"] == {}
        lam.get_function(FunctionName=name)
        assert "Tags" not in raw_json(lam), "GetFunction shows Tags only when there are some"
        lam.delete_function(FunctionName=name)
        with expect_error("ResourceNotFoundException", 404, f"Function not found: {arn}"):
            lam.list_tags(Resource=arn)
        with expect_error("ResourceNotFoundException", 404, f"Function not found: {arn}"):
            lam.tag_resource(Resource=arn, Tags={"A": "B"})
        with expect_error("ResourceNotFoundException", 404, f"Function not found: {arn}"):
            lam.untag_resource(Resource=arn, TagKeys=["A"])

    def test_tag_exceptions(self, lam, fn):
        name, _, _ = fn
        arn = fn_arn(name)
        with expect_error("ValidationException", 400, validation_message(
                "Value 'arn:aws:something' at 'resource' failed to satisfy constraint: Member must satisfy regular "
                r"expression pattern: arn:(aws[a-zA-Z-]*):lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:"
                r"\d{12}:(function:[a-zA-Z0-9-_]+(:(\$LATEST|[a-zA-Z0-9-_]+))?|layer:([a-zA-Z0-9-_]+)|"
                r"code-signing-config:csc-[a-z0-9]{17}|event-source-mapping:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-"
                r"[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|capacity-provider:[a-zA-Z0-9-_]+)")):
            lam.tag_resource(Resource="arn:aws:something", Tags={"key_a": "value_a"})
        with expect_error("ResourceNotFoundException", 404, f"Function not found: {fn_arn('doesnotexist')}"):
            lam.tag_resource(Resource=fn_arn("doesnotexist"), Tags={"key_a": "value_a"})
        msg_q = "Tags on function aliases and versions are not supported. Please specify a function ARN."
        with expect_error("InvalidParameterValueException", 400, msg_q):
            lam.tag_resource(Resource=f"{arn}:v1", Tags={"key_a": "value_a"})
        v = lam.publish_version(FunctionName=name)["Version"]
        with expect_error("InvalidParameterValueException", 400, msg_q):
            lam.tag_resource(Resource=fn_arn(name, v), Tags={"key_b": "value_b"})
        with expect_error("InvalidParameterValueException", 400, msg_q):
            lam.tag_resource(Resource=fn_arn(name, "$LATEST"), Tags={"key_b": "value_b"})
        assert lam.list_tags(Resource=arn)["Tags"] == {}
        assert lam.untag_resource(Resource=arn, TagKeys=["somekey"])["ResponseMetadata"]["HTTPStatusCode"] == 204
        with expect_error("ValidationException", 400, validation_message(
                "Value null at 'tagKeys' failed to satisfy constraint: Member must not be null")):
            lam.untag_resource(Resource=arn, TagKeys=[])
        with expect_error("InvalidParameterValueException", 400, "An error occurred and the request cannot be processed."):
            lam.tag_resource(Resource=arn, Tags={})

    def test_tag_limits(self, lam, fn):
        name, _, _ = fn
        arn = fn_arn(name)
        msg = "Number of tags exceeds resource tag limit."
        with expect_error("InvalidParameterValueException", 400, msg):
            lam.tag_resource(Resource=arn, Tags={f"{k}_key": f"{k}_value" for k in range(51)})
        assert lam.list_tags(Resource=arn)["Tags"] == {}
        lam.tag_resource(Resource=arn, Tags={f"{k}_key": f"{k}_value" for k in range(50)})
        assert len(lam.list_tags(Resource=arn)["Tags"]) == 50
        assert len(lam.get_function(FunctionName=name)["Tags"]) == 50
        with expect_error("InvalidParameterValueException", 400, msg):
            lam.tag_resource(Resource=arn, Tags={"a_key": "a_value"})
        # overwriting an existing key does not add one
        lam.tag_resource(Resource=arn, Tags={"0_key": "new"})
        with expect_error("InvalidParameterValueException", 400, msg):
            lt.create_function(lam, activate=False, Tags={f"{k}_key": f"{k}_value" for k in range(51)})


class TestEventInvokeConfig:
    def test_lifecycle(self, lam, fn):
        name, _, _ = fn
        put0 = lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
        raw = raw_json(lam)
        assert set(raw) == {"DestinationConfig", "FunctionArn", "LastModified", "MaximumRetryAttempts"}
        assert raw["DestinationConfig"] == {"OnFailure": {}, "OnSuccess": {}}
        assert raw["FunctionArn"] == fn_arn(name, "$LATEST")
        assert isinstance(raw["LastModified"], (int, float)), "LastModified is an epoch timestamp number"
        assert abs(raw["LastModified"] - datetime.datetime.now().timestamp()) < 600
        assert isinstance(put0["LastModified"], datetime.datetime)
        put60 = lam.put_function_event_invoke_config(FunctionName=name, MaximumEventAgeInSeconds=60)
        assert "MaximumRetryAttempts" not in put60, "Put replaces the whole config"
        assert put60["MaximumEventAgeInSeconds"] == 60
        up = lam.update_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1)
        assert (up["MaximumEventAgeInSeconds"], up["MaximumRetryAttempts"]) == (60, 1), "Update merges"
        for q in (None, "$LATEST"):
            kw = {"FunctionName": name} if q is None else {"FunctionName": name, "Qualifier": q}
            got = lam.get_function_event_invoke_config(**kw)
            assert (got["MaximumEventAgeInSeconds"], got["MaximumRetryAttempts"]) == (60, 1)
            assert got["FunctionArn"] == fn_arn(name, "$LATEST")
        lst = lam.list_function_event_invoke_configs(FunctionName=name)["FunctionEventInvokeConfigs"]
        assert [c["FunctionArn"] for c in lst] == [fn_arn(name, "$LATEST")]

        v = lam.publish_version(FunctionName=name)["Version"]
        with expect_error("ResourceNotFoundException", 404,
                          f"The function {fn_arn(name, v)} doesn't have an EventInvokeConfig"):
            lam.get_function_event_invoke_config(FunctionName=name, Qualifier=v)
        pv = lam.put_function_event_invoke_config(FunctionName=name, Qualifier=v, MaximumEventAgeInSeconds=120)
        assert pv["FunctionArn"] == fn_arn(name, v)
        one = lam.list_function_event_invoke_configs(FunctionName=name, MaxItems=1)
        assert len(one["FunctionEventInvokeConfigs"]) == 1 and one.get("NextMarker")
        rest = lam.list_function_event_invoke_configs(FunctionName=name, MaxItems=1, Marker=one["NextMarker"])
        assert len(rest["FunctionEventInvokeConfigs"]) == 1
        assert {one["FunctionEventInvokeConfigs"][0]["FunctionArn"], rest["FunctionEventInvokeConfigs"][0]["FunctionArn"]} \
            == {fn_arn(name, "$LATEST"), fn_arn(name, v)}
        d = lam.delete_function_event_invoke_config(FunctionName=name)
        assert d["ResponseMetadata"]["HTTPStatusCode"] == 204
        left = lam.list_function_event_invoke_configs(FunctionName=name)["FunctionEventInvokeConfigs"]
        assert [c["FunctionArn"] for c in left] == [fn_arn(name, v)]
        assert left[0]["MaximumEventAgeInSeconds"] == 120 and "MaximumRetryAttempts" not in left[0]

    def test_exceptions(self, lam, lam_nv):
        c = lam_nv
        name, name2 = lt.unique("fn-eventinvoke"), lt.unique("fn-eventinvoke-2")
        lt.create_function(lam, name)
        lt.create_function(lam, name2)
        arn, arn2 = fn_arn(name), fn_arn(name2)
        v = lam.publish_version(FunctionName=name)["Version"]
        alias = lam.create_alias(FunctionName=name, Name="eventinvokealias", FunctionVersion=v)
        fake = fn_arn("doesnotexist")
        with expect_error("ResourceNotFoundException", 404, "The function doesn't exist."):
            c.put_function_event_invoke_config(FunctionName="doesnotexist", MaximumRetryAttempts=1)
        with expect_error("ResourceNotFoundException", 404, "The function doesn't exist."):
            c.put_function_event_invoke_config(FunctionName=fake, MaximumRetryAttempts=1)
        with expect_error("InvalidParameterValueException", 400,
                          "You must specify at least one of error handling or destination setting."):
            c.put_function_event_invoke_config(FunctionName="doesnotexist")
        with expect_error("InvalidParameterValueException", 400, f"The destination ARN {fake} is invalid."):
            c.put_function_event_invoke_config(FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": fake}})
        with expect_error("InvalidParameterValueException", 400,
                          "You can't specify the function as a destination for itself."):
            c.put_function_event_invoke_config(FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": arn}})
        ok = c.put_function_event_invoke_config(FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": arn2}})
        assert ok["DestinationConfig"] == {"OnSuccess": {"Destination": arn2}, "OnFailure": {}}
        iam_like = arn.replace(":lambda:", ":iam:")
        with expect_error("InvalidParameterValueException", 400,
                          f"The provided destination config DestinationConfig(onSuccess=OnSuccess(destination="
                          f"{iam_like}), onFailure=null) is invalid."):
            c.put_function_event_invoke_config(FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": iam_like}})
        for dc in ({"OnSuccess": {}}, {"OnFailure": {}}):
            r = c.put_function_event_invoke_config(FunctionName=name, DestinationConfig=dc)
            assert r["DestinationConfig"] == {"OnFailure": {}, "OnSuccess": {}}
        # name / qualifier forms
        for kw, q in (({"FunctionName": name}, "$LATEST"),
                      ({"FunctionName": name, "Qualifier": "$LATEST"}, "$LATEST"),
                      ({"FunctionName": name, "Qualifier": v}, v),
                      ({"FunctionName": name, "Qualifier": "eventinvokealias"}, "eventinvokealias"),
                      ({"FunctionName": alias["AliasArn"]}, "eventinvokealias"),
                      ({"FunctionName": alias["AliasArn"], "Qualifier": "eventinvokealias"}, "eventinvokealias"),
                      ({"FunctionName": f"{name}:eventinvokealias"}, "eventinvokealias"),
                      ({"FunctionName": f"{name}:{v}"}, v),
                      ({"FunctionName": f"{name}:$LATEST", "Qualifier": "$LATEST"}, "$LATEST")):
            r = c.put_function_event_invoke_config(MaximumRetryAttempts=1, **kw)
            assert r["FunctionArn"] == fn_arn(name, q), kw
        with expect_error("ResourceNotFoundException", 404, "The function doesn't exist."):
            c.put_function_event_invoke_config(FunctionName=name, Qualifier="eventinvokealiasdoesnotexist",
                                               MaximumRetryAttempts=1)
        for kw in ({"FunctionName": alias["AliasArn"], "Qualifier": "eventinvokealiasdoesnotexist"},
                   {"FunctionName": f"{name}:eventinvokealias", "Qualifier": "eventinvokealiasdoesnotexist"},
                   {"FunctionName": f"{name}:{v}", "Qualifier": "$LATEST"},
                   {"FunctionName": f"{name}:$LATEST", "Qualifier": v},
                   {"FunctionName": f"{name}:{v}", "Qualifier": "eventinvokealias"}):
            with expect_error("InvalidParameterValueException", 400, lt.MSG_QUALIFIER_MISMATCH):
                c.put_function_event_invoke_config(MaximumRetryAttempts=1, **kw)
        r = c.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=2, MaximumEventAgeInSeconds=21600)
        assert (r["MaximumRetryAttempts"], r["MaximumEventAgeInSeconds"]) == (2, 21600)
        c.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=2, MaximumEventAgeInSeconds=60)
        c.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
        got = c.get_function_event_invoke_config(FunctionName=name)
        assert got["MaximumRetryAttempts"] == 0 and "MaximumEventAgeInSeconds" not in got
        c.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=2, MaximumEventAgeInSeconds=60)
        up = c.update_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
        assert (up["MaximumRetryAttempts"], up["MaximumEventAgeInSeconds"]) == (0, 60)
        configs = c.list_function_event_invoke_configs(FunctionName=name)["FunctionEventInvokeConfigs"]
        assert sorted(x["FunctionArn"] for x in configs) == sorted(
            [fn_arn(name, "$LATEST"), fn_arn(name, v), fn_arn(name, "eventinvokealias")])
        paged = c.list_function_event_invoke_configs(FunctionName=name, MaxItems=2)
        assert len(paged["FunctionEventInvokeConfigs"]) == 2 and paged["NextMarker"]
        for q in ("$LATEST", v, "eventinvokealias"):
            assert c.delete_function_event_invoke_config(FunctionName=name, Qualifier=q)[
                "ResponseMetadata"]["HTTPStatusCode"] == 204
        assert c.list_function_event_invoke_configs(FunctionName=name)["FunctionEventInvokeConfigs"] == []
        with expect_error("ResourceNotFoundException", 404,
                          f"The function {fn_arn(name, '$LATEST')} doesn't have an EventInvokeConfig"):
            c.delete_function_event_invoke_config(FunctionName=name)
        with expect_error("ResourceNotFoundException", 404,
                          f"The function {fn_arn('doesnotexist', '$LATEST')} doesn't have an EventInvokeConfig"):
            c.delete_function_event_invoke_config(FunctionName="doesnotexist")
        with expect_error("ResourceNotFoundException", 404, "The function doesn't exist."):
            c.list_function_event_invoke_configs(FunctionName="doesnotexist")
        with expect_error("ResourceNotFoundException", 404,
                          f"The function {fn_arn('doesnotexist', '$LATEST')} doesn't have an EventInvokeConfig"):
            c.get_function_event_invoke_config(FunctionName="doesnotexist")
        with expect_error("ResourceNotFoundException", 404,
                          f"The function {fn_arn(name, 'doesnotexist')} doesn't have an EventInvokeConfig"):
            c.get_function_event_invoke_config(FunctionName=name, Qualifier="doesnotexist")
        with expect_error("ResourceNotFoundException", 404, "The function doesn't exist."):
            c.update_function_event_invoke_config(FunctionName="doesnotexist", MaximumRetryAttempts=0)
        with expect_error("ResourceNotFoundException", 404,
                          f"The function {fn_arn(name, 'eventinvokealias')} doesn't have an EventInvokeConfig"):
            c.get_function_event_invoke_config(FunctionName=alias["AliasArn"])
        with expect_error("ResourceNotFoundException", 404,
                          f"The function {fn_arn(name, 'eventinvokealias')} doesn't have an EventInvokeConfig"):
            c.update_function_event_invoke_config(FunctionName=alias["AliasArn"], MaximumRetryAttempts=0)
        with expect_error("ResourceNotFoundException", 404,
                          f"The function {fn_arn(name, '$LATEST')} doesn't have an EventInvokeConfig"):
            c.update_function_event_invoke_config(FunctionName=arn, MaximumRetryAttempts=0)


class TestReadOnlyConfigs:
    def test_code_signing_config(self, lam, fn):
        name, _, _ = fn
        r = lam.get_function_code_signing_config(FunctionName=name)
        assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert raw_json(lam) == {}, "no code signing config attached: AWS answers {}"
        with expect_error("ResourceNotFoundException", 404, f"Function not found: {fn_arn('csc-test-doesnotexist')}"):
            lam.get_function_code_signing_config(FunctionName="csc-test-doesnotexist")

    def test_runtime_management_config(self, lam, fn):
        if not lt.has_operation(lam, "GetRuntimeManagementConfig"):
            pytest.skip("installed botocore has no GetRuntimeManagementConfig (too old)")
        name, _, _ = fn
        r = lam.get_runtime_management_config(FunctionName=name)
        assert r["UpdateRuntimeOn"] == "Auto"
        assert r["FunctionArn"].startswith(fn_arn(name))
        assert "RuntimeVersionArn" not in r
        with expect_error("ResourceNotFoundException", 404):
            lam.get_runtime_management_config(FunctionName=name + "-missing")

    def test_recursion_config(self, lam, fn):
        if not lt.has_operation(lam, "GetFunctionRecursionConfig"):
            pytest.skip("installed botocore has no Get/PutFunctionRecursionConfig (too old)")
        name, _, _ = fn
        assert lam.get_function_recursion_config(FunctionName=name)["RecursiveLoop"] == "Terminate"
        r = lam.put_function_recursion_config(FunctionName=name, RecursiveLoop="Allow")
        assert raw_json(lam) == {"RecursiveLoop": "Allow"}
        assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert lam.get_function_recursion_config(FunctionName=name)["RecursiveLoop"] == "Allow"
        with expect_error("ValidationException", 400, validation_message(
                "Value 'InvalidValue' at 'recursiveLoop' failed to satisfy constraint: Member must satisfy enum "
                "value set: [Terminate, Allow]")):
            lam.put_function_recursion_config(FunctionName=name, RecursiveLoop="InvalidValue")
        lam.put_function_recursion_config(FunctionName=name, RecursiveLoop="Terminate")
        assert lam.get_function_recursion_config(FunctionName=name)["RecursiveLoop"] == "Terminate"
        with expect_error("ResourceNotFoundException", 404):
            lam.get_function_recursion_config(FunctionName=name + "-missing")


class TestAccountSettings:
    LIMITS = {"TotalCodeSize": 80530636800, "CodeSizeUnzipped": 262144000, "CodeSizeZipped": 52428800,
              "ConcurrentExecutions": 1000, "UnreservedConcurrentExecutions": 1000}

    def test_account_settings_counts(self, fresh_account):
        acct, c = fresh_account
        s0 = c.get_account_settings()
        raw = raw_json(c)
        assert set(raw) == {"AccountLimit", "AccountUsage"}
        assert raw["AccountLimit"] == self.LIMITS
        assert raw["AccountUsage"] == {"FunctionCount": 0, "TotalCodeSize": 0}
        z = lt.handler_zip()
        name = lt.unique()
        lt.create_function(c, name, zip_bytes=z, Role=f"arn:aws:iam::{acct}:role/r")
        s1 = c.get_account_settings()["AccountUsage"]
        assert s1 == {"FunctionCount": 1, "TotalCodeSize": len(z)}
        # a config update does not store code
        c.update_function_configuration(FunctionName=name, Description="x")
        lt.wait_updated(c, name)
        assert c.get_account_settings()["AccountUsage"]["TotalCodeSize"] == len(z)
        # every published version counts its code
        c.publish_version(FunctionName=name)
        assert c.get_account_settings()["AccountUsage"] == {"FunctionCount": 1, "TotalCodeSize": 2 * len(z)}
        z2 = lt.handler_zip("bigger" * 50)
        c.update_function_code(FunctionName=name, ZipFile=z2, Publish=True)
        c.get_function(FunctionName=name)
        assert c.get_account_settings()["AccountUsage"] == {"FunctionCount": 1,
                                                            "TotalCodeSize": 2 * len(z2) + len(z)}
        c.delete_function(FunctionName=name)
        assert c.get_account_settings()["AccountUsage"] == {"FunctionCount": 0, "TotalCodeSize": 0}
        assert s0["AccountLimit"]["CodeSizeZipped"] == 52428800
