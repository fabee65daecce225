"""Agents for the backend tests, in a module that worker processes and Ray tasks import."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import trio

from mira_actors import check_deadline, request_headers, time_left
from mira_actors.agents import Backend, BaseAgent, OrchestratorAgent
from mira_actors.agents.base_agent import Response
from supervisors import Step, Workflow


class WorkerAgent(BaseAgent):
    """Says where it runs and what budget it has; sleeps, fails or dies on request."""

    agent_id = "worker_agent"
    handlers = {
        "pid": "pid",
        "budget": "budget",
        "key": "key",
        "sleep": "sleep",
        "fail": "fail",
        "die": "die",
        "spin": "spin",
    }

    def pid(self, data: Any) -> int:
        return os.getpid()

    def budget(self, data: Any) -> float:
        return time_left()

    def key(self, data: Any) -> Any:
        return request_headers().get("idempotency_key")

    def sleep(self, data: dict[str, Any]) -> str:
        """Write this worker's pid to data['pid_file'], sleep, then write 'finished'."""
        pid_file = Path(data["pid_file"])
        pid_file.write_text(str(os.getpid()))
        time.sleep(data["seconds"])
        pid_file.write_text("finished")
        return "slept"

    def fail(self, data: Any) -> Any:
        msg = "the step broke"
        raise ValueError(msg)

    def die(self, data: Any) -> Any:
        os.kill(os.getpid(), signal.SIGKILL)

    def spin(self, data: Any) -> int:
        """Loop until the step's deadline stops it, checking it as synchronous code should."""
        turns = 0
        while True:
            check_deadline()
            turns += 1


class RaisingAgent(BaseAgent):
    """Overrides respond() and raises from it: the agent's own code fails, not a method."""

    agent_id = "raising_agent"
    handlers = {"raise": "raise"}

    def respond(self, message: Any) -> Response:
        msg = "respond itself broke"
        raise RuntimeError(msg)


class UnpicklableAgent(WorkerAgent):
    """Holds a lock, so it cannot be sent to a worker process or a Ray task."""

    agent_id = "unpicklable_agent"

    def __init__(self) -> None:
        self.lock = threading.Lock()


def orchestrator_for(agent: BaseAgent, backend: str | Backend) -> OrchestratorAgent:
    """An orchestrator with ``agent`` on ``backend`` and a one-step workflow per message type.

    The workflow for message type ``T`` is named ``T`` and its one step ``T_step``.
    """
    orchestrator = OrchestratorAgent()
    orchestrator.register_agent(agent, backend=backend)
    for message_type in agent.handlers:
        step = Step(name=f"{message_type}_step", message_type=message_type)
        orchestrator.register_workflow(Workflow(name=message_type, steps=[step]))
    return orchestrator


def workflow(workflow_type: str, data: Any = None) -> dict[str, Any]:
    """The workflow message that runs ``workflow_type`` on ``data``."""
    return {"type": "workflow", "data": {"workflow_type": workflow_type, "data": data}}


PROJECT = {"name": "Apollo", "goals": ["Design", "Build", "Launch"], "duration_weeks": 6}


async def twenty_concurrent_workflows(
    orchestrator: OrchestratorAgent, timeout: float
) -> list[dict[str, Any]]:
    """Run 20 project_initialization workflows at once; return their responses."""
    responses: list[dict[str, Any]] = []

    async def one(i: int) -> None:
        message = workflow("project_initialization", {**PROJECT, "name": f"P{i}"})
        responses.append(await orchestrator.process_async(message, timeout=timeout))

    async with orchestrator.running(), trio.open_nursery() as nursery:
        for i in range(20):
            nursery.start_soon(one, i)
    return responses


def succeeded(responses: list[dict[str, Any]]) -> bool:
    """Whether every response is a success with the three steps, in order."""
    names = ["generate_plan", "assess_risks", "generate_report"]
    return all("status" not in r and [s["step"] for s in r["steps"]] == names for r in responses)


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def gone_within(pid: int, seconds: float) -> bool:
    """Poll (real time, bounded) until process ``pid`` no longer exists."""
    with trio.move_on_after(seconds):
        # Someone else's process (a Ray worker, say) gives no event to wait on: poll.
        while pid_alive(pid):  # noqa: ASYNC110
            await trio.sleep(0.01)
        return True
    return False
