"""Workflows as data: Step and Workflow validation, and reading an agent's reply."""

from __future__ import annotations

import types
from typing import Any

import attrs
import pytest

from supervisors import Step, Workflow, read_agent_reply

# Step


def test_step_sends_the_workflow_data_unchanged_by_default() -> None:
    """Without build_input, a step's message data is the workflow data itself."""
    data = {"name": "P"}
    step = Step(name="plan", message_type="generate_plan")
    assert step.build_input(data, {"earlier": 1}) is data


def test_step_uses_its_input_builder() -> None:
    """build_input gets the workflow data and the earlier results by step name."""
    step = Step(name="b", message_type="t", build_input=lambda data, results: (data, results["a"]))
    assert step.build_input("d", {"a": 1}) == ("d", 1)


@pytest.mark.parametrize("field", ["name", "message_type"])
def test_step_names_must_not_be_empty(field: str) -> None:
    """An empty name or message type is a ValueError naming the field."""
    fields = {"name": "s", "message_type": "t", field: ""}
    with pytest.raises(ValueError, match=f"{field} must be a non-empty str, got ''"):
        Step(**fields)


@pytest.mark.parametrize("field", ["name", "message_type"])
@pytest.mark.parametrize("value", [None, 3, b"plan", ["plan"]])
def test_step_names_must_be_str(field: str, value: Any) -> None:
    """A name or message type that is not a str is a TypeError naming the field."""
    fields: dict[str, Any] = {"name": "s", "message_type": "t", field: value}
    with pytest.raises(TypeError, match=f"{field} must be a non-empty str"):
        Step(**fields)


def test_step_input_builder_must_be_callable() -> None:
    """A build_input that cannot be called is refused when the step is made, not at run time."""
    with pytest.raises(TypeError, match="build_input"):
        Step(name="s", message_type="t", build_input={"not": "callable"})  # type: ignore[arg-type]


def test_step_is_frozen() -> None:
    """A step cannot be changed after it is made."""
    step = Step(name="s", message_type="t")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        step.name = "other"  # type: ignore[misc]


# Workflow


def test_workflow_keeps_its_steps_in_order_as_a_tuple() -> None:
    """Any iterable of steps becomes a tuple in the order given."""
    steps = [Step(name=n, message_type="t") for n in "cab"]
    workflow = Workflow(name="wf", steps=iter(steps))
    assert workflow.steps == tuple(steps)


def test_workflow_needs_at_least_one_step() -> None:
    """A workflow with no steps is a ValueError naming the workflow."""
    with pytest.raises(ValueError, match="workflow 'wf' needs a non-empty sequence of Step"):
        Workflow(name="wf", steps=[])


@pytest.mark.parametrize("steps", [["generate_plan"], [Step(name="s", message_type="t"), None]])
def test_workflow_steps_must_be_steps(steps: list[Any]) -> None:
    """A step that is not a Step is a TypeError naming the workflow."""
    with pytest.raises(TypeError, match="workflow 'wf' needs a non-empty sequence of Step"):
        Workflow(name="wf", steps=steps)


def test_workflow_steps_must_be_iterable() -> None:
    """Steps that are not iterable are a TypeError."""
    with pytest.raises(TypeError):
        Workflow(name="wf", steps=None)  # type: ignore[arg-type]


def test_workflow_step_names_must_be_unique() -> None:
    """Two steps with one name are a ValueError listing the names."""
    steps = [Step(name="a", message_type="t"), Step(name="a", message_type="u")]
    with pytest.raises(ValueError, match=r"duplicate step names: \['a', 'a'\]"):
        Workflow(name="wf", steps=steps)


@pytest.mark.parametrize(("value", "error"), [("", ValueError), (None, TypeError)])
def test_workflow_name_is_checked(value: Any, error: type[Exception]) -> None:
    """A workflow's name must be a non-empty str."""
    with pytest.raises(error, match="name must be a non-empty str"):
        Workflow(name=value, steps=[Step(name="s", message_type="t")])


# read_agent_reply


def test_success_reply_gives_its_data() -> None:
    """An agent's 'success' reply is a success carrying its 'data'."""
    reply = {"agent_id": "a", "status": "success", "data": {"x": 1}, "error": None}
    assert read_agent_reply(reply) == ("success", {"x": 1}, None)


def test_error_reply_gives_its_error() -> None:
    """An agent's 'error' reply is an error carrying its data and error text."""
    reply = {"status": "error", "data": None, "error": "Invalid message format"}
    assert read_agent_reply(reply) == ("error", None, "Invalid message format")


@pytest.mark.parametrize("error", [None, "", "missing"])
def test_failure_without_error_text_says_what_the_agent_answered(error: str) -> None:
    """A failed reply with no error text is explained by the status it carried."""
    reply = {"status": "error", "data": 5}
    if error != "missing":
        reply["error"] = error
    assert read_agent_reply(reply) == ("error", 5, "the agent answered 'error'")


def test_other_status_is_a_failure_with_that_status() -> None:
    """A reply with a str status other than 'success' fails with that status."""
    reply = {"status": "timeout", "error": "too slow"}
    assert read_agent_reply(reply) == ("timeout", None, "too slow")


@pytest.mark.parametrize("status", [None, 1, True, ["success"]])
def test_non_str_status_is_an_error(status: Any) -> None:
    """A reply whose status is not a str is an 'error'."""
    status_name, _, error = read_agent_reply({"status": status})
    assert status_name == "error"
    assert error == f"the agent answered {status!r}"


@pytest.mark.parametrize("reply", [42, None, "text", [1, 2], {"data": 1}, {"result": "x"}])
def test_reply_without_status_is_a_success_as_it_stands(reply: Any) -> None:
    """A reply that is not a mapping with a 'status' is a successful result, unchanged."""
    assert read_agent_reply(reply) == ("success", reply, None)


def test_any_mapping_with_a_status_is_read() -> None:
    """A read-only mapping is read like a dict."""
    reply = types.MappingProxyType({"status": "success", "data": [1]})
    assert read_agent_reply(reply) == ("success", [1], None)
