"""Where steps run: one workflow on each backend, then a step that blocks past its deadline.

Run it with ``python examples/backends.py``. With the ray extra installed it also runs
the workflow on a local Ray instance (``MIRA_RAY_ADDRESS`` names a cluster instead).
"""

from __future__ import annotations

import importlib.util
import time
from typing import Any

import trio

from mira_actors.agents import (
    Backend,
    OrchestratorAgent,
    ProjectPlanAgent,
    RiskAssessmentAgent,
    StatusReporterAgent,
    ThreadBackend,
    init_ray,
)

PROJECT = {"name": "Customer Portal", "goals": ["Design", "Build", "Launch"], "duration_weeks": 12}
MESSAGE = {"type": "workflow", "data": {"workflow_type": "project_initialization", "data": PROJECT}}
DEADLINE = 0.3


class SlowRiskAgent(RiskAssessmentAgent):
    """A risk agent stuck in a blocking library call for two seconds."""

    def assess_risks(self, data: Any) -> dict[str, Any]:
        time.sleep(2)
        return super().assess_risks(data)


def make_orchestrator(backend: str | Backend, *, slow: bool = False) -> OrchestratorAgent:
    """Return an orchestrator whose three agents all run their steps on ``backend``."""
    orchestrator = OrchestratorAgent()
    risk = SlowRiskAgent() if slow else RiskAssessmentAgent()
    for agent in (ProjectPlanAgent(), risk, StatusReporterAgent()):
        orchestrator.register_agent(agent, backend=backend)
    return orchestrator


async def run_everywhere(backends: list[str]) -> None:
    """Run the workflow on each backend: the same response everywhere."""
    for backend in backends:
        response = await make_orchestrator(backend).process_async(MESSAGE, timeout=30)
        steps = ", ".join(f"{s['step']} {s['status']}" for s in response["steps"])
        print(f"{backend}: {steps}")


async def block_past_the_deadline(backend: str | Backend) -> str:
    """Run the workflow with the slow risk agent under a short deadline; describe the end."""
    start = time.perf_counter()
    response = await make_orchestrator(backend, slow=True).process_async(MESSAGE, timeout=DEADLINE)
    on_time = time.perf_counter() - start < DEADLINE + 0.2
    return (
        f"{response['status']} {'on time' if on_time else 'LATE'}, "
        f"completed {response['partial_progress']['completed_steps']}"
    )


async def main(backends: list[str]) -> None:
    """Run the examples."""
    await run_everywhere(backends)
    threads = ThreadBackend()
    print("blocking step on thread:", await block_past_the_deadline(threads))
    print("  abandoned threads still running:", threads.statistics().abandoned_running)
    print("blocking step on process:", await block_past_the_deadline("process"))
    print("  (its worker process was killed at the deadline)")
    if "ray" in backends:
        print("blocking step on ray:", await block_past_the_deadline("ray"))
        print("  (its Ray task was force-cancelled at the deadline)")


if __name__ == "__main__":  # worker processes import this module: run only as a script
    backends = ["inline", "thread", "process"]
    if importlib.util.find_spec("ray") is not None:
        init_ray()  # before trio.run, in the main thread
        backends.append("ray")
    trio.run(main, backends)
