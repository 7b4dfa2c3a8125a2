"""The tutorial's layer exercise ("Create and Use a Lambda Layer") through the real aws CLI,
control-plane steps only (no invoke), with the /opt tree checked on disk."""

from __future__ import annotations

import os
import shutil

import pytest

import lamina_testlib as lt
from lamina_testlib import ACCOUNT, REGION, fn_arn

pytestmark = pytest.mark.cli

SITE = "python/lib/python3.12/site-packages"

FUNCTION_PY = '''import json
import requests  # This comes from the layer!

def lambda_handler(event, context):
    """
    Test function using requests library from layer
    """
    try:
        # Make HTTP request using library from layer
        response = requests.get('https://httpbin.org/get')

        return {
            'statusCode': 200,
            'body': json.dumps({
                'message': 'Successfully used layer!',
                'response_code': response.status_code,
                'layer_test': 'PASSED'
            })
        }
    except Exception as e:
        return {
            'statusCode': 500,
            'body': json.dumps({
                'error': str(e),
                'layer_test': 'FAILED'
            })
        }
'''


def fake_requests(version: str) -> str:
    """A small stand-in for the requests package (PyPI is not reachable here)."""
    return (
        f'"""Fake requests {version} for the layer exercise."""\n'
        f"__version__ = {version!r}\n\n\n"
        "class Response:\n"
        "    status_code = 200\n\n\n"
        "def get(url, **kwargs):\n"
        "    return Response()\n"
    )


def build_layer_zip(workdir, dirname: str, zipname: str, version: str) -> tuple:
    """mkdir -p <dirname>/python/lib/python3.12/site-packages; put requests/ in it; zip -r <zip> python/"""
    layer_dir = workdir / dirname
    pkg = layer_dir / SITE / "requests"
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text(fake_requests(version))
    (pkg / "api.py").write_text(f"VERSION = {version!r}\n")
    base = shutil.make_archive(str(workdir / zipname.removesuffix(".zip")), "zip", root_dir=layer_dir,
                               base_dir="python")
    return base, open(base, "rb").read()


@pytest.mark.timeout_s(120)
def test_tutorial_layer_exercise(cli, server, lam, tmp_path):
    layer_name = lt.unique("requests-layer")
    fname = lt.unique("LayerTestFunction")

    # Step 1: create the layer with its dependencies
    zip1, data1 = build_layer_zip(tmp_path, "my-requests-layer", "my-requests-layer.zip", "2.28.0")

    # Step 2: publish it
    p1 = cli.json("lambda", "publish-layer-version", "--layer-name", layer_name,
                  "--description", "Requests library for HTTP calls",
                  "--zip-file", f"fileb://{zip1}",
                  "--compatible-runtimes", "python3.12", "python3.10", "python3.11")
    assert p1["LayerArn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:{layer_name}"
    assert p1["LayerVersionArn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:{layer_name}:1"
    assert p1["Version"] == 1
    assert p1["CompatibleRuntimes"] == ["python3.12", "python3.10", "python3.11"]
    assert p1["Description"] == "Requests library for HTTP calls"
    assert p1["Content"]["CodeSha256"] == lt.b64sha256(data1)
    assert p1["Content"]["CodeSize"] == len(data1)
    assert lt.LAST_MODIFIED_RE.match(p1["CreatedDate"])
    status, _, body = lt.http_get(p1["Content"]["Location"])
    assert status == 200 and body == data1

    # Step 3/4: the function, packaged without its dependencies
    (tmp_path / "function.py").write_text(FUNCTION_PY)
    fzip = shutil.make_archive(str(tmp_path / "function"), "zip", root_dir=tmp_path, base_dir="function.py")
    account_id = cli.run("sts", "get-caller-identity", "--query", "Account", "--output", "text").stdout.strip()
    assert account_id == ACCOUNT
    layer_arn_v1 = f"arn:aws:lambda:us-east-1:{account_id}:layer:{layer_name}:1"
    assert layer_arn_v1 == p1["LayerVersionArn"]
    created = cli.json("lambda", "create-function", "--function-name", fname, "--runtime", "python3.12",
                       "--role", f"arn:aws:iam::{account_id}:role/MyFirstLambdaRole",
                       "--handler", "function.lambda_handler", "--zip-file", f"fileb://{fzip}",
                       "--layers", layer_arn_v1)
    assert created["FunctionArn"] == fn_arn(fname)
    assert created["Runtime"] == "python3.12"
    assert created["Layers"] == [{"Arn": layer_arn_v1, "CodeSize": len(data1)}]
    # (Step 5 invokes it; control plane only here: wait until it is Active instead)
    cli.run("lambda", "wait", "function-active-v2", "--function-name", fname)
    status, _, doc = lt.opt_tree(server.url, fname)
    assert status == 200, doc
    assert doc["Layers"] == [layer_arn_v1]
    init_py = os.path.join(doc["Path"], SITE, "requests", "__init__.py")
    assert open(init_py).read() == fake_requests("2.28.0")

    # Step 6: a newer requests in the same folder, zipped again, published as version 2
    zip2, data2 = build_layer_zip(tmp_path, "my-requests-layer", "my-requests-layer-v2.zip", "2.31.0")
    assert data2 != data1
    p2 = cli.json("lambda", "publish-layer-version", "--layer-name", layer_name,
                  "--zip-file", f"fileb://{zip2}", "--compatible-runtimes", "python3.12")
    assert p2["Version"] == 2
    assert p2["LayerVersionArn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:{layer_name}:2"
    assert p2["CompatibleRuntimes"] == ["python3.12"]
    assert p2["Description"] == ""
    assert p2["Content"]["CodeSha256"] == lt.b64sha256(data2)
    # version 1 is unchanged
    v1 = cli.json("lambda", "get-layer-version", "--layer-name", layer_name, "--version-number", "1")
    assert v1["Content"]["CodeSha256"] == lt.b64sha256(data1)
    assert v1["CompatibleRuntimes"] == ["python3.12", "python3.10", "python3.11"]

    layer_arn_v2 = f"arn:aws:lambda:us-east-1:{account_id}:layer:{layer_name}:2"
    upd = cli.json("lambda", "update-function-configuration", "--function-name", fname, "--layers", layer_arn_v2)
    assert upd["Layers"] == [{"Arn": layer_arn_v2, "CodeSize": len(data2)}]
    cli.run("lambda", "wait", "function-updated-v2", "--function-name", fname)
    conf = cli.json("lambda", "get-function-configuration", "--function-name", fname)
    assert conf["Layers"] == [{"Arn": layer_arn_v2, "CodeSize": len(data2)}]
    assert conf["LastUpdateStatus"] == "Successful"

    # what /opt shows now: version 2's requests
    status, _, doc = lt.opt_tree(server.url, fname)
    assert status == 200, doc
    assert doc["Layers"] == [layer_arn_v2]
    init_py = os.path.join(doc["Path"], SITE, "requests", "__init__.py")
    assert open(init_py).read() == fake_requests("2.31.0")
    assert open(os.path.join(doc["Path"], SITE, "requests", "api.py")).read() == "VERSION = '2.31.0'\n"

    versions = cli.json("lambda", "list-layer-versions", "--layer-name", layer_name)["LayerVersions"]
    assert [v["Version"] for v in versions] == [2, 1]
    listed = cli.json("lambda", "list-layers", "--compatible-runtime", "python3.10")["Layers"]
    mine = [x for x in listed if x["LayerName"] == layer_name]
    assert len(mine) == 1 and mine[0]["LatestMatchingVersion"]["Version"] == 1, \
        "only version 1 declares python3.10"

    # Cleanup, as the tutorial does it
    cli.run("lambda", "delete-function", "--function-name", fname)
    cli.run("lambda", "delete-layer-version", "--layer-name", layer_name, "--version-number", "1")
    cli.run("lambda", "delete-layer-version", "--layer-name", layer_name, "--version-number", "2")
    assert cli.json("lambda", "list-layer-versions", "--layer-name", layer_name) == {"LayerVersions": []}
    p = cli.run("lambda", "get-function", "--function-name", fname, check=False)
    assert p.returncode != 0 and "ResourceNotFoundException" in p.stderr
    p = cli.run("lambda", "get-layer-version", "--layer-name", layer_name, "--version-number", "1", check=False)
    assert p.returncode != 0
    assert ("An error occurred (ResourceNotFoundException) when calling the GetLayerVersion operation: "
            "The resource you requested does not exist.") in p.stderr, p.stderr
    with lt.expect_error("ResourceNotFoundException", 404):
        lam.get_layer_version(LayerName=layer_name, VersionNumber=2)
