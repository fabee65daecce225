"""The workflow supervisor's channel API: WorkflowRequest into the inbox, WorkflowReply back."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio

from mira_actors import Actor
from supervisors import (
    DEFAULT_TIMEOUT,
    Step,
    Workflow,
    WorkflowReply,
    WorkflowRequest,
    WorkflowSupervisor,
    open_workflow_supervisor,
)

Journal = list[tuple[str, str, float]]


class Agent(Actor):
    """Sleeps ``data['delay']`` seconds, then echoes ``data['value']``; journals virtual times."""

    def __init__(self, name: str, journal: Journal) -> None:
        self.name = name
        self.journal = journal

    async def handle(self, message: Any) -> Any:
        data = message["data"]
        self.journal.append(("start", self.name, trio.current_time()))
        try:
            await trio.sleep(data.get("delay", 0))
        except trio.Cancelled:
            self.journal.append(("cancel", self.name, trio.current_time()))
            raise
        self.journal.append(("end", self.name, trio.current_time()))
        return {"status": "success", "data": {"by": self.name, "echo": data.get("value")}}


def single_step(name: str, message_type: str) -> Workflow:
    return Workflow(name=name, steps=[Step(name="s", message_type=message_type)])


@asynccontextmanager
async def open_with_agents(journal: Journal, *names: str) -> AsyncIterator[WorkflowSupervisor]:
    """Open a supervisor with, for each name, its own agent and a workflow of that name."""
    workflows = [single_step(name, f"t_{name}") for name in names]
    async with open_workflow_supervisor(workflows=workflows) as supervisor:
        for name in names:
            await supervisor.spawn(Agent, name, journal, name=name, handles=[f"t_{name}"])
        yield supervisor


async def test_request_gets_its_reply(autojump_clock: trio.abc.Clock) -> None:
    """A request sent into the inbox is answered on its reply channel with its run's report."""
    send, receive = trio.open_memory_channel[WorkflowReply](1)
    async with open_workflow_supervisor(workflows=[single_step("w", "t")]) as supervisor:
        await supervisor.spawn(Agent, "agent", [], name="agent", handles=["t"])
        request = WorkflowRequest(
            workflow_type="w", data={"value": 1, "delay": 2}, reply_to=send, tag=("mine", 1)
        )
        await supervisor.inbox.send(request)
        reply = await receive.receive()
        assert trio.current_time() == 2
    assert reply.request is request
    assert reply.request.tag == ("mine", 1)
    assert reply.report.outcome == "success"
    assert reply.response == reply.report.response()
    assert re.fullmatch("[0-9a-f]{32}", reply.report.workflow_id)
    assert reply.response == {
        "workflow_id": reply.report.workflow_id,
        "workflow_type": "w",
        "steps": [
            {"step": "s", "status": "success", "result": {"by": "agent", "echo": 1}, "attempts": 1}
        ],
    }


def test_request_defaults() -> None:
    """A request's timeout defaults to DEFAULT_TIMEOUT and its tag to None."""
    send, _ = trio.open_memory_channel[WorkflowReply](0)
    request = WorkflowRequest(workflow_type="w", data=None, reply_to=send)
    assert (request.timeout, request.tag) == (DEFAULT_TIMEOUT, None)


@pytest.mark.parametrize("reply_to", [None, "channel", trio.open_memory_channel[Any](0)[1]])
def test_request_needs_a_send_channel_to_reply_to(reply_to: Any) -> None:
    """A request whose reply_to cannot be sent on is refused when it is made."""
    with pytest.raises(TypeError, match="reply_to"):
        WorkflowRequest(workflow_type="w", data=None, reply_to=reply_to)


async def test_several_producers_get_their_own_replies(autojump_clock: trio.abc.Clock) -> None:
    """Each producer gets exactly the replies to its requests, matched by tag."""
    got: dict[str, list[WorkflowReply]] = {}
    async with open_workflow_supervisor(workflows=[single_step("w", "t")]) as supervisor:
        await supervisor.spawn(Agent, "agent", [], name="agent", handles=["t"])

        async def producer(who: str, inbox: trio.MemorySendChannel[WorkflowRequest]) -> None:
            send, receive = trio.open_memory_channel[WorkflowReply](math.inf)
            async with inbox:
                for i in range(5):
                    await inbox.send(
                        WorkflowRequest(
                            workflow_type="w",
                            data={"value": f"{who}-{i}", "delay": 1},
                            reply_to=send,
                            tag=(who, i),
                        )
                    )
            got[who] = [await receive.receive() for _ in range(5)]

        async with trio.open_nursery() as nursery:
            for who in ("p", "q", "r"):
                nursery.start_soon(producer, who, supervisor.inbox.clone())
    assert sorted(got) == ["p", "q", "r"]
    for who, replies in got.items():
        assert sorted(reply.request.tag for reply in replies) == [(who, i) for i in range(5)]
        for reply in replies:
            _, i = reply.request.tag
            assert reply.response["steps"][0]["result"]["echo"] == f"{who}-{i}"
    ids = {reply.report.workflow_id for replies in got.values() for reply in replies}
    assert len(ids) == 15


async def test_requests_run_at_once_under_their_own_deadlines(
    autojump_clock: trio.abc.Clock,
) -> None:
    """Requests run concurrently; each is answered at its own deadline or completion."""
    journal: Journal = []
    send, receive = trio.open_memory_channel[WorkflowReply](math.inf)
    answered = []
    async with open_with_agents(journal, "slow", "quick", "none") as supervisor:
        for name, delay, timeout in [("slow", 10, 4), ("quick", 2, 5), ("none", 1, 0)]:
            request = WorkflowRequest(
                workflow_type=name, data={"delay": delay}, reply_to=send, timeout=timeout, tag=name
            )
            await supervisor.inbox.send(request)
        for _ in range(3):
            reply = await receive.receive()
            answered.append((reply.request.tag, reply.report.outcome, trio.current_time()))
    assert sorted(answered, key=lambda a: a[2]) == [
        ("none", "timeout", 0),
        ("quick", "success", 2),
        ("slow", "timeout", 4),
    ]
    assert ("cancel", "slow", 4) in journal
    assert [j for j in journal if j[1] == "none"] == []


@pytest.mark.parametrize("close", ["receive end", "send end"])
async def test_closed_reply_channel_does_not_break_the_supervisor(
    autojump_clock: trio.abc.Clock, caplog: pytest.LogCaptureFixture, close: str
) -> None:
    """A reply nobody can take is dropped with a warning; other requests are still answered."""
    caplog.set_level(logging.WARNING)
    gone_send, gone_receive = trio.open_memory_channel[WorkflowReply](1)
    send, receive = trio.open_memory_channel[WorkflowReply](1)
    async with open_workflow_supervisor(workflows=[single_step("w", "t")]) as supervisor:
        await supervisor.spawn(Agent, "agent", [], name="agent", handles=["t"])
        await supervisor.inbox.send(
            WorkflowRequest(workflow_type="w", data={"delay": 1}, reply_to=gone_send)
        )
        if close == "receive end":
            gone_receive.close()
        else:
            gone_send.close()
        await trio.sleep(2)
        await supervisor.inbox.send(WorkflowRequest(workflow_type="w", data={}, reply_to=send))
        reply = await receive.receive()
    assert reply.report.outcome == "success"
    dropped = [r for r in caplog.records if r.name == "supervisors.workflow"]
    assert [r.getMessage() for r in dropped] == [
        "workflow reply dropped: the reply channel is closed"
    ]
    assert dropped[0].levelno == logging.WARNING


@pytest.mark.parametrize(
    ("timeout", "error"),
    [
        (-1, "Timeout must be non-negative, got -1"),
        ("5", "Timeout must be a number of seconds, got str"),
    ],
)
async def test_bad_timeout_in_a_request_gets_an_error_reply(timeout: Any, error: str) -> None:
    """A request with a bad timeout is answered with an error response, and runs nothing."""
    journal: Journal = []
    send, receive = trio.open_memory_channel[WorkflowReply](1)
    async with open_workflow_supervisor(workflows=[single_step("w", "t")]) as supervisor:
        await supervisor.spawn(Agent, "agent", journal, name="agent", handles=["t"])
        await supervisor.inbox.send(
            WorkflowRequest(workflow_type="w", data={}, reply_to=send, timeout=timeout)
        )
        reply = await receive.receive()
    assert re.fullmatch("[0-9a-f]{32}", reply.report.workflow_id)
    assert reply.response == {
        "workflow_id": reply.report.workflow_id,
        "workflow_type": "w",
        "status": "error",
        "error": error,
        "steps": [],
    }
    assert reply.report.error_type == "invalid_timeout"
    assert journal == []


async def test_unknown_workflow_in_a_request_gets_an_error_reply() -> None:
    """A request for an unknown workflow is answered with the unknown-workflow error."""
    send, receive = trio.open_memory_channel[WorkflowReply](1)
    async with open_workflow_supervisor(workflows=[single_step("w", "t")]) as supervisor:
        await supervisor.inbox.send(WorkflowRequest(workflow_type="x", data={}, reply_to=send))
        reply = await receive.receive()
    assert re.fullmatch("[0-9a-f]{32}", reply.report.workflow_id)
    assert reply.response == {
        "workflow_id": reply.report.workflow_id,
        "workflow_type": "x",
        "status": "error",
        "error": "Unknown workflow type: 'x' (known: w)",
        "steps": [],
    }


async def test_inbox_drops_what_is_not_a_request(caplog: pytest.LogCaptureFixture) -> None:
    """Something that is not a WorkflowRequest is dropped with an error logged; serving goes on."""
    send, receive = trio.open_memory_channel[WorkflowReply](1)
    async with open_workflow_supervisor(workflows=[single_step("w", "t")]) as supervisor:
        await supervisor.spawn(Agent, "agent", [], name="agent", handles=["t"])
        await supervisor.inbox.send({"workflow_type": "w", "secret": "SECRET-7f3a"})  # type: ignore[arg-type]
        await supervisor.inbox.send(WorkflowRequest(workflow_type="w", data={}, reply_to=send))
        reply = await receive.receive()
    assert reply.report.outcome == "success"
    [dropped] = [r for r in caplog.records if r.name == "supervisors.workflow"]
    assert dropped.levelno == logging.ERROR
    assert dropped.getMessage() == "workflow request dropped: expected a WorkflowRequest, got dict"
    assert "SECRET-7f3a" not in repr(dropped.__dict__)


async def test_exit_cancels_runs_in_progress(
    autojump_clock: trio.abc.Clock, live_tasks: Any
) -> None:
    """Leaving the block cancels runs still in progress, with their handlers, and leaves no task."""
    before = set(live_tasks())
    journal: Journal = []
    send, receive = trio.open_memory_channel[WorkflowReply](1)
    async with open_workflow_supervisor(workflows=[single_step("w", "t")]) as supervisor:
        await supervisor.spawn(Agent, "agent", journal, name="agent", handles=["t"])
        await supervisor.inbox.send(
            WorkflowRequest(workflow_type="w", data={"delay": 100}, reply_to=send)
        )
        await trio.sleep(5)
    assert trio.current_time() == 5
    assert journal == [("start", "agent", 0), ("cancel", "agent", 5)]
    with pytest.raises(trio.WouldBlock):
        receive.receive_nowait()
    assert set(live_tasks()) == before
