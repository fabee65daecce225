"""Scripted actors and small builders shared by the run-engine tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import trio

from mira_actors import Actor, ActorRef
from supervisors import Parallel, RunReport, Step, Workflow, open_supervisor
from supervisors import run_workflow as run

Journal = list[tuple[str, str, float]]
OK = {"status": "success", "data": "done"}


def fails(error: str = "no good") -> dict[str, Any]:
    return {"status": "error", "data": None, "error": error}


class Scripted(Actor):
    """Serves its n-th request by ``script[n]`` (the last one repeats): (seconds, answer).

    It sleeps the seconds, then raises the answer if it is an exception, calls it with the
    message if it is a callable, else returns it.
    Starts, ends and cancellations go to the journal with their virtual times.
    """

    def __init__(self, name: str, script: list[tuple[float, Any]], journal: Journal) -> None:
        self.name = name
        self.script = script
        self.journal = journal
        self.calls = 0
        self.deadlines: list[float] = []

    async def handle(self, message: Any) -> Any:
        seconds, answer = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        self.journal.append(("start", self.name, trio.current_time()))
        self.deadlines.append(trio.current_effective_deadline())
        try:
            await trio.sleep(seconds)
        except trio.Cancelled:
            self.journal.append(("cancel", self.name, trio.current_time()))
            raise
        self.journal.append(("end", self.name, trio.current_time()))
        if isinstance(answer, BaseException):
            raise answer
        return answer(message) if callable(answer) else answer


@asynccontextmanager
async def actors(
    journal: Journal, **scripts: list[tuple[float, Any]]
) -> AsyncIterator[dict[str, ActorRef]]:
    """Run one Scripted actor per keyword; yield routes from message type 't<name>' to it."""
    async with open_supervisor(max_restarts=10) as supervisor:
        routes = {}
        for name, script in scripts.items():
            actor = Scripted(name, script, journal)  # the same one again after a crash
            routes[f"t{name}"] = await supervisor.spawn(lambda a=actor: a, name=name)
        yield routes


def flow(*steps: Step | Parallel) -> Workflow:
    return Workflow(name="w", steps=steps)


def step(name: str, **options: Any) -> Step:
    return Step(name=name, message_type=f"t{name}", **options)


async def go(workflow: Workflow, routes: dict[str, ActorRef], **options: Any) -> RunReport:
    options.setdefault("timeout", 10)
    return await run(workflow, "D", routes=routes, workflow_id="run-1", **options)


def ledger(report: RunReport) -> list[tuple[str, str, float, float, int, str | None]]:
    return [
        (r.step, r.status, r.started_at, r.ended_at, r.attempts, r.error_type)
        for r in report.records
    ]
