"""One producer's bad request on the inbox never hurts another producer's run."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import trio

from mira_actors import Actor
from supervisors import (
    Step,
    UnknownRunError,
    Workflow,
    WorkflowReply,
    WorkflowRequest,
    open_workflow_supervisor,
)


class Sleeper(Actor):
    """Sleeps ``data['delay']`` seconds, then answers success."""

    async def handle(self, message: Any) -> Any:
        await trio.sleep(message["data"].get("delay", 0))
        return {"status": "success", "data": "done"}


class UnhashableName(str):
    """A workflow name whose hash raises: a lookup by it fails with an unexpected error."""

    __slots__ = ()

    def __hash__(self) -> int:
        raise RuntimeError("no hash for you")


def nested(depth: int) -> Any:
    value: Any = "w"
    for _ in range(depth):
        value = [value]
    return value


WORKFLOW = Workflow(name="w", steps=[Step(name="s", message_type="t")])

BAD_REQUESTS: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "huge int timeout",
        {"timeout": 10**400},
        "Timeout is too large, got <int of 1329 bits>; use math.inf for no deadline",
        "invalid_timeout",
    ),
    (
        "huge int workflow_type",
        {"workflow_type": 10**5000},
        "Unknown workflow type: <int of 16610 bits> (known: w)",
        "unknown_workflow",
    ),
    (
        "deeply nested workflow_type",
        {"workflow_type": nested(1000)},
        "Unknown workflow type: [[[[...]]]] (known: w)",
        "unknown_workflow",
    ),
    (
        "5 MB workflow_type",
        {"workflow_type": "x" * 5_000_000},
        f"Unknown workflow type: '{'x' * 99}... (known: w)",
        "unknown_workflow",
    ),
    (
        "workflow_type whose hash raises",
        {"workflow_type": UnhashableName("w")},
        "The workflow request could not be run: RuntimeError('no hash for you')",
        "invalid_request",
    ),
    (
        "data nested too deep to store",
        {"data": {"delay": 0, "x": nested(100_000)}},
        "Invalid workflow data: workflow data cannot be stored",
        "unstorable_data",
    ),
]


@pytest.mark.parametrize(
    ("fields", "error", "error_type"),
    [case[1:] for case in BAD_REQUESTS],
    ids=[case[0] for case in BAD_REQUESTS],
)
async def test_bad_request_gets_an_error_reply_and_other_runs_go_on(
    autojump_clock: trio.abc.Clock, fields: dict[str, Any], error: str, error_type: str
) -> None:
    """A bad request is answered with a short error; another producer's run still succeeds."""
    mine_send, mine_receive = trio.open_memory_channel[WorkflowReply](1)
    bad_send, bad_receive = trio.open_memory_channel[WorkflowReply](1)
    async with open_workflow_supervisor(workflows=[WORKFLOW]) as supervisor:
        await supervisor.spawn(Sleeper, name="sleeper", handles=["t"])
        await supervisor.inbox.send(
            WorkflowRequest(workflow_type="w", data={"delay": 3}, reply_to=mine_send)
        )
        await trio.sleep(1)
        request: dict[str, Any] = {"workflow_type": "w", "data": {}, "reply_to": bad_send}
        await supervisor.inbox.send(WorkflowRequest(**{**request, **fields}))
        bad = await bad_receive.receive()
        assert trio.current_time() == 1
        mine = await mine_receive.receive()
        assert trio.current_time() == 3
    assert bad.report.outcome == "error"
    assert bad.report.error_type == error_type
    assert bad.response["status"] == "error"
    assert bad.response["error"].startswith(error)
    assert len(bad.response["error"]) < 400
    assert len(bad.response["workflow_type"]) < 110
    assert mine.report.outcome == "success"


class RaisingChannel(trio.abc.SendChannel[WorkflowReply]):
    """A producer's own reply channel whose send raises."""

    async def send(self, value: WorkflowReply) -> None:
        raise RuntimeError("broken by design")

    async def aclose(self) -> None:
        pass


async def test_reply_channel_that_raises_is_logged_and_dropped(
    autojump_clock: trio.abc.Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """A reply channel that raises costs only its own reply: logged, dropped; serving goes on."""
    send, receive = trio.open_memory_channel[WorkflowReply](1)
    async with open_workflow_supervisor(workflows=[WORKFLOW]) as supervisor:
        await supervisor.spawn(Sleeper, name="sleeper", handles=["t"])
        await supervisor.inbox.send(
            WorkflowRequest(workflow_type="w", data={}, reply_to=RaisingChannel())  # type: ignore[arg-type]
        )
        await supervisor.inbox.send(WorkflowRequest(workflow_type="w", data={}, reply_to=send))
        reply = await receive.receive()
    assert reply.report.outcome == "success"
    [dropped] = [r for r in caplog.records if r.name == "supervisors.workflow"]
    assert dropped.levelno == logging.ERROR
    assert dropped.getMessage() == "workflow reply dropped: the reply channel raised RuntimeError"


async def test_resume_of_a_huge_id_is_a_short_error() -> None:
    """Resuming a 1 MB workflow_id raises UnknownRunError whose text quotes it cut short."""
    async with open_workflow_supervisor(workflows=[WORKFLOW]) as supervisor:
        with pytest.raises(UnknownRunError) as raised:
            await supervisor.resume("x" * 1_000_000)
    assert len(str(raised.value)) < 300
    assert str(raised.value).startswith("no run with workflow_id '" + "x" * 99 + "... is stored")
