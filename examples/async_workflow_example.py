"""The MIRA async workflow examples, on trio: deadlines, partial progress, concurrency.

Run it with ``python examples/async_workflow_example.py``.
"""

from __future__ import annotations

import logging
from typing import Any

import trio

from mira_actors.agents import (
    OrchestratorAgent,
    ProjectPlanAgent,
    RiskAssessmentAgent,
    StatusReporterAgent,
)

PROJECT = {
    "name": "Customer Portal",
    "description": "Urgent rebuild on a new framework",
    "goals": ["Design", "Build", "Launch"],
    "duration_weeks": 12,
}


def workflow(data: dict[str, Any]) -> dict[str, Any]:
    """Wrap project requirements in a project_initialization workflow message."""
    return {"type": "workflow", "data": {"workflow_type": "project_initialization", "data": data}}


class SlowRiskAgent(RiskAssessmentAgent):
    """A risk agent stuck on a slow dependency: it takes 10 seconds to answer."""

    async def handle(self, message: Any) -> dict[str, Any]:
        try:
            await trio.sleep(10)
        except trio.Cancelled:
            print("    (the slow risk assessment was cancelled at the deadline)")
            raise
        return await super().handle(message)


def make_orchestrator(*, slow: bool = False) -> OrchestratorAgent:
    """Return an orchestrator with the three agents, the risk one slow if asked."""
    orchestrator = OrchestratorAgent()
    orchestrator.register_agent(ProjectPlanAgent())
    orchestrator.register_agent(SlowRiskAgent() if slow else RiskAssessmentAgent())
    orchestrator.register_agent(StatusReporterAgent())
    return orchestrator


async def normal_run() -> None:
    """A workflow under the default 30-second timeout."""
    response = await make_orchestrator().process_async(workflow(PROJECT))
    print("1. default timeout:", [(s["step"], s["status"]) for s in response["steps"]])


async def custom_timeout() -> None:
    """The same workflow with a 60-second timeout."""
    response = await make_orchestrator().process_async(workflow(PROJECT), timeout=60.0)
    print("2. custom timeout: 'status' in response =", "status" in response)


async def timeout_with_partial_progress() -> None:
    """A slow agent: the run times out and reports the steps that did complete."""
    print("3. timeout with partial progress:")
    response = await make_orchestrator(slow=True).process_async(workflow(PROJECT), timeout=0.2)
    print("   status:", response["status"])
    print("   error:", response["error"])
    print("   partial progress:", response["partial_progress"])


async def non_workflow_message() -> None:
    """A message for one agent, routed by its type."""
    message = {"type": "generate_plan", "data": {"name": "Spike", "goals": ["Prototype"]}}
    response = await make_orchestrator().process_async(message, timeout=5.0)
    print(
        "4. non-workflow message:",
        response["agent_id"],
        response["status"],
        len(response["data"]["tasks"]),
        "tasks",
    )


async def several_at_once() -> None:
    """Several workflows at once in a nursery, with one orchestrator kept running."""
    orchestrator = make_orchestrator()
    outcomes: dict[str, str] = {}

    async def run_one(name: str) -> None:
        response = await orchestrator.process_async(workflow({**PROJECT, "name": name}))
        outcomes[name] = response.get("status", "success")

    async with orchestrator.running(), trio.open_nursery() as nursery:
        for name in ("alpha", "beta", "gamma", "delta"):
            nursery.start_soon(run_one, name)
    print("5. several at once:", dict(sorted(outcomes.items())))


async def main() -> None:
    """Run every example in turn."""
    await normal_run()
    await custom_timeout()
    await timeout_with_partial_progress()
    await non_workflow_message()
    await several_at_once()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="    log: %(levelname)s %(message)s")
    trio.run(main)
