"""OrchestratorAgent under load: many runs at once, isolated, and no task left behind."""

from __future__ import annotations

import math
from typing import Any

import pytest
import trio

from mira_actors.agents import (
    OrchestratorAgent,
    ProjectPlanAgent,
    RiskAssessmentAgent,
    StatusReporterAgent,
)

TIMEOUTS: list[float | None] = [0, 0.5, 2.5, 4.5, None, math.inf]  # None: the default, 30


class WeeksRiskAgent(RiskAssessmentAgent):
    """The risk agent, taking as many seconds as the plan has weeks; journals virtual times."""

    def __init__(self) -> None:
        self.started = 0
        self.cancelled = 0
        self.finished = 0

    async def handle(self, message: Any) -> Any:
        self.started += 1
        try:
            await trio.sleep(message["data"]["duration_weeks"])
        except trio.Cancelled:
            self.cancelled += 1
            raise
        self.finished += 1
        return await super().handle(message)


def make(risk: RiskAssessmentAgent) -> OrchestratorAgent:
    orchestrator = OrchestratorAgent()
    for agent in (ProjectPlanAgent(), risk, StatusReporterAgent()):
        orchestrator.register_agent(agent)
    return orchestrator


def case(i: int) -> tuple[Any, float | None, str, float]:
    """Run i's message and timeout, and the outcome and finishing time it must have."""
    delay = 1 + i % 5
    timeout = TIMEOUTS[i % 6]
    limit = 30 if timeout is None else timeout
    data = {"name": f"P{i}", "goals": ["g"], "duration_weeks": delay}
    if i % 10 == 7:
        bad = {
            "type": "workflow",
            "data": {"workflow_type": "project_initialization", "data": {**data, "goals": "g"}},
        }
        return bad, timeout, "error", 0
    if i % 10 == 9:
        unknown = {"type": "workflow", "data": {"workflow_type": f"w{i}", "data": data}}
        return unknown, timeout, "error", 0
    if i % 10 == 8:
        plan = ProjectPlanAgent().generate_plan(data)
        outcome = "success" if delay < limit else "timeout"
        return {"type": "assess_risks", "data": plan}, timeout, outcome, min(delay, limit)
    message = {
        "type": "workflow",
        "data": {"workflow_type": "project_initialization", "data": data},
    }
    return message, timeout, "success" if delay < limit else "timeout", min(delay, limit)


def outcome_of(response: dict[str, Any]) -> str:
    return str(response.get("status", "success"))


async def test_hundred_concurrent_runs_with_mixed_timeouts(
    autojump_clock: trio.abc.Clock, live_tasks: Any
) -> None:
    """100 runs at once each end with their own outcome, at their own time, with their own data."""
    before = set(live_tasks())
    risk = WeeksRiskAgent()
    orchestrator = make(risk)
    ended: dict[int, tuple[float, dict[str, Any]]] = {}

    async def one(i: int) -> None:
        message, timeout, _, _ = case(i)
        if timeout is None:
            response = await orchestrator.process_async(message)
        else:
            response = await orchestrator.process_async(message, timeout=timeout)
        ended[i] = (trio.current_time(), response)

    async with trio.open_nursery() as nursery:
        for i in range(100):
            nursery.start_soon(one, i)
    assert set(live_tasks()) == before
    outcomes = {"success": 0, "timeout": 0, "error": 0}
    for i in range(100):
        _, timeout, outcome, at = case(i)
        when, response = ended[i]
        assert (outcome_of(response), when) == (outcome, at), i
        outcomes[outcome] += 1
        if i % 10 in (7, 8, 9):
            continue
        steps = response["steps"]
        assert all(s["result"]["created_by"] == "project_plan_agent" for s in steps[:1])
        assert all(s["result"]["name"] == f"P{i}" for s in steps[:1])
        if outcome == "timeout":
            completed = [] if timeout == 0 else ["generate_plan"]
            cut = ["generate_plan"] if timeout == 0 else ["assess_risks"]
            limit = 30.0 if timeout is None else timeout
            assert response["partial_progress"] == {
                "completed_steps": completed,
                "total_steps_completed": len(completed),
                "timeout_seconds": limit,
                "timed_out_steps": cut,
            }
            assert [s["step"] for s in steps] == completed
        else:
            assert [s["step"] for s in steps] == [
                "generate_plan",
                "assess_risks",
                "generate_report",
            ]
            assert steps[2]["result"]["project_name"] == f"P{i}"
    assert all(count > 10 for count in outcomes.values()), outcomes
    await trio.sleep(1000)
    assert risk.started == risk.cancelled + risk.finished
    assert risk.cancelled == sum(
        1 for i in range(100) if case(i)[2] == "timeout" and case(i)[1] != 0
    )


async def test_concurrent_runs_in_one_running_block(
    autojump_clock: trio.abc.Clock, live_tasks: Any
) -> None:
    """Runs sharing the actors of running() keep their own data and outcome."""
    orchestrator = make(RiskAssessmentAgent())
    responses: dict[int, dict[str, Any]] = {}
    before = set(live_tasks())
    async with orchestrator.running():

        async def one(i: int) -> None:
            data = {"name": f"P{i}", "goals": ["g"] if i % 4 else "g"}
            message = {
                "type": "workflow",
                "data": {"workflow_type": "project_initialization", "data": data},
            }
            responses[i] = await orchestrator.process_async(message, timeout=[0, 0.5, 30][i % 3])

        async with trio.open_nursery() as nursery:
            for i in range(60):
                nursery.start_soon(one, i)
    assert set(live_tasks()) == before
    assert trio.current_time() == 0
    for i, response in responses.items():
        if i % 3 == 0:  # a timeout of 0 ends the run before even a bad payload is seen
            assert outcome_of(response) == "timeout"
            assert response["steps"] == []
        elif i % 4 == 0:
            assert outcome_of(response) == "error"
        else:
            assert outcome_of(response) == "success"
            assert response["steps"][2]["result"]["project_name"] == f"P{i}"


class SlowRiskAgent(RiskAssessmentAgent):
    async def handle(self, message: Any) -> Any:
        await trio.sleep(100)
        return await super().handle(message)


WORKFLOW = {
    "type": "workflow",
    "data": {"workflow_type": "project_initialization", "data": {"goals": ["g"]}},
}
CALLS = {
    "success": (RiskAssessmentAgent, WORKFLOW, 30),
    "timeout": (SlowRiskAgent, WORKFLOW, 5),
    "error": (RiskAssessmentAgent, {**WORKFLOW, "data": {"workflow_type": "x"}}, 30),
    "message": (RiskAssessmentAgent, {"type": "assess_risks", "data": {}}, 30),
    "message timeout": (SlowRiskAgent, {"type": "assess_risks", "data": {}}, 5),
    "invalid": (RiskAssessmentAgent, {"type": "workflow"}, 30),
}


@pytest.mark.parametrize("call", CALLS)
async def test_no_task_left_after_process_async(
    autojump_clock: trio.abc.Clock, live_tasks: Any, call: str
) -> None:
    """When process_async returns, every task it started has ended."""
    risk_class, message, timeout = CALLS[call]
    orchestrator = make(risk_class())
    before = set(live_tasks())
    await orchestrator.process_async(message, timeout=timeout)
    assert set(live_tasks()) == before


async def test_no_task_left_after_running(autojump_clock: trio.abc.Clock, live_tasks: Any) -> None:
    """running() keeps the actors' tasks for its block, and none after it."""
    orchestrator = make(SlowRiskAgent())
    before = set(live_tasks())
    async with orchestrator.running():
        await orchestrator.process_async(WORKFLOW, timeout=5)
        assert len(live_tasks()) > len(before)
    assert set(live_tasks()) == before
