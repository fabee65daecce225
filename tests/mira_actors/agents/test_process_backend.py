"""The process backend: steps in worker processes, the worker killed at the deadline.

Real processes run on the real clock, so these tests take real (short) time.
"""

from __future__ import annotations

import os
from pathlib import Path

import trio

from mira_actors.agents import ProcessBackend
from tests.mira_actors.agents.backend_agents import (
    WorkerAgent,
    gone_within,
    orchestrator_for,
    workflow,
)

TIMEOUT = 0.3  # the deadline of the step that blocks past it


async def test_process_step_succeeds_in_a_worker_with_its_budget() -> None:
    """A process step runs in another process and reads its budget there."""
    orchestrator = orchestrator_for(WorkerAgent(), "process")
    async with orchestrator.running():
        pid = await orchestrator.process_async(workflow("pid"), timeout=30)
        budget = await orchestrator.process_async(workflow("budget"), timeout=30)
    assert pid["steps"][0]["status"] == "success"
    assert pid["steps"][0]["result"] != os.getpid()
    assert 25 < budget["steps"][0]["result"] <= 30


async def test_process_step_past_the_deadline_is_killed_and_the_pool_recovers(
    tmp_path: Path,
) -> None:
    """At the deadline the response returns, the worker is gone, and the next step runs."""
    orchestrator = orchestrator_for(WorkerAgent(), ProcessBackend())
    pid_file = tmp_path / "pid"
    async with orchestrator.running():
        await orchestrator.process_async(workflow("pid"), timeout=30)  # a warm worker
        start = trio.current_time()
        response = await orchestrator.process_async(
            workflow("sleep", {"pid_file": str(pid_file), "seconds": 10}), timeout=TIMEOUT
        )
        elapsed = trio.current_time() - start
        assert response["status"] == "timeout"
        assert response["partial_progress"]["completed_steps"] == []
        assert TIMEOUT <= elapsed < TIMEOUT + 0.5
        pid = int(pid_file.read_text())  # the step had started in this worker
        assert await gone_within(pid, 1.0)
        after = await orchestrator.process_async(workflow("pid"), timeout=30)
    assert after["steps"][0]["status"] == "success"
    assert after["steps"][0]["result"] != pid
    assert pid_file.read_text() == str(pid)  # the step never got to write 'finished'


async def test_process_worker_that_dies_is_an_error_naming_the_agent_and_step() -> None:
    """A worker that dies of something other than our deadline fails the step as such."""
    orchestrator = orchestrator_for(WorkerAgent(), "process")
    response = await orchestrator.process_async(workflow("die"), timeout=30)
    assert response["status"] == "error"
    assert response["error"].startswith(
        "Step 'die_step' failed: the process backend could not run agent 'worker_agent' "
        "for 'die': BrokenWorkerProcessError"
    )
