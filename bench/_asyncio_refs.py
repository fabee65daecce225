"""The asyncio references: the thread-pool design the runtime replaces, and raw asyncio.

The thread-pool design is MIRA's original ``process_async``: ``asyncio.wait_for``
around a task whose steps each run an agent's synchronous logic through
``loop.run_in_executor(None, ...)`` (the loop's default ThreadPoolExecutor, which has
``min(32, cpu_count + 4)`` threads). At the deadline, ``wait_for`` cancels the task;
a step that a thread is already running goes on in that thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from mira_actors.agents.base_agent import Response

from ._workload import (
    STEP_NAMES,
    WORKFLOW_TYPE,
    Agents,
    StepLog,
    requirements,
    step_message,
    workflow_response,
)


async def threadpool_workflow(agents: Agents, data: Any, timeout: float) -> dict[str, Any]:
    """Run ``project_initialization`` the way the replaced design did; return its response."""
    loop = asyncio.get_running_loop()
    results: dict[str, Response] = {}

    async def steps() -> None:
        for step in STEP_NAMES:
            message = step_message(step, data, results)
            response = await loop.run_in_executor(None, agents.for_step(step).respond, message)
            results[step] = response
            if response["status"] != "success":
                return

    try:
        await asyncio.wait_for(steps(), timeout)
    except TimeoutError:
        completed = [step for step, r in results.items() if r["status"] == "success"]
        return {
            "workflow_type": WORKFLOW_TYPE,
            "status": "timeout",
            "error": f"Workflow execution timed out after {timeout} seconds",
            "steps": workflow_response(results)["steps"],
            "partial_progress": {
                "completed_steps": completed,
                "total_steps_completed": len(completed),
                "timeout_seconds": timeout,
            },
        }
    return workflow_response(results)


async def threadpool_plan_request(agents: Agents, key: str) -> None:
    """The 'new request' of case 5 in the thread-pool design: one plan step."""
    loop = asyncio.get_running_loop()
    message = step_message("generate_plan", requirements(key), {})
    await loop.run_in_executor(None, agents.plan.respond, message)


async def prime_executor(agents: Agents, workers: int = 8) -> None:
    """Start the default executor's threads, so no measured run pays for their creation."""
    loop = asyncio.get_running_loop()
    message = step_message("generate_plan", requirements("warm"), {})
    await asyncio.gather(
        *(loop.run_in_executor(None, agents.plan.respond, message) for _ in range(workers))
    )


async def _call(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


async def _never_finishes(log: StepLog, key: str) -> None:
    execution = log.start(key)
    try:
        await asyncio.Event().wait()
    finally:
        log.end(execution, "cancelled")


async def timeout_workflow(agents: Agents, log: StepLog, key: str, timeout: float) -> bool:
    """Run plan, then a step that never finishes, in raw tasks under ``asyncio.timeout``.

    Returns whether the deadline cut the run short (it always should).
    """
    data = requirements(key)
    try:
        async with asyncio.timeout(timeout):
            message = step_message("generate_plan", data, {})
            await asyncio.create_task(_call(agents.plan.respond, message))
            await asyncio.create_task(_never_finishes(log, key))
    except TimeoutError:
        return True
    return False


async def plan_request(agents: Agents, key: str) -> None:
    """The 'new request' of case 5 in raw asyncio: one plan step, in a task."""
    message = step_message("generate_plan", requirements(key), {})
    await asyncio.create_task(_call(agents.plan.respond, message))
