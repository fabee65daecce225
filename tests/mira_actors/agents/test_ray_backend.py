"""The ray backend: steps as Ray tasks on a local Ray instance, force-cancelled at the deadline.

A real cluster runs on the real clock: these tests take real (short) time, on the one
local instance (2 CPUs) that the ``ray_cluster`` fixture starts for the whole session.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import trio

pytest.importorskip("ray")  # the ray extra is optional; CI installs it

from mira_actors.agents import RayBackend, StepContext, init_ray
from tests.mira_actors.agents.backend_agents import (
    WorkerAgent,
    gone_within,
    orchestrator_for,
    workflow,
)

TIMEOUT = 1.0  # the deadline of the step that blocks past it


@pytest.fixture
def ray(ray_cluster: ModuleType) -> ModuleType:
    """The ray module, with the session's local instance running."""
    return ray_cluster


async def test_ray_step_succeeds_in_a_ray_worker_with_its_budget(ray: ModuleType) -> None:
    """A ray step runs in a Ray worker process and reads its budget there."""
    orchestrator = orchestrator_for(WorkerAgent(), "ray")
    async with orchestrator.running():
        pid = await orchestrator.process_async(workflow("pid"), timeout=30)
        budget = await orchestrator.process_async(workflow("budget"), timeout=30)
    assert pid["steps"][0]["status"] == "success"
    assert pid["steps"][0]["result"] != os.getpid()
    assert 25 < budget["steps"][0]["result"] <= 30


async def test_ray_step_past_the_deadline_is_cancelled_and_its_worker_killed(
    ray: ModuleType, tmp_path: Path
) -> None:
    """At the deadline the response returns and the Ray worker running the step is gone."""
    orchestrator = orchestrator_for(WorkerAgent(), RayBackend())
    pid_file = tmp_path / "pid"
    start = trio.current_time()
    response = await orchestrator.process_async(
        workflow("sleep", {"pid_file": str(pid_file), "seconds": 30}), timeout=TIMEOUT
    )
    elapsed = trio.current_time() - start
    assert response["status"] == "timeout"
    assert TIMEOUT <= elapsed < TIMEOUT + 0.5
    pid = int(pid_file.read_text())  # the step had started in this worker
    assert await gone_within(pid, 1.5)
    assert pid_file.read_text() == str(pid)  # the step never got to write 'finished'


async def test_ray_cancelled_task_reports_cancelled(ray: ModuleType) -> None:
    """A step given up at its deadline is cancelled in Ray: getting it raises so."""
    step = StepContext(agent_id="worker_agent", message_type="sleep")
    blocking = {"type": "sleep", "data": {"pid_file": os.devnull, "seconds": 30}}
    submitted = RayBackend().submit(WorkerAgent(), blocking, step)
    with trio.move_on_after(0.5):
        await submitted.response()
    cancelled = (ray.exceptions.TaskCancelledError, ray.exceptions.WorkerCrashedError)
    with pytest.raises(cancelled):
        await trio.to_thread.run_sync(ray.get, submitted.ref)


async def test_ray_not_initialized_is_an_error_saying_what_to_do(
    ray: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without ray.init, a ray step fails, saying to call init_ray() first."""
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    orchestrator = orchestrator_for(WorkerAgent(), RayBackend())
    response = await orchestrator.process_async(workflow("pid"), timeout=30)
    assert response["error"] == (
        "Step 'pid_step' failed: the ray backend could not run agent 'worker_agent' for 'pid': "
        "RuntimeError: Ray is not initialized: call init_ray() (or ray.init()) before trio.run"
    )


@pytest.mark.parametrize(
    ("address", "environment", "expected"),
    [
        (None, None, {"address": None, "include_dashboard": False, "log_to_driver": False}),
        ("auto", None, {"address": "auto"}),
        (None, "ray://head:10001", {"address": "ray://head:10001"}),
        ("auto", "ray://head:10001", {"address": "auto"}),
    ],
)
def test_init_ray_reads_the_address_from_the_argument_or_the_environment(
    monkeypatch: pytest.MonkeyPatch,
    address: str | None,
    environment: str | None,
    expected: dict[str, Any],
) -> None:
    """init_ray uses the address given, else MIRA_RAY_ADDRESS, else a local instance."""
    import ray as ray_module

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(ray_module, "is_initialized", lambda: False)
    monkeypatch.setattr(ray_module, "init", lambda **kwargs: calls.append(kwargs))
    if environment is None:
        monkeypatch.delenv("MIRA_RAY_ADDRESS", raising=False)
    else:
        monkeypatch.setenv("MIRA_RAY_ADDRESS", environment)
    init_ray(address)
    assert calls == [expected]
