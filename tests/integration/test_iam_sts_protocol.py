"""STS and IAM companions, the AWS error envelope, unknown operations, /health."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

import lamina_testlib as lt
from lamina_testlib import ACCOUNT, expect_error, fn_arn

TRUST = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                   "Action": "sts:AssumeRole"}],
})


class TestSts:
    def test_get_caller_identity_default_account(self, server):
        sts = server.client("sts")
        r = sts.get_caller_identity()
        assert r["Account"] == ACCOUNT
        assert r["Arn"].startswith(f"arn:aws:iam::{ACCOUNT}:")
        assert r["UserId"]
        assert r["ResponseMetadata"]["HTTPStatusCode"] == 200

    def test_get_caller_identity_account_from_access_key(self, server):
        sts = server.client("sts", key="111111111111")
        r = sts.get_caller_identity()
        assert r["Account"] == "111111111111"
        assert r["Arn"].startswith("arn:aws:iam::111111111111:")


class TestIam:
    def test_role_lifecycle(self, server, lam):
        iam = server.client("iam")
        name = lt.unique("MyFirstLambdaRole")
        r = iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST, Description="for lambda")["Role"]
        assert r["RoleName"] == name
        assert r["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/{name}"
        assert r["Path"] == "/"
        assert r["RoleId"]
        assert r["CreateDate"]
        g = iam.get_role(RoleName=name)["Role"]
        assert g["Arn"] == r["Arn"] and g["RoleName"] == name
        assert name in [x["RoleName"] for x in iam.list_roles()["Roles"]]
        with pytest.raises(ClientError) as e:
            iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)
        assert e.value.response["Error"]["Code"] == "EntityAlreadyExists"
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409

        arn_policy = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
        iam.attach_role_policy(RoleName=name, PolicyArn=arn_policy)
        attached = iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
        assert attached == [{"PolicyName": "AWSLambdaBasicExecutionRole", "PolicyArn": arn_policy}]
        doc = json.dumps({"Version": "2012-10-17",
                          "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}]})
        iam.put_role_policy(RoleName=name, PolicyName="inline-logs", PolicyDocument=doc)
        assert iam.list_role_policies(RoleName=name)["PolicyNames"] == ["inline-logs"]

        # the role ARN is usable by CreateFunction
        fn = lt.create_function(lam, Role=r["Arn"])
        assert fn["Role"] == r["Arn"]

        iam.detach_role_policy(RoleName=name, PolicyArn=arn_policy)
        assert iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"] == []
        iam.delete_role_policy(RoleName=name, PolicyName="inline-logs")
        assert iam.list_role_policies(RoleName=name)["PolicyNames"] == []
        iam.delete_role(RoleName=name)
        with pytest.raises(ClientError) as e:
            iam.get_role(RoleName=name)
        assert e.value.response["Error"]["Code"] == "NoSuchEntity"
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
        assert name in e.value.response["Error"]["Message"]
        assert name not in [x["RoleName"] for x in iam.list_roles()["Roles"]]

    def test_roles_are_per_account(self, server):
        iam_a = server.client("iam")
        iam_b = server.client("iam", key="222222222222")
        name = lt.unique("role")
        iam_b.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)
        assert iam_b.get_role(RoleName=name)["Role"]["Arn"] == f"arn:aws:iam::222222222222:role/{name}"
        with pytest.raises(ClientError) as e:
            iam_a.get_role(RoleName=name)
        assert e.value.response["Error"]["Code"] == "NoSuchEntity"


class TestProtocol:
    def test_request_id_and_error_envelope(self, lam):
        name = lt.unique("nope")
        ok = lam.get_account_settings()
        assert ok["ResponseMetadata"]["RequestId"]
        assert lam.last_http["headers"].get("x-amzn-requestid")
        with expect_error("ResourceNotFoundException", 404, f"Function not found: {fn_arn(name)}") as e:
            lam.get_function(FunctionName=name)
        h = lam.last_http["headers"]
        assert h.get("x-amzn-requestid")
        assert h.get("x-amzn-errortype", "").split(":")[0] == "ResourceNotFoundException"
        assert h.get("content-type", "").startswith("application/json")
        body = json.loads(lam.last_http["body"])
        assert body.get("Type") == "User"
        assert (body.get("Message") or body.get("message")) == f"Function not found: {fn_arn(name)}"
        assert e.response["ResponseMetadata"]["RequestId"] == h["x-amzn-requestid"]

    def test_unknown_route_gets_aws_shaped_error(self, server):
        status, headers, body = lt.http_request(server.url + "/2015-03-31/functions/x/no-such-operation",
                                                method="POST", body=b"{}",
                                                headers={"Content-Type": "application/json"})
        assert 400 <= status < 600 and status != 200
        assert headers.get("x-amzn-requestid")
        doc = json.loads(body)
        assert doc.get("message") or doc.get("Message")

    def test_unknown_service_gets_error_not_hang(self, server):
        dynamodb = server.client("dynamodb")  # (SQS and S3 are served: test_sqs.py, test_s3.py)
        with pytest.raises(ClientError) as e:
            dynamodb.list_tables()
        status = e.value.response["ResponseMetadata"]["HTTPStatusCode"]
        assert 400 <= status < 600
        assert e.value.response["Error"]["Code"]
        sns = server.client("sns")
        with pytest.raises(ClientError) as e:
            sns.list_topics()
        assert 400 <= e.value.response["ResponseMetadata"]["HTTPStatusCode"] < 600

    def test_unknown_query_action_gets_error(self, server):
        sts = server.client("sts")
        with pytest.raises(ClientError) as e:
            sts.get_session_token()
        assert 400 <= e.value.response["ResponseMetadata"]["HTTPStatusCode"] < 600

    def test_health(self, server):
        status, headers, body = lt.http_get(server.url + "/health")
        assert status == 200
        doc = json.loads(body)
        assert isinstance(doc, dict)
        assert "version" in doc
