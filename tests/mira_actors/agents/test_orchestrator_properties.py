"""Property tests: whatever a caller sends, a response or a documented error, and no harm."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from supervisors import WorkflowReply, WorkflowRequest
from tests.mira_actors.agents.orchestrators import SlowRiskAgent, make
from tests.strategies import is_valid_timeout, messages, small_values, timeouts

# Hypothesis warns when it writes out a drawn 1 MB value (for a report); drawing those
# is the point here.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Generating overly large repr:hypothesis.errors.HypothesisWarning"
)

VALID = {
    "type": "workflow",
    "data": {"workflow_type": "project_initialization", "data": {"name": "P", "goals": ["a"]}},
}
# The longest a log record or an error may be: never a copy of an unbounded user value.
MAX_LOGGED = 2_000
MAX_ERROR = 1_000


class Sizes(logging.Handler):
    """Records the length of every log record's message and fields."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.longest = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.longest = max(self.longest, len(repr(vars(record))))


@contextmanager
def log_sizes() -> Iterator[Sizes]:
    sizes = Sizes()
    root = logging.getLogger()
    root.addHandler(sizes)
    try:
        yield sizes
    finally:
        root.removeHandler(sizes)


def autojump(fn: Any) -> None:
    trio.run(fn, clock=trio.testing.MockClock(autojump_threshold=0))


# Real time: a big message's step runs in a worker thread, which the autojump clock would
# not wait for. The agents answer at once otherwise, so a hang is all the bound can catch.
HANG = 60


def assert_succeeded(response: Any) -> None:
    assert "status" not in response, response
    assert [s["status"] for s in response["steps"]] == ["success"] * 3


@settings(max_examples=60)
@given(message=messages, timeout=timeouts)
def test_any_message_and_timeout_end_in_a_response_or_a_documented_error(
    message: Any, timeout: Any
) -> None:
    """A dict response (or TypeError/ValueError for a bad timeout), short logs, no hang."""

    async def main() -> None:
        orchestrator = make()
        with log_sizes() as sizes:
            async with orchestrator.running():
                with trio.fail_after(HANG):
                    if is_valid_timeout(timeout):
                        response = await orchestrator.process_async(message, timeout)
                        assert isinstance(response, dict)
                        assert len(str(response.get("error") or "")) < MAX_ERROR
                    else:
                        with pytest.raises((TypeError, ValueError)):
                            await orchestrator.process_async(message, timeout)
                    assert_succeeded(await orchestrator.process_async(VALID))
        assert sizes.longest < MAX_LOGGED

    trio.run(main)


requests = st.fixed_dictionaries(
    {
        "workflow_type": st.just("project_initialization") | small_values,
        "data": small_values,  # on the autojump clock: nothing that runs in a thread
        "timeout": timeouts,
        "tag": small_values,
    }
)


@settings(max_examples=40)
@given(bad=st.lists(requests, min_size=1, max_size=4))
def test_any_inbox_requests_are_answered_and_another_run_goes_on(bad: list[Any]) -> None:
    """Each request gets a reply with a dict response; another producer's run still succeeds."""

    async def main() -> None:
        orchestrator = make(SlowRiskAgent(50))
        mine_send, mine_receive = trio.open_memory_channel[WorkflowReply](1)
        send, receive = trio.open_memory_channel[WorkflowReply](len(bad))
        with log_sizes() as sizes:
            async with orchestrator.running() as supervisor:
                await supervisor.inbox.send(
                    WorkflowRequest(
                        workflow_type="project_initialization",
                        data={"name": "P"},
                        reply_to=mine_send,
                        timeout=100,
                    )
                )
                await trio.sleep(1)
                for fields in bad:
                    await supervisor.inbox.send(WorkflowRequest(reply_to=send, **fields))
                with trio.fail_after(3600):
                    for _ in bad:
                        reply = await receive.receive()
                        assert isinstance(reply.response, dict)
                        assert reply.response["workflow_id"] == reply.report.workflow_id
                        assert len(str(reply.response.get("error") or "")) < MAX_ERROR
                    mine = await mine_receive.receive()
        assert trio.current_time() >= 50
        assert_succeeded(mine.response)
        assert sizes.longest < MAX_LOGGED

    autojump(main)
