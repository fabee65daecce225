"""The answer comes by the deadline (plus the README's grace) whatever else is going on.

Abandoned threads, a locked store, a huge input, a synchronous step past its own
timeout. Real time where a real thread or lock is involved (bounded waits, asserting the
README's grace); the autojump clock elsewhere.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import pytest
import trio

from mira_actors.agents import (
    BaseAgent,
    OrchestratorAgent,
    ProjectPlanAgent,
    RiskAssessmentAgent,
    StatusReporterAgent,
    StepContext,
    ThreadBackend,
)
from mira_actors.agents._payload import MAX_INPUT_CHARS
from supervisors import StepCompleted, open_sqlite_store
from tests.deadlines import ATTEMPTS, GRACE
from tests.mira_actors.agents.backend_agents import workflow
from tests.mira_actors.agents.test_cli import run_cli

# Real-time deadlines: the garbage of earlier tests is collected before, not during.
pytestmark = pytest.mark.usefixtures("collected_heap")

PROJECT = {"name": "Apollo", "goals": ["Design", "Build", "Launch"], "duration_weeks": 6}


def big_project(goals: int) -> dict[str, Any]:
    """Requirements with ``goals`` goals: seconds of plan building for the built-in agent."""
    return {"name": "Big", "goals": [f"Goal {i}" for i in range(goals)], "duration_weeks": 52}


class RoomyPlanAgent(ProjectPlanAgent):
    """The plan agent with room for any plan: a big input runs into its deadline instead."""

    max_result_items = 10**9


def mira_orchestrator(store: Any = None, backend: Any = None) -> OrchestratorAgent:
    """The three built-in agents (inline unless ``backend`` says), the plan agent roomy."""
    orchestrator = OrchestratorAgent(store=store)
    for agent in (RoomyPlanAgent(), RiskAssessmentAgent(), StatusReporterAgent()):
        orchestrator.register_agent(agent, backend=backend)
    return orchestrator


async def answered(
    orchestrator: OrchestratorAgent, message: dict[str, Any], timeout: float, **options: Any
) -> tuple[dict[str, Any], float]:
    """Run ``message``; return the response and how late it came (seconds past timeout)."""
    began = time.monotonic()
    response = await orchestrator.process_async(message, timeout=timeout, **options)
    return response, time.monotonic() - began - timeout


class BlockingAgent(BaseAgent):
    """Blocks its worker thread until released, never checking its deadline."""

    agent_id = "blocking_agent"
    handlers = {"block": "block"}

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = threading.Semaphore(0)

    def block(self, data: Any) -> str:
        self.started.release()
        self.release.wait(timeout=30)
        return "released"

    def wait_started(self, count: int) -> None:
        """Block (bounded) until ``count`` steps have started."""
        for _ in range(count):
            assert self.started.acquire(timeout=10)


@contextmanager
def released(agent: BlockingAgent) -> Iterator[BlockingAgent]:
    """Release the agent's blocked threads when the block ends, however it ends."""
    try:
        yield agent
    finally:
        agent.release.set()


async def test_a_durable_run_answers_on_time_after_fifty_abandoned_thread_steps(
    tmp_path: Path,
) -> None:
    """50 abandoned thread steps starve neither the SQLite store nor the inline agents."""
    backend = ThreadBackend(max_threads=64)
    with released(BlockingAgent()) as blocker:
        message = {"type": "block", "data": None}
        async with trio.open_nursery() as nursery:
            for _ in range(50):
                step = StepContext.for_message(blocker.agent_id, message)
                nursery.start_soon(backend.call, blocker, message, step)
            await trio.to_thread.run_sync(blocker.wait_started, 50)
            nursery.cancel_scope.cancel()  # their callers give up: 50 threads abandoned
        assert backend.statistics().abandoned_running == 50
        async with open_sqlite_store(tmp_path / "runs.db") as store:
            message = workflow("project_initialization", PROJECT)
            response, late = await answered(mira_orchestrator(store), message, timeout=1.0)
    assert "status" not in response  # a success
    assert late <= 0  # well before its deadline: nothing was starved


@contextmanager
def lock_holder(path: Path) -> Iterator[sqlite3.Connection]:
    """Another connection to the store's file, which the test makes hold the write lock."""
    with closing(sqlite3.connect(path, isolation_level=None)) as connection:
        try:
            yield connection
        finally:
            if connection.in_transaction:
                connection.rollback()


async def test_a_store_locked_mid_run_still_answers_on_time(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Another connection locks the ledger after step one: the response still comes on time."""
    db = tmp_path / "runs.db"
    async with open_sqlite_store(db) as store:
        orchestrator = mira_orchestrator(store)
        with lock_holder(db) as holder:

            def lock_after_first_step(event: object) -> None:
                if isinstance(event, StepCompleted) and not holder.in_transaction:
                    holder.execute("BEGIN IMMEDIATE")

            message = workflow("project_initialization", PROJECT)
            response, late = await answered(
                orchestrator, message, timeout=0.5, on_event=lock_after_first_step
            )
            assert late <= GRACE
            assert response["status"] == "error"
            assert "could not be committed in time" in response["error"]
            failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
            assert [r.__dict__.get("error_type") for r in failures] == ["store_unavailable"]
            stored = await store.load_run(response["workflow_id"])
            assert stored is not None
            assert stored.status == "running"
            assert stored.completed_steps == ["generate_plan"]
        # Unlocked: the store's background retry commits the outcome.
        with trio.fail_after(10):
            run_id = response["workflow_id"]
            while (stored := await store.load_run(run_id)) and stored.status == "running":  # noqa: ASYNC110
                await trio.sleep(0.01)
        assert stored is not None
        # What the run was: out of time, its second step cut short uncommitted.
        assert stored.status == "timeout"
        assert stored.completed_steps == ["generate_plan"]


async def test_a_run_on_a_locked_store_answers_by_its_deadline(tmp_path: Path) -> None:
    """A store locked before the run starts: an 'error' response at the deadline, no raise."""
    db = tmp_path / "runs.db"
    async with open_sqlite_store(db) as store:
        with lock_holder(db) as holder:
            holder.execute("BEGIN IMMEDIATE")
            message = workflow("project_initialization", PROJECT)
            response, late = await answered(mira_orchestrator(store), message, timeout=0.2)
    assert -GRACE <= late <= GRACE
    assert response["status"] == "error"
    assert "locked by another connection" in response["error"]


@pytest.mark.parametrize("durable", [False, True], ids=["memory", "sqlite"])
@pytest.mark.parametrize("timeout", [0.2, 0.5, 1.0])
async def test_a_200000_goal_input_answers_by_its_deadline(
    tmp_path: Path, durable: bool, timeout: float
) -> None:
    """The built-in plan agent stops at the deadline: a huge input does not hold the answer.

    Whether the plan is given up at once (it cannot be built in time) or built until
    the deadline stops it, on either store.
    """
    message = workflow("project_initialization", big_project(200_000))
    lateness = []
    async with open_sqlite_store(tmp_path / "runs.db") as store:
        orchestrator = mira_orchestrator(store if durable else None)
        for _ in range(ATTEMPTS):
            response, late = await answered(orchestrator, message, timeout=timeout)
            assert response["status"] == "timeout"
            assert response["partial_progress"]["completed_steps"] == []
            lateness.append(late)
            if late <= GRACE:
                break
    assert min(lateness) <= GRACE


async def test_builtin_agents_on_the_thread_backend_stop_at_the_deadline() -> None:
    """No work after the deadline: the plan agent's thread ends within the grace."""
    backend = ThreadBackend()
    orchestrator = mira_orchestrator(backend=backend)
    message = workflow("project_initialization", big_project(200_000))
    lateness, overrun = [], []
    for _ in range(ATTEMPTS):
        response, late = await answered(orchestrator, message, timeout=0.2)
        assert response["status"] == "timeout"
        answered_at = time.monotonic()
        with trio.fail_after(5):  # bounded; threads give no event to wait on
            while backend.statistics().running:  # noqa: ASYNC110
                await trio.sleep(0.001)
        lateness.append(late)
        overrun.append(time.monotonic() - answered_at)
    assert min(lateness) <= GRACE
    assert min(overrun) <= GRACE


class SleepyPlanAgent(ProjectPlanAgent):
    """A plan agent whose plan takes 0.2 s of blocking, deadline-blind code."""

    def generate_plan(self, data: object) -> dict[str, Any]:
        time.sleep(0.2)
        return super().generate_plan(data)


async def test_an_inline_step_past_its_own_timeout_is_not_a_success() -> None:
    """A blocking inline step that overruns its step timeout is recorded as timed out."""
    orchestrator = OrchestratorAgent()
    for agent in (SleepyPlanAgent(), RiskAssessmentAgent(), StatusReporterAgent()):
        orchestrator.register_agent(agent)
    response = await orchestrator.process_async(
        workflow("project_initialization", PROJECT),
        timeout=5,
        step_timeouts={"generate_plan": 0.1},
    )
    assert response["status"] == "timeout"
    assert response["partial_progress"]["timed_out_steps"] == ["generate_plan"]


async def test_a_big_plan_past_its_step_timeout_stops_there() -> None:
    """The built-in plan agent stops at its step's own timeout, long before the run's."""
    message = workflow("project_initialization", big_project(200_000))
    began = time.monotonic()
    response = await mira_orchestrator().process_async(
        message, timeout=30, step_timeouts={"generate_plan": 0.1}
    )
    assert time.monotonic() - began < 5  # bounded: the whole plan would take far longer
    assert response["status"] == "timeout"
    assert response["partial_progress"]["timed_out_steps"] == ["generate_plan"]


def test_the_cli_refuses_an_input_over_its_limit() -> None:
    """An input over MAX_INPUT_CHARS exits 2 with one line, without parsing it."""
    result = run_cli("run", "-", stdin=" " * (MAX_INPUT_CHARS + 1))
    assert result.returncode == 2
    assert "larger than 16,777,216 characters" in result.stderr
    assert result.stdout == ""


def test_the_cli_answers_a_200000_goal_input_by_its_deadline(tmp_path: Path) -> None:
    """A 200,000-goal file is refused (its plan is over the result limit), not megabytes."""
    big = tmp_path / "big.json"
    big.write_text(json.dumps(workflow("project_initialization", big_project(200_000))))
    result = run_cli("run", str(big), "--timeout", "0.5")
    assert result.returncode == 1
    response = json.loads(result.stdout)
    assert response["status"] == "error"
    assert "result too large: about 800006 items" in response["error"]
    assert len(result.stdout) < 10_000


async def test_a_plan_over_the_result_limit_is_refused_before_it_is_built() -> None:
    """The default plan agent answers 200,000 goals with 'result too large' at once."""
    orchestrator = OrchestratorAgent()
    for agent in (ProjectPlanAgent(), RiskAssessmentAgent(), StatusReporterAgent()):
        orchestrator.register_agent(agent)
    message = workflow("project_initialization", big_project(200_000))
    began = time.monotonic()
    response = await orchestrator.process_async(message, timeout=30)
    assert time.monotonic() - began < 5  # bounded: nothing is built, nothing waits
    assert response["status"] == "error"
    assert "result too large: about 800006 items" in response["error"]


async def test_a_resume_on_a_locked_store_answers_by_its_deadline(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Resuming while another connection holds the lock: an 'error' response on time, no raise."""
    db = tmp_path / "runs.db"
    lateness = []
    async with open_sqlite_store(db) as store:
        orchestrator = mira_orchestrator(store)
        message = workflow("project_initialization", big_project(200_000))
        for _ in range(ATTEMPTS):
            first = await orchestrator.process_async(message, timeout=0.5)  # time to store it
            assert first["status"] == "timeout"
            caplog.clear()
            with lock_holder(db) as holder:
                holder.execute("BEGIN IMMEDIATE")
                began = time.monotonic()
                response = await orchestrator.resume(first["workflow_id"], timeout=0.2)
                lateness.append(time.monotonic() - began - 0.2)
            assert response["status"] == "error"
            assert "locked by another connection" in response["error"]
            failed = [r for r in caplog.records if r.__dict__.get("event_type") == "workflow_error"]
            assert [r.__dict__.get("error_type") for r in failed] == ["store_unavailable"]
            if lateness[-1] <= GRACE:
                break
    assert min(lateness) <= GRACE
