"""OrchestratorAgent.resume: a stored MIRA workflow continued, per call and inside running()."""

from __future__ import annotations

import datetime
import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path
from typing import Any, TypeVar

import pytest
import trio

from mira_actors import request_headers
from mira_actors.agents import (
    OrchestratorAgent,
    ProjectPlanAgent,
    RiskAssessmentAgent,
    StatusReporterAgent,
)
from supervisors import (
    DamagedRunError,
    LedgerStore,
    MemoryStore,
    ResumeConflictError,
    SqliteStore,
    UnknownRunError,
)

T = TypeVar("T")
TODAY = datetime.date(2024, 5, 15)
PROJECT = {"name": "Apollo", "description": "urgent", "goals": ["Design", "Build"]}
MESSAGE = {
    "type": "workflow",
    "data": {"workflow_type": "project_initialization", "data": PROJECT},
}
STEPS = ["generate_plan", "assess_risks", "generate_report"]


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    """Each kind of store, empty; closed after the test."""
    opened: LedgerStore = (
        MemoryStore()
        if request.param == "memory"
        else SqliteStore(tmp_path / "ledger.db", threaded=False)
    )
    try:
        yield opened
    finally:
        await opened.aclose()


class CountingPlanAgent(ProjectPlanAgent):
    """The plan agent, keeping the idempotency key of every step it serves."""

    def __init__(self) -> None:
        self.keys: list[str] = []

    async def handle(self, message: Any) -> Any:
        self.keys.append(request_headers()["idempotency_key"])
        return await super().handle(message)


class SlowRiskAgent(RiskAssessmentAgent):
    """The risk agent, taking ``delays[n]`` seconds over its n-th step (none past them)."""

    def __init__(self, *delays: float) -> None:
        self.delays = list(delays)
        self.keys: list[str] = []

    async def handle(self, message: Any) -> Any:
        self.keys.append(request_headers()["idempotency_key"])
        if self.delays:
            await trio.sleep(self.delays.pop(0))
        return await super().handle(message)


class CountingReporter(StatusReporterAgent):
    """The status reporter on a fixed date, keeping the idempotency key of every step."""

    def __init__(self) -> None:
        super().__init__(today=lambda: TODAY)
        self.keys: list[str] = []

    async def handle(self, message: Any) -> Any:
        self.keys.append(request_headers()["idempotency_key"])
        return await super().handle(message)


class Team:
    """An orchestrator on ``store`` with the counting agents; the risk agent's delays given."""

    def __init__(self, store: LedgerStore, *risk_delays: float) -> None:
        self.plan = CountingPlanAgent()
        self.risk = SlowRiskAgent(*risk_delays)
        self.reporter = CountingReporter()
        self.orchestrator = OrchestratorAgent(store=store)
        for agent in (self.plan, self.risk, self.reporter):
            self.orchestrator.register_agent(agent)

    def counts(self) -> list[int]:
        """How many steps the plan, risk and report agents served."""
        return [len(self.plan.keys), len(self.risk.keys), len(self.reporter.keys)]


def without_times(value: Any) -> Any:
    """``value`` without the 'timestamp' and 'report_date' keys, which say when it ran."""
    if isinstance(value, dict):
        return {
            k: without_times(v) for k, v in value.items() if k not in ("timestamp", "report_date")
        }
    if isinstance(value, list):
        return [without_times(v) for v in value]
    return value


async def stored_response(store: LedgerStore, workflow_id: str) -> Any:
    """The response the store holds for the run."""
    run = await store.load_run(workflow_id)
    assert run is not None
    return run.response


async def test_resume_after_a_timeout_completes_without_redoing_the_plan(
    store: LedgerStore, autojump_clock: trio.abc.Clock
) -> None:
    """A timed-out run resumed per call runs only the risk and report steps, listing all three."""
    team = Team(store, 100)
    timed_out = await team.orchestrator.process_async(MESSAGE, timeout=5)
    assert trio.current_time() == 5
    workflow_id = timed_out["workflow_id"]
    assert timed_out["status"] == "timeout"
    assert timed_out["partial_progress"] == {
        "completed_steps": ["generate_plan"],
        "total_steps_completed": 1,
        "timeout_seconds": 5.0,
        "timed_out_steps": ["assess_risks"],
    }
    assert await stored_response(store, workflow_id) == timed_out
    resumed = await team.orchestrator.resume(workflow_id, timeout=5)
    assert trio.current_time() == 5
    assert team.counts() == [1, 2, 1]
    assert resumed["workflow_id"] == workflow_id
    assert "status" not in resumed
    assert [(s["step"], s["status"], s["attempts"]) for s in resumed["steps"]] == [
        ("generate_plan", "success", 0),
        ("assess_risks", "success", 1),
        ("generate_report", "success", 1),
    ]
    assert await stored_response(store, workflow_id) == resumed
    # The same results as a run that was never interrupted.
    straight = await Team(MemoryStore()).orchestrator.process_async(MESSAGE)
    assert [without_times(s["result"]) for s in resumed["steps"]] == [
        without_times(s["result"]) for s in straight["steps"]
    ]


async def test_the_cut_step_is_resent_with_its_idempotency_key(
    store: LedgerStore, autojump_clock: trio.abc.Clock
) -> None:
    """The risk step cut short at the deadline gets the same key on the resume."""
    team = Team(store, 100)
    workflow_id = (await team.orchestrator.process_async(MESSAGE, timeout=5))["workflow_id"]
    await team.orchestrator.resume(workflow_id, timeout=5)
    assert team.plan.keys == [f"{workflow_id}:generate_plan:1"]
    assert team.risk.keys == [f"{workflow_id}:assess_risks:1"] * 2
    assert team.reporter.keys == [f"{workflow_id}:generate_report:1"]


async def test_resume_inside_running(store: LedgerStore, autojump_clock: trio.abc.Clock) -> None:
    """Inside running(), resume completes the run; resuming it again gives its response back."""
    team = Team(store, 100)
    async with team.orchestrator.running():
        timed_out = await team.orchestrator.process_async(MESSAGE, timeout=5)
        resumed = await team.orchestrator.resume(timed_out["workflow_id"], timeout=5)
        again = await team.orchestrator.resume(timed_out["workflow_id"], timeout=5)
        assert trio.current_time() == 5
    assert team.counts() == [1, 2, 1]
    assert [s["step"] for s in resumed["steps"]] == STEPS
    assert again == resumed


@pytest.mark.parametrize("inside_running", [False, True])
async def test_resuming_a_finished_run_returns_the_stored_response(
    store: LedgerStore, autojump_clock: trio.abc.Clock, inside_running: bool
) -> None:
    """A run that succeeded is not run again: its resume returns the response it gave."""
    team = Team(store)
    response = await team.orchestrator.process_async(MESSAGE, timeout=5)
    if inside_running:
        async with team.orchestrator.running():
            resumed = await team.orchestrator.resume(response["workflow_id"], timeout=5)
    else:
        resumed = await team.orchestrator.resume(response["workflow_id"], timeout=5)
    assert resumed == response
    assert team.counts() == [1, 1, 1]


@pytest.mark.parametrize("inside_running", [False, True])
async def test_resuming_an_unknown_id_raises_unknown_run_error(
    store: LedgerStore, inside_running: bool
) -> None:
    """An id the store does not hold raises UnknownRunError itself, not in an ExceptionGroup."""
    team = Team(store)
    if inside_running:
        async with team.orchestrator.running():
            with pytest.raises(UnknownRunError, match="'nope'"):
                await team.orchestrator.resume("nope")
    else:
        with pytest.raises(UnknownRunError, match="'nope'"):
            await team.orchestrator.resume("nope")


async def test_concurrent_resumes_inside_running_one_wins(
    store: LedgerStore, autojump_clock: trio.abc.Clock
) -> None:
    """Two resumes of one run at once inside running(): one completes it, one gets an error."""
    team = Team(store, 100, 1)  # the winner's risk step takes a second: the two overlap
    responses: list[Any] = []
    conflicts: list[ResumeConflictError] = []

    async def resume(workflow_id: str) -> None:
        try:
            responses.append(await team.orchestrator.resume(workflow_id, timeout=5))
        except ResumeConflictError as exc:
            conflicts.append(exc)

    async with team.orchestrator.running():
        workflow_id = (await team.orchestrator.process_async(MESSAGE, timeout=5))["workflow_id"]
        async with trio.open_nursery() as nursery:
            nursery.start_soon(resume, workflow_id)
            nursery.start_soon(resume, workflow_id)
        assert trio.current_time() == 6
    [response] = responses
    [conflict] = conflicts
    assert conflict.workflow_id == workflow_id
    assert [s["step"] for s in response["steps"]] == STEPS
    assert team.counts() == [1, 2, 1]


async def test_concurrent_resumes_per_call_one_wins(
    store: LedgerStore, autojump_clock: trio.abc.Clock
) -> None:
    """Two per-call resumes at once share the store's claim: one completes, one gets an error."""
    team = Team(store, 100, 1)
    workflow_id = (await team.orchestrator.process_async(MESSAGE, timeout=5))["workflow_id"]
    outcomes: list[str] = []

    async def resume() -> None:
        try:
            await team.orchestrator.resume(workflow_id, timeout=5)
            outcomes.append("resumed")
        except ResumeConflictError:
            outcomes.append("conflict")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(resume)
        nursery.start_soon(resume)
    assert trio.current_time() == 6
    assert sorted(outcomes) == ["conflict", "resumed"]
    assert team.counts() == [1, 2, 1]


async def test_resuming_a_run_still_going_per_call_is_a_conflict(
    store: LedgerStore, autojump_clock: trio.abc.Clock
) -> None:
    """A per-call resume of a run whose first start is still going is refused."""
    team = Team(store, 10)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(team.orchestrator.process_async, MESSAGE, 30)
        await trio.sleep(1)
        [run] = await store.list_runs()
        with pytest.raises(ResumeConflictError):
            await team.orchestrator.resume(run.workflow_id, timeout=30)
    assert team.counts() == [1, 1, 1]


async def test_resuming_a_run_still_going_inside_running_is_a_conflict(
    store: LedgerStore, autojump_clock: trio.abc.Clock
) -> None:
    """Inside running(), a resume of a run whose first start is still going is refused."""
    team = Team(store, 10)
    async with team.orchestrator.running(), trio.open_nursery() as nursery:
        nursery.start_soon(team.orchestrator.process_async, MESSAGE, 30)
        await trio.sleep(1)
        [run] = await store.list_runs()
        with pytest.raises(ResumeConflictError):
            await team.orchestrator.resume(run.workflow_id, timeout=30)
    assert trio.current_time() == 10
    assert team.counts() == [1, 1, 1]


async def test_a_run_of_an_unregistered_workflow_is_a_value_error(
    store: LedgerStore, autojump_clock: trio.abc.Clock
) -> None:
    """An orchestrator without the run's workflow raises ValueError itself, unwrapped."""
    team = Team(store, 100)
    workflow_id = (await team.orchestrator.process_async(MESSAGE, timeout=5))["workflow_id"]
    bare = OrchestratorAgent(workflows=[], store=store)
    with pytest.raises(ValueError, match="not registered here"):
        await bare.resume(workflow_id, timeout=5)


async def test_a_damaged_run_raises_damaged_run_error(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    """A run whose stored row is damaged raises DamagedRunError itself, and nothing runs."""
    db = tmp_path / "ledger.db"
    store = SqliteStore(db, threaded=False)
    try:
        team = Team(store, 100)
        workflow_id = (await team.orchestrator.process_async(MESSAGE, timeout=5))["workflow_id"]
        with closing(sqlite3.connect(db, isolation_level=None)) as connection:
            connection.execute("UPDATE runs SET response = '[]'")
        with pytest.raises(DamagedRunError, match="its 'response' cannot be read back"):
            await team.orchestrator.resume(workflow_id, timeout=5)
    finally:
        await store.aclose()
    assert team.counts() == [1, 1, 0]
