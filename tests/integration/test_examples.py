"""Every example under examples/ runs green against a live lamina."""
import os
import subprocess

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


@pytest.mark.timeout_s(120)
def test_versions_and_aliases_example(server):
    env = dict(os.environ, LAMINA_ENDPOINT=server.url, AWS_ACCESS_KEY_ID="test",
               AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION="us-east-1")
    out = subprocess.run(["bash", os.path.join(REPO, "examples/versions-and-aliases/run.sh")],
                         env=env, capture_output=True, text=True, timeout=110)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "account: 123456789012"
    assert "published: 1" in lines and "published: 2" in lines
    assert "versions: $LATEST\t1\t2" in lines
    assert '"2": 0.1' in out.stdout and '"2": 0.5' in out.stdout
    assert lines[-1] == "done"
