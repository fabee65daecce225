import datetime
import threading
from typing import Any

import pytest

from mira_actors.agents.base_agent import BaseAgent


class EchoAgent(BaseAgent):
    agent_id = "echo_agent"
    handlers = {"echo": "echo", "fail": "fail", "fail_silently": "fail_silently"}

    def echo(self, data: Any) -> Any:
        return data

    def fail(self, data: Any) -> Any:
        msg = "the echo broke"
        raise ValueError(msg)

    def fail_silently(self, data: Any) -> Any:
        raise KeyError


class ThreadRecordingAgent(BaseAgent):
    agent_id = "thread_agent"
    handlers = {"where": "where"}

    def where(self, data: Any) -> int:
        return threading.get_ident()


class ThreadBackendRecordingAgent(ThreadRecordingAgent):
    backend = "thread"


def without_timestamp(response: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in response.items() if key != "timestamp"}


def test_success_response_carries_the_result() -> None:
    """A handled message gets a 'success' response with the method's result."""
    response = EchoAgent().respond({"type": "echo", "data": {"x": 1}})
    assert without_timestamp(response) == {
        "agent_id": "echo_agent",
        "status": "success",
        "data": {"x": 1},
        "error": None,
    }


def test_timestamp_is_iso_utc() -> None:
    """The response timestamp is an ISO-8601 string in UTC."""
    response = EchoAgent().respond({"type": "echo", "data": {}})
    timestamp = datetime.datetime.fromisoformat(response["timestamp"])
    assert timestamp.utcoffset() == datetime.timedelta(0)


@pytest.mark.parametrize(
    "message",
    [
        None,
        "echo",
        ["echo", {}],
        {},
        {"type": "echo"},
        {"data": {}},
    ],
)
def test_malformed_message_is_invalid_format(message: Any) -> None:
    """A message that is not a mapping with both 'type' and 'data' is rejected."""
    response = EchoAgent().respond(message)
    assert without_timestamp(response) == {
        "agent_id": "echo_agent",
        "status": "error",
        "data": None,
        "error": "Invalid message format",
    }


@pytest.mark.parametrize(
    ("message_type", "error"),
    [
        ("shout", "Unknown message type: shout"),
        (42, "Unknown message type: 42"),
        (None, "Unknown message type: None"),
    ],
)
def test_unknown_message_type(message_type: Any, error: str) -> None:
    """A type with no handler gets 'Unknown message type: <type>'."""
    response = EchoAgent().respond({"type": message_type, "data": {}})
    assert response["status"] == "error"
    assert response["error"] == error
    assert response["data"] is None


def test_exception_becomes_error_response() -> None:
    """An exception in the handler becomes an 'error' response with its text."""
    response = EchoAgent().respond({"type": "fail", "data": {}})
    assert without_timestamp(response) == {
        "agent_id": "echo_agent",
        "status": "error",
        "data": None,
        "error": "the echo broke",
    }


def test_exception_without_text_reports_its_type() -> None:
    """An exception with no message is reported by its class name."""
    response = EchoAgent().respond({"type": "fail_silently", "data": {}})
    assert response["status"] == "error"
    assert response["error"] == "KeyError"


def test_message_types_lists_the_handlers() -> None:
    """message_types is the set of handled message types."""
    assert EchoAgent().message_types == frozenset({"echo", "fail", "fail_silently"})


@pytest.mark.parametrize(
    "message",
    [
        {"type": "echo", "data": [1, 2]},
        {"type": "fail", "data": {}},
        {"type": "shout", "data": {}},
        {"data": {}},
    ],
)
async def test_handle_answers_like_respond(message: Any) -> None:
    """await handle() gives the same response as respond(), timestamp aside."""
    agent = EchoAgent()
    assert without_timestamp(await agent.handle(message)) == without_timestamp(
        agent.respond(message)
    )


async def test_inline_agent_runs_on_the_trio_thread() -> None:
    """An agent on the default (inline) backend runs its method on the trio thread."""
    response = await ThreadRecordingAgent().handle({"type": "where", "data": {}})
    assert response["data"] == threading.get_ident()


async def test_thread_backend_agent_runs_in_a_worker_thread() -> None:
    """An agent declaring backend = 'thread' runs its method in a worker thread."""
    response = await ThreadBackendRecordingAgent().handle({"type": "where", "data": {}})
    assert response["status"] == "success"
    assert response["data"] != threading.get_ident()


async def test_thread_backend_agent_failure_becomes_error_response() -> None:
    """A thread-backend agent's exception still comes back as an 'error' response."""

    class ThreadEchoAgent(EchoAgent):
        backend = "thread"

    response = await ThreadEchoAgent().handle({"type": "fail", "data": {}})
    assert response["status"] == "error"
    assert response["error"] == "the echo broke"


class CountingAgent(BaseAgent):
    """Small limits, to test them: says whether it ran on the main thread."""

    agent_id = "counting_agent"
    handlers = {"where": "where", "echo": "echo"}
    max_message_items = 20
    max_result_items = 5
    inline_max_items = 3

    def where(self, data: Any) -> bool:
        return threading.current_thread() is threading.main_thread()

    def echo(self, data: Any) -> Any:
        return data


async def test_a_message_over_the_item_limit_gets_an_error_at_once() -> None:
    """A message whose data holds more than max_message_items items is refused, saying so."""
    response = await CountingAgent().handle({"type": "where", "data": {"goals": [0] * 30}})
    assert response["status"] == "error"
    assert response["error"] == (
        "message too large: about 31 items in its data, over this agent's limit of 20 "
        "(BaseAgent.max_message_items)"
    )


async def test_a_result_over_the_item_limit_becomes_an_error() -> None:
    """A result of more than max_result_items items is answered as an error instead."""
    agent = CountingAgent()
    assert (await agent.handle({"type": "echo", "data": [1, 2]}))["data"] == [1, 2]
    response = await agent.handle({"type": "echo", "data": [0] * 6})
    assert response["status"] == "error"
    assert response["error"].startswith("result too large: about 6 items")


async def test_a_big_inline_message_runs_off_the_trio_thread() -> None:
    """An inline agent's message over inline_max_items runs in a worker thread."""
    agent = CountingAgent()
    assert (await agent.handle({"type": "where", "data": [1]}))["data"] is True
    assert (await agent.handle({"type": "where", "data": [1, 2, 3, 4]}))["data"] is False
