"""StepRunner: a step that nothing watches takes the lean way, and ends exactly as otherwise.

Each scenario runs twice: once as it comes (its steps have no timeout of their own, no
trace, no listener: the lean way), once with an event listener, which sends every step
the general way. Records, reports, the headers the agents saw, the agents' own
timeline and the latency history must come out the same.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import pytest
import trio
import trio.testing

from mira_actors import request_headers
from supervisors import (
    LatencyHistory,
    MemoryStore,
    RetryPolicy,
    RunEvent,
    StepRecord,
    open_supervisor,
)
from supervisors import run_workflow as run
from tests.supervisors.scripted import OK, Journal, Scripted, fails, flow, step

RETRY = RetryPolicy(max_attempts=3, initial_interval=1)


class Heard(Scripted):
    """A Scripted actor that also keeps the headers of each request it serves."""

    def __init__(self, name: str, script: list[tuple[float, Any]], journal: Journal) -> None:
        super().__init__(name, script, journal)
        self.headers: list[dict[str, Any]] = []

    async def handle(self, message: Any) -> Any:
        self.headers.append(dict(request_headers()))
        return await super().handle(message)


@attrs.frozen
class Scenario:
    scripts: dict[str, list[tuple[float, Any]]]
    options: dict[str, Any] = attrs.Factory(dict)
    history: dict[str, list[float]] = attrs.Factory(dict)  # seconds by step, seen before
    cancel_at: float | None = None  # the caller cancels the run then
    stored: bool = False  # the run is kept in a MemoryStore


SCENARIOS = {
    "success": Scenario({"a": [(1, OK)], "b": [(2, OK)], "c": [(1, "plain")]}),
    "agent failure": Scenario({"a": [(1, OK)], "b": [(1, fails())], "c": [(1, OK)]}),
    "other status": Scenario({"a": [(1, {"status": "pending", "error": "later"})]}),
    "crash": Scenario({"a": [(1, RuntimeError("broke"))], "b": [(1, OK)]}),
    "retried failure": Scenario(
        {"a": [(1, fails()), (1, RuntimeError("x")), (2, OK)], "b": [(1, OK)]},
        {"retry": RETRY},
    ),
    "retries run out": Scenario({"a": [(1, fails())]}, {"retry": RETRY}),
    "no time to retry": Scenario(
        {"a": [(4, fails())]}, {"retry": RetryPolicy(max_attempts=3, initial_interval=7)}
    ),
    "resumed numbering": Scenario(
        {"a": [(1, fails()), (1, OK)], "b": [(1, OK)]},
        {"retry": RETRY, "first_attempts": {"a": 3, "b": 2}},
    ),
    "deadline mid-ask": Scenario({"a": [(1, OK)], "b": [(20, OK)]}),
    "caller cancels mid-ask": Scenario({"a": [(1, OK)], "b": [(20, OK)]}, cancel_at=3),
    "refused by history": Scenario({"a": [(1, OK)], "b": [(1, OK)]}, history={"b": [12.0]}),
    "admitted by history": Scenario({"a": [(1, OK)], "b": [(2, OK)]}, history={"b": [3.0]}),
    "optional failure": Scenario({"a": [(1, fails())], "b": [(1, OK)]}, {"optional": True}),
    "stored": Scenario(
        {"a": [(1, fails()), (1, OK)], "b": [(1, OK)]}, {"retry": RETRY}, stored=True
    ),
    "unstorable result": Scenario(
        {"a": [(1, OK)], "b": [(1, {"status": "success", "data": {1, 2}})]}, stored=True
    ),
}


async def _run(scenario: Scenario, on_event: Callable[[RunEvent], None] | None) -> Any:
    journal: Journal = []
    records: list[StepRecord] = []
    history = LatencyHistory()
    for name, seconds in scenario.history.items():
        for value in seconds:
            history.observe(LatencyHistory.key("w", name), value)
    options = dict(scenario.options)
    optional = options.pop("optional", False)
    steps = [step(name, optional=optional and name == "a") for name in scenario.scripts]
    store = None
    if scenario.stored:
        store = MemoryStore()
        await store.create_run("run-1", "w", "D", 10)
    report = None
    async with open_supervisor(max_restarts=10) as supervisor:
        agents = {name: Heard(name, script, journal) for name, script in scenario.scripts.items()}
        routes = {
            f"t{name}": await supervisor.spawn(lambda a=agent: a, name=name)
            for name, agent in agents.items()
        }
        with trio.CancelScope() as caller:
            if scenario.cancel_at is not None:
                caller.deadline = scenario.cancel_at
            report = await run(
                flow(*steps),
                "D",
                routes=routes,
                workflow_id="run-1",
                timeout=10,
                on_event=on_event,
                on_step=records.append,
                history=history,
                store=store,
                **options,
            )
    return (
        None if report is None else report.response(),
        None if report is None else report.records,
        records,
        journal,
        {name: agent.headers for name, agent in agents.items()},
        history.to_json(),
        trio.current_time(),
        None if store is None else await _kept(store),
    )


async def _kept(store: MemoryStore) -> Any:
    run = await store.load_run("run-1")
    assert run is not None
    return run.status, run.records, run.response


def _on_its_own_clock(scenario: Scenario, on_event: Callable[[RunEvent], None] | None) -> Any:
    return trio.run(_run, scenario, on_event, clock=trio.testing.MockClock(autojump_threshold=0))


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_the_lean_way_ends_as_the_general_way(name: str) -> None:
    """A step run the lean way ends exactly as the same step run the general way."""
    scenario = SCENARIOS[name]
    events: list[RunEvent] = []
    general = _on_its_own_clock(scenario, events.append)
    assert events  # someone listened, so every step went the general way
    assert _on_its_own_clock(scenario, None) == general
