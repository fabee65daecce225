"""What every backend promises, one suite run against each: inline, thread, process, ray.

Real worker threads, processes and a local Ray instance run on the real clock, so these
tests take real (short) time. What only one backend does is tested in its own file.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import trio

from mira_actors.agents import Backend, ThreadBackend, resolve_backend
from mira_actors.agents._commands import build_orchestrator
from tests.deadlines import ATTEMPTS, GRACE
from tests.mira_actors.agents.backend_agents import (
    RaisingAgent,
    UnpicklableAgent,
    WorkerAgent,
    orchestrator_for,
    succeeded,
    twenty_concurrent_workflows,
    workflow,
)

# Real-time deadlines: the garbage of earlier tests is collected before, not during.
pytestmark = pytest.mark.usefixtures("collected_heap")


@pytest.fixture(params=["inline", "thread", "process", "ray"])
def backend(request: pytest.FixtureRequest) -> str:
    """The name of each built-in backend in turn (ray with the session's local instance)."""
    name: str = request.param
    if name == "ray":
        request.getfixturevalue("ray_cluster")
    return name


@pytest.fixture(params=["process", "ray"])
def shipping_backend(request: pytest.FixtureRequest) -> str:
    """Each backend that pickles the agent to a worker."""
    name: str = request.param
    if name == "ray":
        request.getfixturevalue("ray_cluster")
    return name


async def test_a_step_succeeds_with_its_budget(backend: str) -> None:
    """A step answers through the backend, reading the budget it has left there."""
    orchestrator = orchestrator_for(WorkerAgent(), backend)
    response = await orchestrator.process_async(workflow("budget"), timeout=30)
    (step,) = response["steps"]
    assert step["status"] == "success"
    assert 25 < step["result"] <= 30


async def test_an_exception_in_the_step_is_a_step_error(backend: str) -> None:
    """A step method that raises fails its step with the error's text."""
    orchestrator = orchestrator_for(WorkerAgent(), backend)
    response = await orchestrator.process_async(workflow("fail"), timeout=30)
    assert response["status"] == "error"
    assert response["error"] == "Step 'fail_step' failed: the step broke"


async def test_an_exception_from_respond_is_a_step_error(backend: str) -> None:
    """An exception escaping respond() fails the step, naming the agent and the error."""
    orchestrator = orchestrator_for(RaisingAgent(), backend)
    response = await orchestrator.process_async(workflow("raise"), timeout=30)
    assert response["status"] == "error"
    assert response["error"].startswith("Step 'raise_step' failed: ")
    assert "'raising_agent'" in response["error"]
    assert response["error"].endswith("RuntimeError: respond itself broke")


async def test_twenty_concurrent_workflows_succeed(backend: str) -> None:
    """Twenty workflows at once, every built-in agent on the backend, all succeed."""
    responses = await twenty_concurrent_workflows(build_orchestrator(backend), timeout=30)
    assert len(responses) == 20
    assert succeeded(responses)


async def test_the_worker_reads_the_steps_idempotency_key(backend: str) -> None:
    """Where the step runs, request_headers() holds the step's idempotency key."""
    orchestrator = orchestrator_for(WorkerAgent(), backend)
    async with orchestrator.running():
        response = await orchestrator.process_async(workflow("key"), timeout=30)
    [step] = response["steps"]
    assert step["result"] == f"{response['workflow_id']}:key_step:1"


async def test_check_deadline_stops_a_synchronous_loop_at_the_deadline(backend: str) -> None:
    """A loop that calls check_deadline() ends at the deadline: a timeout, on time."""
    chosen: Backend = ThreadBackend() if backend == "thread" else resolve_backend(backend)
    orchestrator = orchestrator_for(WorkerAgent(), chosen)
    lateness, stopped = [], []
    async with orchestrator.running():
        for _ in range(ATTEMPTS):
            # A warm worker first. (Ray kills a force-cancelled task's worker after the
            # answer, asynchronously; a step sent at once may land on it as it dies.)
            await orchestrator.process_async(workflow("pid"), timeout=30)
            began = time.monotonic()
            response = await orchestrator.process_async(workflow("spin"), timeout=0.3)
            lateness.append(time.monotonic() - began - 0.3)
            assert response["status"] == "timeout"
            assert response["partial_progress"]["timed_out_steps"] == ["spin_step"]
            if isinstance(chosen, ThreadBackend):  # the one backend that cannot kill a worker
                with trio.fail_after(5):  # bounded; threads give no event to wait on
                    while chosen.statistics().running:  # noqa: ASYNC110
                        await trio.sleep(0.001)
                stopped.append(time.monotonic() - began - 0.3)
    assert min(lateness) <= GRACE
    assert not stopped or min(stopped) <= GRACE


async def test_an_agent_that_does_not_pickle_fails_its_step_saying_why(
    shipping_backend: str,
) -> None:
    """An agent that cannot be shipped to a worker fails its step, naming agent and step."""
    orchestrator = orchestrator_for(UnpicklableAgent(), shipping_backend)
    response: dict[str, Any] = await orchestrator.process_async(workflow("pid"), timeout=30)
    assert response["status"] == "error"
    assert response["error"].startswith(
        f"Step 'pid_step' failed: the {shipping_backend} backend could not run agent "
        "'unpicklable_agent' for 'pid': "
    )
    assert "_thread.lock" in response["error"]
