"""The metrics count what happened: runs, step durations, lateness, restarts, abandoned
thread steps, mailbox depths and asks in flight."""

from __future__ import annotations

import pytest

# CI installs the otel extra (.ci/run); a venv without it skips these tests.
pytest.importorskip("opentelemetry.sdk", reason="needs the otel extra: pip install -e '.[otel]'")

from pathlib import Path
from typing import Any

import trio

from mira_actors import Actor, open_actor
from mira_actors.agents import ThreadBackend
from supervisors import open_supervisor
from tests.mira_actors.agents.backend_agents import WorkerAgent, orchestrator_for, workflow
from tests.mira_actors.instrumentation.recorded import Recorded
from tests.supervisors.scripted import OK, Journal, actors, fails, flow, go, step


async def test_runs_steps_and_lateness_are_counted_by_workflow_and_outcome(
    otel: Recorded, autojump_clock: trio.abc.Clock
) -> None:
    """Each run counts once by status; each attempt's duration is kept; timeouts' lateness too."""
    journal: Journal = []
    async with actors(journal, a=[(1, OK)], b=[(2, OK), (9, OK)], c=[(1, fails())]) as routes:
        await go(flow(step("a"), step("b")), routes, timeout=10)  # success at t=3
        await go(flow(step("a"), step("b")), routes, timeout=4)  # b cut at its deadline
        await go(flow(step("c")), routes, timeout=10)  # error
    w = ("mira.workflow_type", "w")
    assert otel.counts("mira.runs") == {
        (("mira.status", "success"), w): 1,
        (("mira.status", "timeout"), w): 1,
        (("mira.status", "error"), w): 1,
    }
    durations = {
        attributes["mira.step"] + ":" + attributes["mira.outcome"]: (point.count, point.sum)
        for attributes, point in otel.points("mira.step.duration")
    }
    assert durations == {
        "a:success": (2, 2.0),
        "b:success": (1, 2.0),
        "b:timeout": (1, 3.0),
        "c:error": (1, 1.0),
    }
    [(attributes, lateness)] = otel.points("mira.deadline.lateness")
    assert attributes == {"mira.workflow_type": "w"}
    assert (lateness.count, lateness.sum) == (1, 0.0)


class _Fragile(Actor):
    async def handle(self, message: Any) -> Any:
        if message == "crash":
            raise RuntimeError("crashed on purpose")
        return message


async def test_restarts_are_counted_by_supervisor_and_actor(
    otel: Recorded, autojump_clock: trio.abc.Clock
) -> None:
    """Every restart of a crashed actor counts once, under its supervisor and name."""
    async with open_supervisor(name="sup", max_restarts=5) as supervisor:
        ref = await supervisor.spawn(_Fragile, name="fragile")
        for _ in range(2):
            await ref.tell("crash")
            await trio.sleep(1)
        assert await ref.ask("alive") == "alive"
    assert otel.counts("mira.actor.restarts") == {
        (("mira.actor", "fragile"), ("mira.supervisor", "sup")): 2
    }


async def test_abandoned_thread_steps_are_counted_by_agent(otel: Recorded, tmp_path: Path) -> None:
    """A thread step still running at its deadline counts as abandoned."""
    limiter = trio.CapacityLimiter(1)
    orchestrator = orchestrator_for(WorkerAgent(), ThreadBackend(limiter=limiter))
    data = {"pid_file": str(tmp_path / "pid"), "seconds": 0.5}
    response = await orchestrator.process_async(workflow("sleep", data), timeout=0.2)
    assert response["status"] == "timeout"
    assert otel.counts("mira.thread_steps.abandoned") == {(("mira.agent", "worker_agent"),): 1}
    with trio.move_on_after(5):  # the abandoned thread finishes its sleep on its own
        while (tmp_path / "pid").read_text() != "finished":  # noqa: ASYNC110
            await trio.sleep(0.05)


class _Gate(Actor):
    def __init__(self, gate: trio.Event) -> None:
        self.gate = gate

    async def handle(self, message: Any) -> Any:
        await self.gate.wait()
        return message


async def test_gauges_show_mailbox_depths_and_asks_in_flight(
    otel: Recorded, autojump_clock: trio.abc.Clock
) -> None:
    """While a handler waits, the gauges show what is queued and the asks not yet answered."""
    gate = trio.Event()
    async with open_actor(_Gate(gate), name="gate") as ref, trio.open_nursery() as nursery:
        for i in range(3):
            nursery.start_soon(ref.ask, i)
        await trio.sleep(1)
        depths = otel.counts("mira.mailbox.depth")
        in_flight = otel.counts("mira.asks.in_flight")
        gate.set()
    assert depths[(("mira.actor", "gate"),)] == 2  # one is being handled
    assert in_flight == {(): 3}
    assert otel.counts("mira.asks.in_flight") == {(): 0}
