"""Deadline budgets for every step: timeouts, retries, progress events, parallel steps.

Run it with ``python examples/step_policies.py``. Every wait here is real but short.
"""

from __future__ import annotations

import math
import sys
from typing import Any

import trio

from mira_actors import time_left
from mira_actors.agents import (
    OrchestratorAgent,
    ProgressDisplay,
    ProjectPlanAgent,
    RiskAssessmentAgent,
    StatusReporterAgent,
)
from supervisors import Parallel, RetryPolicy, RunEvent, Step, Workflow

PROJECT = {"name": "Portal", "description": "urgent", "goals": ["Design", "Build"]}


class FlakyRiskAgent(RiskAssessmentAgent):
    """Fails its first two assessments, as a flaky dependency would."""

    def __init__(self) -> None:
        self.calls = 0

    async def handle(self, message: Any) -> dict[str, Any]:
        self.calls += 1
        if self.calls <= 2:
            return self.error_response("risk service unavailable")
        return await super().handle(message)


class SlowReporter(StatusReporterAgent):
    """Takes two seconds to report, and says how much time it was given."""

    async def handle(self, message: Any) -> dict[str, Any]:
        print(f"    reporter: {time_left():.2f} s left when it started")
        await trio.sleep(2)
        return await super().handle(message)


def workflow(workflow_type: str) -> dict[str, Any]:
    """Wrap the project in a workflow message of ``workflow_type``."""
    return {"type": "workflow", "data": {"workflow_type": workflow_type, "data": PROJECT}}


async def retry_with_backoff() -> None:
    """The risk step fails twice, then succeeds on its third attempt."""
    orchestrator = OrchestratorAgent()
    for agent in (ProjectPlanAgent(), FlakyRiskAgent(), StatusReporterAgent()):
        orchestrator.register_agent(agent)
    events: list[RunEvent] = []
    retry = RetryPolicy(max_attempts=3, initial_interval=0.05, backoff_coefficient=2.0)
    response = await orchestrator.process_async(
        workflow("project_initialization"), 5.0, retry=retry, on_event=events.append
    )
    print("1. retry with backoff:", [(s["step"], s["attempts"]) for s in response["steps"]])
    display = ProgressDisplay(sys.stdout)
    for event in events:
        display(event)


async def step_timeout() -> None:
    """The report step gets 0.2 s of its own, inside a 10 s workflow deadline."""
    orchestrator = OrchestratorAgent()
    for agent in (ProjectPlanAgent(), RiskAssessmentAgent(), SlowReporter()):
        orchestrator.register_agent(agent)
    response = await orchestrator.process_async(
        workflow("project_initialization"), 10.0, step_timeouts={"generate_report": 0.2}
    )
    print("2. step timeout:", response["status"], "-", response["error"])
    print("   partial progress:", response["partial_progress"])


def _plan(data: Any, results: Any) -> Any:
    return results["plan"]


async def parallel_group() -> None:
    """Plan first, then assess risks and schedule a report at once."""
    review = Workflow(
        name="plan_review",
        steps=[
            Step(name="plan", message_type="generate_plan"),
            Parallel(
                name="checks",
                steps=[
                    Step(name="risks", message_type="assess_risks", build_input=_plan),
                    Step(
                        name="schedule",
                        message_type="schedule_report",
                        build_input=lambda data, results: {"recipients": ["pm@example.com"]},
                    ),
                ],
            ),
        ],
    )
    orchestrator = OrchestratorAgent()
    for agent in (ProjectPlanAgent(), RiskAssessmentAgent(), StatusReporterAgent()):
        orchestrator.register_agent(agent)
    orchestrator.register_workflow(review)
    response = await orchestrator.process_async(workflow("plan_review"), math.inf)
    print("3. parallel group:", sorted(s["step"] for s in response["steps"]))


async def main() -> None:
    """Run each example in turn."""
    await retry_with_backoff()
    await step_timeout()
    await parallel_group()


if __name__ == "__main__":
    trio.run(main)
