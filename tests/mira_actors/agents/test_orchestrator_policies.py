"""process_async with step policies on the MIRA agents: step timeouts, retries, events, budgets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import trio

from mira_actors import Actor, ActorRef, open_actor, time_left
from mira_actors.agents import (
    ProjectPlanAgent,
    RiskAssessmentAgent,
    StatusReporterAgent,
)
from supervisors import (
    AdaptiveTimeouts,
    LatencyHistory,
    Parallel,
    RetryPolicy,
    Step,
    StepTimeoutError,
    Workflow,
)
from tests.mira_actors.agents.orchestrators import make

PROJECT = {"name": "Apollo", "description": "Urgent launch", "goals": ["Design", "Build"]}


class Scripted:
    """Mixin: each call waits its delay (the last repeats); the first ``failures`` answer errors.

    Start and cancellation times are kept, so tests can see what ran when.
    """

    def __init__(self, *delays: float, failures: int = 0) -> None:
        self.delays = delays or (0,)
        self.failures = failures
        self.started: list[float] = []
        self.cancelled: list[float] = []

    async def handle(self, message: Any) -> Any:
        call = len(self.started)
        self.started.append(trio.current_time())
        try:
            await trio.sleep(self.delays[min(call, len(self.delays) - 1)])
        except trio.Cancelled:
            self.cancelled.append(trio.current_time())
            raise
        if call < self.failures:
            return self.error_response(f"flaky {call + 1}")  # type: ignore[attr-defined]
        return await super().handle(message)  # type: ignore[misc]


class PlanAgent(Scripted, ProjectPlanAgent):
    """The plan agent, scripted."""


class RiskAgent(Scripted, RiskAssessmentAgent):
    """The risk agent, scripted."""


class ReportAgent(Scripted, StatusReporterAgent):
    """The status reporter, scripted."""


def workflow(workflow_type: str = "project_initialization") -> dict[str, Any]:
    return {"type": "workflow", "data": {"workflow_type": workflow_type, "data": PROJECT}}


def steps(response: dict[str, Any]) -> list[tuple[str, str, int]]:
    return [(s["step"], s["status"], s["attempts"]) for s in response["steps"]]


PLAN = ProjectPlanAgent().generate_plan(PROJECT)
ASSESSMENT = RiskAssessmentAgent().assess_risks(PLAN)


# Step timeouts


async def test_step_timeout_gives_the_timeout_response(
    autojump_clock: trio.abc.Clock, run_ids: Callable[[], list[str]]
) -> None:
    """A step out of its own time ends the run then, naming it in partial progress."""
    risk = RiskAgent(5)
    response = await make(risk).process_async(
        workflow(), timeout=10, step_timeouts={"assess_risks": 2}
    )
    assert trio.current_time() == 2
    assert (risk.started, risk.cancelled) == ([0], [2])
    [run_id] = run_ids()
    assert response == {
        "workflow_id": run_id,
        "workflow_type": "project_initialization",
        "status": "timeout",
        "error": "Step 'assess_risks' timed out: the attempt ran out of its 2 seconds",
        "steps": [{"step": "generate_plan", "status": "success", "result": PLAN, "attempts": 1}],
        "partial_progress": {
            "completed_steps": ["generate_plan"],
            "total_steps_completed": 1,
            "timeout_seconds": 10.0,
            "timed_out_steps": ["assess_risks"],
        },
    }


async def test_workflow_deadline_comes_before_a_longer_step_timeout(
    autojump_clock: trio.abc.Clock,
) -> None:
    """A step timeout longer than the time left is cut by the workflow's deadline."""
    risk = RiskAgent(5)
    response = await make(risk).process_async(
        workflow(), timeout=3, step_timeouts={"assess_risks": 30}
    )
    assert (trio.current_time(), risk.cancelled) == (3, [3])
    assert response["error"] == "Workflow execution timed out after 3.0 seconds"
    assert response["partial_progress"]["timed_out_steps"] == ["assess_risks"]


@pytest.mark.parametrize(
    ("step_timeouts", "message"),
    [
        ({"assess_risk": 1}, "step_timeouts names steps that workflow 'project_initialization'"),
        ({"assess_risks": -1}, "Timeout must be non-negative, got -1"),
    ],
)
async def test_bad_step_timeouts_raise_a_plain_value_error(
    step_timeouts: dict[str, float], message: str
) -> None:
    """step_timeouts naming an unknown step, or a bad value, is a ValueError, not a group."""
    plan = PlanAgent()
    with pytest.raises(ValueError, match=f"^{message}"):
        await make(plan).process_async(workflow(), step_timeouts=step_timeouts)
    assert plan.started == []


# Retries


async def test_agent_errors_are_retried_with_backoff(autojump_clock: trio.abc.Clock) -> None:
    """Agent 'error' answers are failures that the policy retries, waiting as configured."""
    risk = RiskAgent(1, failures=2)
    policy = RetryPolicy(max_attempts=3, initial_interval=0.5, backoff_coefficient=2)
    response = await make(risk).process_async(workflow(), timeout=10, retry=policy)
    assert trio.current_time() == 4.5
    assert risk.started == [0, 1.5, 3.5]
    assert steps(response) == [
        ("generate_plan", "success", 1),
        ("assess_risks", "success", 3),
        ("generate_report", "success", 1),
    ]
    assert response["steps"][1]["result"] == ASSESSMENT


async def test_errors_outside_retry_on_are_not_retried(autojump_clock: trio.abc.Clock) -> None:
    """With retry_on=(StepTimeoutError,), an agent's 'error' answer fails the run at once."""
    risk = RiskAgent(1, failures=2)
    policy = RetryPolicy(retry_on=(StepTimeoutError,))
    response = await make(risk).process_async(workflow(), timeout=10, retry=policy)
    assert (trio.current_time(), risk.started) == (1, [0])
    assert response["status"] == "error"
    assert response["error"] == "Step 'assess_risks' failed: flaky 1"
    assert steps(response) == [("generate_plan", "success", 1)]
    assert (response["failed_step"]["step"], response["failed_step"]["attempts"]) == (
        "assess_risks",
        1,
    )


async def test_retry_stops_at_the_deadline(autojump_clock: trio.abc.Clock) -> None:
    """A backoff that would reach the deadline is not waited: the timeout response comes now."""
    risk = RiskAgent(1, failures=5)
    policy = RetryPolicy(max_attempts=5, initial_interval=3)
    response = await make(risk).process_async(workflow(), timeout=6, retry=policy)
    assert (trio.current_time(), risk.started) == (5, [0, 4])
    assert response["status"] == "timeout"
    assert response["partial_progress"]["timed_out_steps"] == ["assess_risks"]


async def test_retry_that_is_not_a_policy_is_a_plain_type_error() -> None:
    """A retry that is not a RetryPolicy is a TypeError from process_async, not a group."""
    with pytest.raises(TypeError, match="retry must be a RetryPolicy"):
        await make().process_async(workflow(), retry=3)  # type: ignore[arg-type]


class RaisingRiskAgent(RiskAssessmentAgent):
    """Raises KeyError from its handler the first time it is asked."""

    def __init__(self) -> None:
        self.calls = 0

    async def handle(self, message: Any) -> Any:
        self.calls += 1
        if self.calls == 1:
            raise KeyError("lost")
        return await super().handle(message)


async def test_raising_handler_is_retried_by_its_own_type(autojump_clock: trio.abc.Clock) -> None:
    """retry_on=(KeyError,) retries a step whose agent's handler raised KeyError."""
    agent = RaisingRiskAgent()
    policy = RetryPolicy(initial_interval=1, retry_on=(KeyError,))
    response = await make(agent).process_async(workflow(), timeout=10, retry=policy)
    assert steps(response)[1] == ("assess_risks", "success", 2)


# History and adaptive timeouts


async def test_history_refuses_a_step_that_cannot_finish(autojump_clock: trio.abc.Clock) -> None:
    """An orchestrator whose history says a step takes longer than is left answers at once."""
    history = LatencyHistory()
    history.observe("project_initialization/assess_risks", 5)
    risk = RiskAgent(5)
    response = await make(risk, history=history).process_async(workflow(), timeout=3)
    assert (trio.current_time(), risk.started) == (0, [])
    assert response["status"] == "timeout"
    assert response["error"] == (
        "Workflow execution timed out after 3.0 seconds: "
        "step 'assess_risks' usually takes 5 seconds and 3 are left"
    )
    assert response["partial_progress"]["completed_steps"] == ["generate_plan"]


async def test_history_is_kept_across_calls(autojump_clock: trio.abc.Clock) -> None:
    """Each call's latencies are added to the orchestrator's history, which then refuses."""
    orchestrator = make(RiskAgent(4))
    first = await orchestrator.process_async(workflow(), timeout=10)
    assert "status" not in first
    assert orchestrator.history.expected("project_initialization/assess_risks") == 4
    second = await orchestrator.process_async(workflow(), timeout=3)
    assert (second["status"], trio.current_time()) == ("timeout", 4)


async def test_adaptive_default_times_out_a_slow_step(autojump_clock: trio.abc.Clock) -> None:
    """With adaptive timeouts, a step without one gets the default until it has a history."""
    risk = RiskAgent(5)
    adaptive = AdaptiveTimeouts(default=2, min_samples=3)
    response = await make(risk, adaptive=adaptive).process_async(workflow(), timeout=30)
    assert (trio.current_time(), risk.cancelled) == (2, [2])
    assert (
        response["error"] == "Step 'assess_risks' timed out: the attempt ran out of its 2 seconds"
    )


# Parallel and optional steps in registered workflows


def plan_of(data: Any, results: Any) -> Any:
    return results["generate_plan"]


def plan_without_risks(data: Any, results: Any) -> Any:
    return {**results["generate_plan"], "risks": []}


async def test_parallel_member_timeout_cancels_its_sibling(autojump_clock: trio.abc.Clock) -> None:
    """In a registered workflow, a group member out of time cancels its sibling at that moment."""
    risk, report = RiskAgent(5), ReportAgent(4)
    orchestrator = make(risk, report)
    orchestrator.register_workflow(
        Workflow(
            name="fan_out",
            steps=[
                Step(name="generate_plan", message_type="generate_plan"),
                Parallel(
                    name="review",
                    steps=[
                        Step(name="assess_risks", message_type="assess_risks", build_input=plan_of),
                        Step(
                            name="generate_report",
                            message_type="generate_report",
                            build_input=plan_without_risks,
                        ),
                    ],
                ),
            ],
        )
    )
    response = await orchestrator.process_async(
        workflow("fan_out"), timeout=10, step_timeouts={"assess_risks": 2}
    )
    assert (risk.cancelled, report.cancelled) == ([2], [2])
    assert response["partial_progress"] == {
        "completed_steps": ["generate_plan"],
        "total_steps_completed": 1,
        "timeout_seconds": 10.0,
        "timed_out_steps": ["assess_risks"],
    }


async def test_optional_step_failure_is_listed_in_a_success(autojump_clock: trio.abc.Clock) -> None:
    """An optional step whose agent answers an error is listed; the run still succeeds."""
    orchestrator = make(RiskAgent(1, failures=1))
    orchestrator.register_workflow(
        Workflow(
            name="plan_then_maybe_risks",
            steps=[
                Step(name="generate_plan", message_type="generate_plan"),
                Step(
                    name="assess_risks",
                    message_type="assess_risks",
                    build_input=plan_of,
                    optional=True,
                ),
            ],
        )
    )
    response = await orchestrator.process_async(workflow("plan_then_maybe_risks"), timeout=10)
    assert "status" not in response
    assert steps(response) == [("generate_plan", "success", 1), ("assess_risks", "error", 1)]


# Budgets through nested asks


class Budget(Actor):
    """Answers with its effective deadline and time left when asked."""

    async def handle(self, message: Any) -> tuple[float, float]:
        return trio.current_effective_deadline(), time_left()


class AskingRiskAgent(RiskAssessmentAgent):
    """Asks another actor before assessing, and keeps what that actor answered."""

    def __init__(self, helper: ActorRef) -> None:
        self.helper = helper
        self.seen: list[tuple[float, float]] = []

    async def handle(self, message: Any) -> Any:
        self.seen.append(await self.helper.ask("budget?"))
        return await super().handle(message)


@pytest.mark.parametrize(("step_timeouts", "seen"), [({"assess_risks": 4}, (5, 4)), ({}, (11, 10))])
async def test_budget_reaches_an_actor_the_agent_asks(
    autojump_clock: trio.abc.Clock, step_timeouts: dict[str, float], seen: tuple[float, float]
) -> None:
    """An actor asked by a step's agent sees the step's deadline: its timeout or the run's."""
    async with open_actor(Budget()) as helper:
        agent = AskingRiskAgent(helper)
        await trio.sleep(1)
        response = await make(agent).process_async(
            workflow(), timeout=10, step_timeouts=step_timeouts
        )
    assert "status" not in response
    assert agent.seen == [seen]
