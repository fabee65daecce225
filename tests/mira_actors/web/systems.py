"""Live systems for the web view's tests: actors that answer when a test lets them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import trio

from mira_actors import Actor
from supervisors import (
    LedgerStore,
    MemoryStore,
    RetryPolicy,
    RunEvent,
    Step,
    StepCompleted,
    Workflow,
    WorkflowSupervisor,
    open_workflow_supervisor,
)

# A step result that a page must show as text, never run or render.
HOSTILE = '<script>window.__owned = 1</script><b id="bold">bold</b><img src=x id="img">'


class Gated(Actor):
    """Answers success with ``result`` once its gate opens (at once when it has none)."""

    def __init__(self, result: Any, gate: trio.Event | None = None) -> None:
        self.result = result
        self.gate = gate

    async def handle(self, message: Any) -> Any:
        if self.gate is not None:
            await self.gate.wait()
        return {"status": "success", "data": self.result}


class Flaky(Actor):
    """Fails its first ``failures`` requests after ``seconds``, then succeeds."""

    def __init__(self, failures: int, seconds: float) -> None:
        self.failures = failures
        self.seconds = seconds

    async def handle(self, message: Any) -> Any:
        await trio.sleep(self.seconds)
        if self.failures:
            self.failures -= 1
            return {"status": "error", "data": None, "error": "not yet"}
        return {"status": "success", "data": {"attempts_needed": "several"}}


class Sleepy(Actor):
    """Answers after ``seconds``."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    async def handle(self, message: Any) -> Any:
        await trio.sleep(self.seconds)
        return {"status": "success", "data": "slept"}


GATED = Workflow(
    name="gated",
    steps=(Step(name="plan", message_type="plan"), Step(name="review", message_type="review")),
)
MIXED = Workflow(
    name="mixed",
    steps=(
        Step(name="plan", message_type="plan"),
        Step(
            name="assess",
            message_type="assess",
            retry=RetryPolicy(max_attempts=3, initial_interval=0.05, jitter=0.0),
        ),
        Step(name="report", message_type="report"),
    ),
)


@asynccontextmanager
async def gated_system(
    gate: trio.Event, store: LedgerStore | None = None, **options: Any
) -> AsyncIterator[WorkflowSupervisor]:
    """A system running 'gated': 'plan' answers HOSTILE at once, 'review' when ``gate`` opens."""
    async with open_workflow_supervisor(
        workflows=[GATED], store=store if store is not None else MemoryStore(), **options
    ) as system:
        await system.spawn(lambda: Gated({"note": HOSTILE}), name="planner", handles="plan")
        await system.spawn(lambda: Gated("reviewed", gate), name="reviewer", handles="review")
        yield system


@asynccontextmanager
async def mixed_system(store: LedgerStore | None = None) -> AsyncIterator[WorkflowSupervisor]:
    """A system running 'mixed': a quick plan, an assessment that fails twice, a slow report."""
    async with open_workflow_supervisor(
        workflows=[MIXED], store=store if store is not None else MemoryStore()
    ) as system:
        await system.spawn(lambda: Sleepy(0.05), name="planner", handles="plan")
        flaky = Flaky(failures=2, seconds=0.05)
        await system.spawn(lambda: flaky, name="assessor", handles="assess")
        await system.spawn(lambda: Sleepy(10.0), name="reporter", handles="report")
        yield system


async def start_gated_run(
    system: WorkflowSupervisor,
    nursery: trio.Nursery,
    *,
    timeout: float = 30.0,
    outcomes: list[str] | None = None,
) -> str:
    """Start a 'gated' run in ``nursery``; return its id once 'plan' is stored.

    The run's outcome is appended to ``outcomes`` when it ends.
    """
    planned = trio.Event()
    ids: list[str] = []

    def watch(event: RunEvent) -> None:
        ids.append(event.workflow_id)
        if isinstance(event, StepCompleted) and event.step == "plan":
            planned.set()  # emitted after the step's record is written to the store

    async def run() -> None:
        report = await system.run("gated", {}, timeout=timeout, on_event=watch)
        if outcomes is not None:
            outcomes.append(report.outcome)

    nursery.start_soon(run)
    await planned.wait()
    return ids[0]
