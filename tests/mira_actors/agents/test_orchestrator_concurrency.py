"""OrchestratorAgent under load: many runs at once, isolated, and no task left behind."""

from __future__ import annotations

import itertools
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
from tests.mira_actors.agents.orchestrators import SlowRiskAgent, make

TIMEOUTS: list[float | None] = [0, 0.5, 2.5, 4.5, None, math.inf]  # None: the default, 30


class WeeksRiskAgent(RiskAssessmentAgent):
    """The risk agent, taking as many seconds as the plan has weeks; counts its handlers."""

    def __init__(self) -> None:
        self.started = 0
        self.cancelled = 0
        self.finished = 0
        self.busy = 0
        self.most_busy = 0  # the most handle() calls ever running at once on this instance

    async def handle(self, message: Any) -> Any:
        self.started += 1
        self.busy += 1
        self.most_busy = max(self.most_busy, self.busy)
        try:
            await trio.sleep(message["data"]["duration_weeks"])
        except trio.Cancelled:
            self.cancelled += 1
            raise
        finally:
            self.busy -= 1
        self.finished += 1
        return await super().handle(message)


def case(i: int) -> tuple[Any, float | None, str]:
    """Run i's message and timeout, and its kind: 'workflow', 'message' or 'error'."""
    delay = 1 + i % 5
    timeout = TIMEOUTS[i % 6]
    data = {"name": f"P{i}", "goals": ["g"], "duration_weeks": delay}
    if i % 10 == 7:
        bad = {
            "type": "workflow",
            "data": {"workflow_type": "project_initialization", "data": {**data, "goals": "g"}},
        }
        return bad, timeout, "error"
    if i % 10 == 9:
        unknown = {"type": "workflow", "data": {"workflow_type": f"w{i}", "data": data}}
        return unknown, timeout, "error"
    if i % 10 == 8:
        plan = ProjectPlanAgent().generate_plan(data)
        return {"type": "assess_risks", "data": plan}, timeout, "message"
    message = {
        "type": "workflow",
        "data": {"workflow_type": "project_initialization", "data": data},
    }
    return message, timeout, "workflow"


def outcome_of(response: dict[str, Any]) -> str:
    return str(response.get("status", "success"))


async def test_hundred_concurrent_runs_with_mixed_timeouts(
    autojump_clock: trio.abc.Clock, live_tasks: Any
) -> None:
    """100 calls at once each end by their own deadline, with their own data and outcome.

    The calls share one risk actor, so its agent handles one message at a time and the
    risk steps queue: which runs finish in time depends on the queue, but none ends
    after its deadline, and each response describes its own run.
    """
    before = set(live_tasks())
    risk = WeeksRiskAgent()
    orchestrator = make(risk)
    ended: dict[int, tuple[float, dict[str, Any]]] = {}

    async def one(i: int) -> None:
        message, timeout, _ = case(i)
        if timeout is None:
            response = await orchestrator.process_async(message)
        else:
            response = await orchestrator.process_async(message, timeout=timeout)
        ended[i] = (trio.current_time(), response)

    async with trio.open_nursery() as nursery:
        for i in range(100):
            nursery.start_soon(one, i)
    assert set(live_tasks()) == before
    assert risk.most_busy == 1
    outcomes = {"success": 0, "timeout": 0, "error": 0}
    for i in range(100):
        _, timeout, kind = case(i)
        limit = 30.0 if timeout is None else timeout
        when, response = ended[i]
        outcome = outcome_of(response)
        outcomes[outcome] += 1
        if kind == "error":
            assert (outcome, when) == ("error", 0), i
            continue
        if outcome == "timeout":
            assert when == limit, i  # exactly at its own deadline
        else:
            assert (outcome, when < limit) == ("success", True), i
        if kind == "message":
            continue
        steps = response["steps"]
        assert all(s["result"]["created_by"] == "project_plan_agent" for s in steps[:1])
        assert all(s["result"]["name"] == f"P{i}" for s in steps[:1])
        if outcome == "timeout":
            completed = [] if timeout == 0 else ["generate_plan"]
            cut = ["generate_plan"] if timeout == 0 else ["assess_risks"]
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
    assert all(count > 0 for count in outcomes.values()), outcomes
    await trio.sleep(1000)
    assert risk.busy == 0
    assert risk.started == risk.cancelled + risk.finished


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


class OneAtATimePlanAgent(ProjectPlanAgent):
    """The plan agent, taking 1 s a plan; counts its starts and overlapping handlers."""

    def __init__(self) -> None:
        self.starts = 0
        self.busy = 0
        self.most_busy = 0

    async def on_start(self) -> None:
        self.starts += 1

    async def handle(self, message: Any) -> Any:
        self.busy += 1
        self.most_busy = max(self.most_busy, self.busy)
        try:
            await trio.sleep(1)
        finally:
            self.busy -= 1
        return await super().handle(message)


async def test_calls_at_once_share_one_actor_per_agent(
    autojump_clock: trio.abc.Clock, live_tasks: Any
) -> None:
    """Outside running(), calls at once share one actor per agent: never two handle() at once."""
    plan = OneAtATimePlanAgent()
    orchestrator = OrchestratorAgent()
    for agent in (plan, RiskAssessmentAgent(), StatusReporterAgent()):
        orchestrator.register_agent(agent)
    before = set(live_tasks())
    ended: list[tuple[float, float, str]] = []

    async def one(timeout: float) -> None:
        response = await orchestrator.process_async(WORKFLOW, timeout=timeout)
        ended.append((timeout, trio.current_time(), outcome_of(response)))

    async with trio.open_nursery() as nursery:
        for timeout in (30, 30, 30, 1.5):
            nursery.start_soon(one, timeout)
    assert (plan.starts, plan.most_busy) == (1, 1)
    # The plans queue, 1 s each, in whatever order the calls came; every call still
    # answers by its own deadline (the 1.5 s one times out unless it came first).
    for timeout, when, outcome in ended:
        assert when == 1.5 if outcome == "timeout" else when <= timeout
    done = sorted(when for _, when, outcome in ended if outcome == "success")
    assert len(done) >= 3
    assert all(later - earlier >= 1 for earlier, later in itertools.pairwise(done))
    assert set(live_tasks()) == before
    await orchestrator.process_async(WORKFLOW, timeout=30)
    assert plan.starts == 2  # the shared actors stopped with the last call; these are new
