"""The sample app's tests, with pytest-lamina's fixtures: `lamina` (the session's server,
started by the plugin or the one `lamina run` made) and `lamina_reset` (the same, reset
before the test)."""
import json
from pathlib import Path

import pytest

TEMPLATE = Path(__file__).resolve().parent.parent / "template.yaml"


@pytest.fixture
def app(lamina_reset):
    lamina_reset.deploy_template(TEMPLATE, {"Greeting": "Hi"}, stack_name="pytest-app")
    return lamina_reset


def invoke(lamina, payload):
    out = lamina.client("lambda").invoke(FunctionName="greet", Payload=json.dumps(payload))
    return out.get("FunctionError"), json.load(out["Payload"])


def test_greets_by_name(app):
    assert invoke(app, {"name": "Ada"}) == (None, {"message": "Hi, Ada!"})


def test_a_missing_name_is_an_error(app):
    error, body = invoke(app, {})
    assert error == "Unhandled"
    assert body["errorType"] == "ValueError" and body["errorMessage"] == "no name given"
    assert [i["error_type"] for i in app.invocations("greet")] == ["ValueError"]


def test_what_ran_and_what_it_logged(app):
    invoke(app, {"name": "Ada"})
    invoke(app, {"name": "Grace"})
    recent = app.invocations("greet")
    assert [i["status"] for i in recent] == ["Success", "Success"]
    assert [i["cold"] for i in recent] == [False, True]  # newest first
    messages = app.logs("greet", filter_pattern='{ $.greeted = "Grace" }', wait_for="Grace")
    assert [json.loads(m)["greeted"] for m in messages] == ["Grace"]


def test_each_test_starts_from_nothing(lamina_reset):
    assert lamina_reset.client("lambda").list_functions()["Functions"] == []
    assert lamina_reset.invocations() == []
