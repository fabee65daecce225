"""A real crash: a process killed with SIGKILL mid-step, its run resumed from the SQLite file."""

from __future__ import annotations

import datetime
import os
import signal
import sqlite3
import subprocess
import sys
from contextlib import closing
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio

from mira_actors import request_headers
from mira_actors.agents import (
    OrchestratorAgent,
    ProjectPlanAgent,
    RiskAssessmentAgent,
    StatusReporterAgent,
)
from supervisors import ResumeConflictError, open_sqlite_store
from tests.mira_actors.agents.crash_child import MESSAGE

CHILD = Path(__file__).with_name("crash_child.py")
TODAY = datetime.date(2024, 5, 15)


class Keys:
    """Keeps the idempotency key of every step an agent serves."""

    def __init__(self) -> None:
        self.keys: list[str] = []

    def note(self) -> None:
        self.keys.append(request_headers()["idempotency_key"])


class CountingPlanAgent(ProjectPlanAgent):
    """The plan agent, keeping the keys of the steps it serves."""

    def __init__(self) -> None:
        self.seen = Keys()

    async def handle(self, message: Any) -> Any:
        self.seen.note()
        return await super().handle(message)


class CountingRiskAgent(RiskAssessmentAgent):
    """The risk agent, keeping the keys of the steps it serves."""

    def __init__(self) -> None:
        self.seen = Keys()

    async def handle(self, message: Any) -> Any:
        self.seen.note()
        return await super().handle(message)


class CountingReporter(StatusReporterAgent):
    """The status reporter on a fixed date, keeping the keys of the steps it serves."""

    def __init__(self) -> None:
        super().__init__(today=lambda: TODAY)
        self.seen = Keys()

    async def handle(self, message: Any) -> Any:
        self.seen.note()
        return await super().handle(message)


async def kill_in_the_risk_step(db: Path) -> tuple[str, str]:
    """Run the child on ``db``, SIGKILL it in its risk step; return the run's id and the key."""
    with trio.fail_after(10):  # real time: the child is a real process
        async with trio.open_nursery() as nursery:
            process = await nursery.start(
                partial(
                    trio.run_process,
                    [sys.executable, str(CHILD), str(db)],
                    stdout=subprocess.PIPE,
                    check=False,
                )
            )
            seen = b""
            while not seen.endswith(b"\n"):
                chunk = await process.stdout.receive_some()
                assert chunk, "the child ended before its risk step started"
                seen += chunk
            os.kill(process.pid, signal.SIGKILL)
    assert process.returncode == -signal.SIGKILL
    ready, workflow_id, key = seen.decode().split()
    assert ready == "ready"
    return workflow_id, key


def integrity(db: Path) -> str:
    """The result of PRAGMA integrity_check on the file."""
    with closing(sqlite3.connect(db)) as connection:
        return str(connection.execute("PRAGMA integrity_check").fetchone()[0])


async def test_a_run_killed_mid_step_is_resumed_without_redoing_completed_steps(
    tmp_path: Path,
) -> None:
    """After a SIGKILL in the risk step, resume runs risk and report once, never the plan."""
    db = tmp_path / "ledger.db"
    workflow_id, key = await kill_in_the_risk_step(db)
    assert key == f"{workflow_id}:assess_risks:1"
    assert integrity(db) == "ok"
    plan, risk, reporter = CountingPlanAgent(), CountingRiskAgent(), CountingReporter()
    async with open_sqlite_store(db) as store:
        crashed = await store.load_run(workflow_id)
        assert crashed is not None
        assert (crashed.status, crashed.resumes) == ("running", 0)
        assert [(r.step, r.status) for r in crashed.records] == [("generate_plan", "success")]
        orchestrator = OrchestratorAgent(store=store)
        for agent in (plan, risk, reporter):
            orchestrator.register_agent(agent)
        # The dead child's lease (1 s) still holds: the run is refused until it lapses.
        assert crashed.owner is not None
        assert crashed.lease_expires_at is not None
        if await store.now() < crashed.lease_expires_at:
            with pytest.raises(ResumeConflictError):
                await orchestrator.resume(workflow_id, timeout=10)
        await trio.sleep(max(0.0, crashed.lease_expires_at - await store.now()) + 0.05)
        with trio.fail_after(10):
            response = await orchestrator.resume(workflow_id, timeout=10)
        resumed = await store.load_run(workflow_id)
    assert integrity(db) == "ok"
    assert (plan.seen.keys, risk.seen.keys, reporter.seen.keys) == (
        [],
        [key],  # the killed step is sent again with its key
        [f"{workflow_id}:generate_report:1"],
    )
    assert response["workflow_id"] == workflow_id
    assert "status" not in response
    assert [(s["step"], s["status"], s["attempts"]) for s in response["steps"]] == [
        ("generate_plan", "success", 0),
        ("assess_risks", "success", 1),
        ("generate_report", "success", 1),
    ]
    assert response["steps"][0]["result"] == crashed.records[0].result
    assert resumed is not None
    assert (resumed.status, resumed.resumes, resumed.response) == ("success", 1, response)
    assert [r.step for r in resumed.records] == ["generate_plan", "assess_risks", "generate_report"]
    # The plan and risks of a run that was never interrupted (a report says when it was made).
    straight = OrchestratorAgent()
    for plain in (ProjectPlanAgent(), RiskAssessmentAgent(), StatusReporterAgent()):
        straight.register_agent(plain)
    expected = await straight.process_async(MESSAGE)
    assert [s["result"] for s in response["steps"][:2]] == [
        s["result"] for s in expected["steps"][:2]
    ]
