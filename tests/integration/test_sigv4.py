"""`lamina serve --auth sigv4`: every AWS call must be signed by a key from
the credentials file, whose account it then acts in; unsigned, unknown-key
and mis-signed requests get AWS's errors. Driven with boto3 and the aws CLI."""
import json
import urllib.request

import pytest
from botocore.exceptions import ClientError

import lamina_testlib as lt

ALICE = ("AKIAALICE0000000001", "alice-secret", "111111111111")
BOB = ("AKIABOB000000000002", "bob-secret", "222222222222")


@pytest.fixture(scope="module")
def signed_server(tmp_path_factory):
    d = tmp_path_factory.mktemp("sigv4")
    creds = d / "credentials"
    creds.write_text("# key secret account\n" + "\n".join(" ".join(c) for c in (ALICE, BOB)) + "\n")
    srv = lt.LaminaServer(data_dir=d / "data", log_path=d / "server.log",
                          extra_args=["--auth", "sigv4", "--credentials", str(creds)])
    srv.start()
    yield srv
    srv.stop()


def client(srv, cred, service="lambda", secret=None):
    import boto3
    from botocore.config import Config
    return boto3.session.Session().client(
        service, endpoint_url=srv.url, region_name="us-east-1", aws_access_key_id=cred[0],
        aws_secret_access_key=secret or cred[1],
        config=Config(retries={"total_max_attempts": 1}, proxies={}))


def test_signed_requests_act_in_the_keys_account(signed_server):
    alice, bob = client(signed_server, ALICE), client(signed_server, BOB)
    name = lt.unique("signed")
    out = alice.create_function(FunctionName=name, Runtime="python3.12", Role=f"arn:aws:iam::{ALICE[2]}:role/r",
                                Handler="handler.handler", Code={"ZipFile": lt.make_zip(
                                    {"handler.py": "import os\ndef handler(e, c):\n    return os.environ['AWS_ACCESS_KEY_ID']\n"})})
    assert out["FunctionArn"] == f"arn:aws:lambda:us-east-1:{ALICE[2]}:function:{name}"
    assert [f["FunctionName"] for f in alice.list_functions()["Functions"]] == [name]
    assert bob.list_functions()["Functions"] == []  # accounts are separated by key
    # the function gets a real key of its account, so SDK calls from inside can be signed too
    assert json.loads(alice.invoke(FunctionName=name)["Payload"].read()) == ALICE[0]
    assert client(signed_server, ALICE, "sts").get_caller_identity()["Account"] == ALICE[2]


def test_unsigned_unknown_key_and_wrong_secret_are_refused(signed_server):
    # unsigned
    req = urllib.request.Request(signed_server.url + "/2015-03-31/functions/")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 403
    assert e.value.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert json.loads(e.value.read())["message"] == "Missing Authentication Token"
    # a key lamina does not know
    with pytest.raises(ClientError) as e:
        client(signed_server, ("AKIAUNKNOWN00000000", "x", "")).list_functions()
    assert e.value.response["Error"]["Code"] == "UnrecognizedClientException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert e.value.response["Error"]["Message"] == "The security token included in the request is invalid."
    # the right key, the wrong secret
    with pytest.raises(ClientError) as e:
        client(signed_server, ALICE, secret="not-alices").list_functions()
    assert e.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert e.value.response["Error"]["Message"].startswith("The request signature we calculated does not match")
    # lamina's own pages stay open
    assert lt.http_get(signed_server.url + "/health")[0] == 200


def test_the_aws_cli_signs_paths_queries_and_qualified_names(signed_server, tmp_path):
    cli = lt.AwsCli(signed_server.port, tmp_path)
    cli.env.update({"AWS_ACCESS_KEY_ID": BOB[0], "AWS_SECRET_ACCESS_KEY": BOB[1]})
    name = lt.unique("cli-signed")
    (tmp_path / "f.zip").write_bytes(lt.make_zip({"handler.py": "def handler(e, c):\n    return 1\n"}))
    cli.json("lambda", "create-function", "--function-name", name, "--runtime", "python3.12", "--role",
             f"arn:aws:iam::{BOB[2]}:role/r", "--handler", "handler.handler", "--zip-file", f"fileb://{tmp_path / 'f.zip'}")
    cli.json("lambda", "publish-version", "--function-name", name)
    cli.json("lambda", "create-alias", "--function-name", name, "--name", "live", "--function-version", "1")
    # a qualified ARN in the path (':' encoded) and a query string (Qualifier, MaxItems)
    got = cli.json("lambda", "get-function", "--function-name", f"arn:aws:lambda:us-east-1:{BOB[2]}:function:{name}:live")
    assert got["Configuration"]["Version"] == "1"
    assert cli.json("lambda", "list-versions-by-function", "--function-name", name, "--max-items", "1")["Versions"]
    cli.env["AWS_SECRET_ACCESS_KEY"] = "wrong"
    p = cli.run("lambda", "list-functions", check=False)
    assert p.returncode != 0 and "InvalidSignatureException" in p.stderr


def test_resource_policies_let_other_accounts_invoke(signed_server):
    """Another account may invoke a function only as its resource policy says:
    the unqualified function, a version and an alias each have their own policy."""
    alice, bob = client(signed_server, ALICE), client(signed_server, BOB)
    name = lt.unique("shared")
    alice.create_function(FunctionName=name, Runtime="python3.12", Role=f"arn:aws:iam::{ALICE[2]}:role/r",
                          Handler="handler.handler", Code={"ZipFile": lt.make_zip(
                              {"handler.py": "def handler(e, c):\n    return [c.invoked_function_arn, e]\n"})})
    version = alice.publish_version(FunctionName=name)["Version"]
    alice.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    arn = f"arn:aws:lambda:us-east-1:{ALICE[2]}:function:{name}"

    def bob_invokes(target):
        r = bob.invoke(FunctionName=target, Payload=b'{"from": "bob"}')
        return json.loads(r["Payload"].read())

    def denied(target):
        with pytest.raises(ClientError) as e:
            bob_invokes(target)
        assert e.value.response["Error"]["Code"] == "AccessDeniedException"
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        assert e.value.response["Error"]["Message"] == (
            f"User: arn:aws:iam::{BOB[2]}:root is not authorized to perform: lambda:InvokeFunction on resource: "
            f"{target} because no resource-based policy allows the lambda:InvokeFunction action")

    denied(arn)
    denied(arn + ":live")
    denied(f"arn:aws:lambda:us-east-1:{ALICE[2]}:function:nonexistent")  # existence is not revealed
    # bob's account on the alias only
    alice.add_permission(FunctionName=name, Qualifier="live", StatementId="bob-live",
                         Action="lambda:InvokeFunction", Principal=BOB[2])
    assert bob_invokes(arn + ":live") == [arn + ":live", {"from": "bob"}]
    denied(arn)
    denied(arn + ":" + version)
    # a statement for a service, or one with a condition, admits no account
    alice.add_permission(FunctionName=name, StatementId="s3", Action="lambda:InvokeFunction",
                         Principal="s3.amazonaws.com", SourceAccount=BOB[2])
    denied(arn)
    # everyone, on the function itself
    alice.add_permission(FunctionName=name, StatementId="all", Action="lambda:*", Principal="*")
    assert bob_invokes(arn)[0] == arn
    # the invocation ran in alice's account: bob has no such function
    assert name not in [f["FunctionName"] for f in bob.list_functions()["Functions"]]
    # other operations are still refused across accounts
    with pytest.raises(ClientError) as e:
        bob.get_function(FunctionName=arn)
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    # removing the statement takes the right away again
    alice.remove_permission(FunctionName=name, StatementId="all")
    denied(arn)


def test_layer_permissions_let_other_accounts_use_a_layer(signed_server):
    alice, bob = client(signed_server, ALICE), client(signed_server, BOB)
    layer = alice.publish_layer_version(LayerName=lt.unique("lib"), Content={"ZipFile": lt.make_zip(
        {"python/shared_lib.py": "WHO = 'alice'\n"})})
    arn = layer["LayerVersionArn"]
    name = lt.unique("uses")
    kw = dict(FunctionName=name, Runtime="python3.12", Role=f"arn:aws:iam::{BOB[2]}:role/r", Handler="handler.handler",
              Code={"ZipFile": lt.make_zip({"handler.py": "import shared_lib\ndef handler(e, c):\n    return shared_lib.WHO\n"})},
              Layers=[arn])
    with pytest.raises(ClientError) as e:
        bob.create_function(**kw)
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    assert name not in [f["FunctionName"] for f in bob.list_functions()["Functions"]]
    alice.add_layer_version_permission(LayerName=layer["LayerArn"].split(":")[-1], VersionNumber=layer["Version"],
                                       StatementId="bob", Action="lambda:GetLayerVersion", Principal=BOB[2])
    bob.create_function(**kw)
    lt.wait_active(bob, name)
    assert json.loads(bob.invoke(FunctionName=name)["Payload"].read()) == "alice"
