"""A run's writes to its store: the outcome's response, built once when the store lets it go."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import trio

from mira_actors import Actor
from supervisors import MemoryStore, RunReport, Step, Workflow, open_workflow_supervisor

TWO = Workflow(
    name="two", steps=[Step(name="first", message_type="t"), Step(name="second", message_type="t")]
)


class Agent(Actor):
    """Answers at once, or never when ``data['hang']``."""

    async def handle(self, message: Any) -> Any:
        if message["data"].get("hang"):
            await trio.sleep_forever()
        return {"status": "success", "data": {"tasks": ["a"]}}


class SpyingMemoryStore(MemoryStore):
    """A MemoryStore that notes each response it is given to finish a run with."""

    def __init__(self) -> None:
        super().__init__()
        self.responses: list[Mapping[str, Any]] = []

    async def finish_run(self, workflow_id: str, *, response: Mapping[str, Any], **kw: Any) -> None:
        self.responses.append(response)
        await super().finish_run(workflow_id, response=response, **kw)


class KeepingStore:
    """A store that keeps the response it was given, as a durable one retrying a commit may."""

    def __init__(self) -> None:
        self._inner = MemoryStore()
        self.responses: list[Mapping[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def finish_run(self, workflow_id: str, *, response: Mapping[str, Any], **kw: Any) -> None:
        self.responses.append(response)
        await self._inner.finish_run(workflow_id, response=response, **kw)


async def finished_run(store: Any) -> RunReport:
    async with open_workflow_supervisor(workflows=[TWO], store=store) as supervisor:
        await supervisor.spawn(Agent, name="agent", handles=["t"])
        return await supervisor.run("two", {"hang": False}, timeout=5)


async def test_the_caller_gets_the_response_a_memory_store_encoded_and_let_go(
    autojump_clock: trio.abc.Clock,
) -> None:
    """With a MemoryStore the outcome's response is built once: the first response() is it."""
    store = SpyingMemoryStore()
    report = await finished_run(store)
    [given] = store.responses
    first = report.response()
    assert first is given
    again = report.response()
    assert again == first
    assert again is not first  # every call still returns a dict no one else holds
    first["steps"].clear()  # the caller's own: what the store keeps does not change
    stored = await store.load_run(report.workflow_id)
    assert stored is not None
    assert stored.response == again


async def test_a_store_that_may_keep_the_response_never_shares_it_with_the_caller(
    autojump_clock: trio.abc.Clock,
) -> None:
    """A store other than MemoryStore may hold its response: the caller gets one of its own."""
    store = KeepingStore()
    report = await finished_run(store)
    [given] = store.responses
    response = report.response()
    assert response == given
    assert response is not given


async def test_a_timed_out_run_hands_back_the_response_it_stored(
    autojump_clock: trio.abc.Clock,
) -> None:
    """A run cut by its deadline is stored, and answered, with the response built once."""
    store = SpyingMemoryStore()
    async with open_workflow_supervisor(workflows=[TWO], store=store) as supervisor:
        await supervisor.spawn(Agent, name="agent", handles=["t"])
        report = await supervisor.run("two", {"hang": True}, timeout=2)
        assert trio.current_time() == 2
    [given] = store.responses
    response = report.response()
    assert response is given
    assert response["status"] == "timeout"
    assert response["partial_progress"]["timed_out_steps"] == ["first"]
    stored = await store.load_run(report.workflow_id)
    assert stored is not None
    assert (stored.status, stored.response) == ("timeout", report.response())
