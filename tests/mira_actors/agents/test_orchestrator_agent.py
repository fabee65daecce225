"""OrchestratorAgent.process_async on workflows: the MIRA response shapes and input checks."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
import trio

from mira_actors.agents import (
    OrchestratorAgent,
    ProjectPlanAgent,
    RiskAssessmentAgent,
    StatusReporterAgent,
)
from tests.mira_actors.agents.orchestrators import (
    SlowPlanAgent,
    SlowReporterAgent,
    SlowRiskAgent,
    make,
)

RunIds = Callable[[], list[str]]

REQUIREMENTS = {
    "name": "Apollo",
    "description": "Urgent launch on new technology",
    "goals": ["Design", "Build", "Launch"],
    "duration_weeks": 6,
}


def workflow(data: Any = REQUIREMENTS, workflow_type: Any = "project_initialization") -> Any:
    return {"type": "workflow", "data": {"workflow_type": workflow_type, "data": data}}


def expected_results() -> tuple[Any, Any, Any]:
    """The plan, assessment and report the agents compute for REQUIREMENTS, report date aside."""
    plan = ProjectPlanAgent().generate_plan(REQUIREMENTS)
    assessment = RiskAssessmentAgent().assess_risks(plan)
    report = StatusReporterAgent().generate_report({**plan, "risks": assessment["risks"]})
    return plan, assessment, report


def without_report_date(response: dict[str, Any]) -> dict[str, Any]:
    for step in response["steps"]:
        if step["step"] == "generate_report" and isinstance(step["result"], dict):
            step["result"].pop("report_date")
    return response


# Success


async def test_success_is_the_steps_and_nothing_else(
    autojump_clock: trio.abc.Clock, run_ids: RunIds
) -> None:
    """A workflow that completes answers {workflow_id, workflow_type, steps}: no 'status' key.

    The workflow_id is the run's, as logged; every step is listed, each with how many
    times it was sent to its agent: once.
    """
    response = await make().process_async(workflow())
    assert trio.current_time() == 0
    [run_id] = run_ids()
    plan, assessment, report = expected_results()
    report.pop("report_date")
    assert without_report_date(response) == {
        "workflow_id": run_id,
        "workflow_type": "project_initialization",
        "steps": [
            {"step": "generate_plan", "status": "success", "result": plan, "attempts": 1},
            {"step": "assess_risks", "status": "success", "result": assessment, "attempts": 1},
            {"step": "generate_report", "status": "success", "result": report, "attempts": 1},
        ],
    }


async def test_missing_workflow_data_means_empty_requirements() -> None:
    """A workflow message without inner 'data' runs on empty requirements."""
    message = {"type": "workflow", "data": {"workflow_type": "project_initialization"}}
    response = await make().process_async(message)
    assert response["steps"][0]["result"]["name"] == "Unnamed Project"
    assert "status" not in response


# Timeouts


async def test_timeout_keeps_exactly_the_completed_steps(
    autojump_clock: trio.abc.Clock, run_ids: RunIds
) -> None:
    """At the deadline the slow step is cancelled; the response lists the steps done before it.

    Partial progress names the step the deadline cut short.
    """
    risk, reporter = SlowRiskAgent(100), SlowReporterAgent(0)
    response = await make(risk, reporter).process_async(workflow(), timeout=5)
    assert trio.current_time() == 5
    [run_id] = run_ids()
    plan, _, _ = expected_results()
    assert response == {
        "workflow_id": run_id,
        "workflow_type": "project_initialization",
        "status": "timeout",
        "error": "Workflow execution timed out after 5.0 seconds",
        "steps": [{"step": "generate_plan", "status": "success", "result": plan, "attempts": 1}],
        "partial_progress": {
            "completed_steps": ["generate_plan"],
            "total_steps_completed": 1,
            "timeout_seconds": 5.0,
            "timed_out_steps": ["assess_risks"],
        },
    }
    await trio.sleep(1000)
    assert (risk.started, risk.cancelled, risk.finished) == ([0], [5], [])
    assert reporter.started == []


async def test_timeout_in_the_last_step(autojump_clock: trio.abc.Clock) -> None:
    """A deadline passing in the third step keeps the first two, in order, and names the third."""
    risk, reporter = SlowRiskAgent(1.5), SlowReporterAgent(10)
    response = await make(risk, reporter).process_async(workflow(), timeout=4)
    assert trio.current_time() == 4
    assert response["partial_progress"] == {
        "completed_steps": ["generate_plan", "assess_risks"],
        "total_steps_completed": 2,
        "timeout_seconds": 4.0,
        "timed_out_steps": ["generate_report"],
    }
    assert [s["step"] for s in response["steps"]] == ["generate_plan", "assess_risks"]
    assert (reporter.started, reporter.cancelled) == ([1.5], [4])


async def test_default_timeout_is_thirty_seconds(autojump_clock: trio.abc.Clock) -> None:
    """Without a timeout, a workflow times out after 30 seconds, said as '30.0'."""
    response = await make(SlowRiskAgent(100)).process_async(workflow())
    assert trio.current_time() == 30
    assert response["error"] == "Workflow execution timed out after 30.0 seconds"
    assert response["partial_progress"]["timeout_seconds"] == 30.0


async def test_int_timeout_is_reported_as_float(autojump_clock: trio.abc.Clock) -> None:
    """An int timeout is quoted and reported as float seconds."""
    response = await make(SlowRiskAgent(100)).process_async(workflow(), timeout=2)
    assert response["error"] == "Workflow execution timed out after 2.0 seconds"
    assert type(response["partial_progress"]["timeout_seconds"]) is float


@pytest.mark.parametrize("timeout", [0, 0.0])
async def test_zero_timeout_runs_no_step(
    autojump_clock: trio.abc.Clock, run_ids: RunIds, timeout: float
) -> None:
    """A timeout of 0 times out at once: no agent sees any step.

    The first step's attempt is started and cut at once, so it is the step that timed out.
    """
    plan = SlowPlanAgent(0)
    response = await make(plan).process_async(workflow(), timeout=timeout)
    await trio.sleep(10)
    [run_id] = run_ids()
    assert response == {
        "workflow_id": run_id,
        "workflow_type": "project_initialization",
        "status": "timeout",
        "error": "Workflow execution timed out after 0.0 seconds",
        "steps": [],
        "partial_progress": {
            "completed_steps": [],
            "total_steps_completed": 0,
            "timeout_seconds": 0.0,
            "timed_out_steps": ["generate_plan"],
        },
    }
    assert plan.started == []


async def test_sub_second_timeout_cuts_a_slow_step(autojump_clock: trio.abc.Clock) -> None:
    """A timeout under a second runs, and times out at exactly that fraction of a second."""
    risk = SlowRiskAgent(1)
    response = await make(risk).process_async(workflow(), timeout=0.25)
    assert trio.current_time() == 0.25
    assert response["error"] == "Workflow execution timed out after 0.25 seconds"
    assert response["partial_progress"]["completed_steps"] == ["generate_plan"]
    assert risk.cancelled == [0.25]


async def test_sub_second_timeout_is_enough_for_fast_steps(autojump_clock: trio.abc.Clock) -> None:
    """A timeout under a second is no error: fast steps complete within it."""
    response = await make(SlowRiskAgent(0.5)).process_async(workflow(), timeout=0.75)
    assert trio.current_time() == 0.5
    assert "status" not in response
    assert len(response["steps"]) == 3


async def test_infinite_timeout_is_no_deadline(autojump_clock: trio.abc.Clock) -> None:
    """math.inf waits as long as the steps take."""
    risk = SlowRiskAgent(10_000)
    response = await make(risk).process_async(workflow(), timeout=math.inf)
    assert trio.current_time() == 10_000
    assert "status" not in response
    assert risk.finished == [10_000]


MESSAGES = {
    "workflow": workflow(),
    "plain": {"type": "generate_plan", "data": {}},
    "invalid": None,
}


@pytest.mark.parametrize("kind", MESSAGES)
@pytest.mark.parametrize(
    ("timeout", "message"),
    [
        (-1, "Timeout must be non-negative, got -1"),
        (-0.5, "Timeout must be non-negative, got -0.5"),
        (-math.inf, "Timeout must be non-negative, got -inf"),
        (math.nan, "Timeout must be non-negative, got nan"),
    ],
)
async def test_negative_or_nan_timeout_is_a_value_error(
    kind: str, timeout: float, message: str
) -> None:
    """A negative or NaN timeout raises ValueError, whatever the message."""
    with pytest.raises(ValueError, match=f"^{message}$"):
        await make().process_async(MESSAGES[kind], timeout=timeout)


@pytest.mark.parametrize("kind", MESSAGES)
@pytest.mark.parametrize("timeout", [True, False, "30", None, [1], 1j])
async def test_timeout_that_is_not_a_number_is_a_type_error(kind: str, timeout: Any) -> None:
    """A bool, or anything not an int or float, as timeout raises TypeError."""
    with pytest.raises(
        TypeError, match=f"^Timeout must be a number of seconds, got {type(timeout).__name__}$"
    ):
        await make().process_async(MESSAGES[kind], timeout=timeout)


@pytest.mark.parametrize(("timeout", "error"), [(-1, ValueError), (True, TypeError)])
async def test_execute_workflow_async_checks_its_timeout(
    timeout: Any, error: type[Exception]
) -> None:
    """_execute_workflow_async refuses a bad timeout as process_async does."""
    with pytest.raises(error, match=r"^Timeout must be"):
        await make()._execute_workflow_async(workflow()["data"], timeout=timeout)


# Errors


@pytest.mark.parametrize(
    "message",
    [None, "workflow", 42, ["workflow", {}], {}, {"type": "workflow"}, {"data": {}}],
)
async def test_invalid_message_format(message: Any) -> None:
    """A message that is not a dict with 'type' and 'data' gets 'Invalid message format'."""
    response = await make().process_async(message)
    response.pop("timestamp")
    assert response == {
        "agent_id": "orchestrator_agent",
        "status": "error",
        "data": None,
        "error": "Invalid message format",
    }


@pytest.mark.parametrize(
    "data",
    [None, "project_initialization", [], {}, {"workflow_type": 5}, {"data": REQUIREMENTS}],
)
async def test_invalid_workflow_message(data: Any, run_ids: RunIds) -> None:
    """Workflow data without a 'workflow_type' str is an error with no steps.

    It is rejected before any run, so it has no workflow_id either.
    """
    response = await make().process_async({"type": "workflow", "data": data})
    assert run_ids() == []
    assert response == {
        "workflow_id": None,
        "workflow_type": None,
        "status": "error",
        "error": "Invalid workflow message: data must be a dict with a 'workflow_type' str",
        "steps": [],
    }


async def test_unknown_workflow_names_the_known_types(run_ids: RunIds) -> None:
    """An unknown workflow type is an error with no steps, naming the types there are."""
    response = await make().process_async(workflow(workflow_type="project_teardown"))
    [run_id] = run_ids()
    assert response == {
        "workflow_id": run_id,
        "workflow_type": "project_teardown",
        "status": "error",
        "error": ("Unknown workflow type: 'project_teardown' (known: project_initialization)"),
        "steps": [],
    }


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ("not a dict", "generate_plan data must be a dict, got str"),
        ({"goals": "Design"}, "generate_plan goals must be a list, got str"),
        ({"goals": ["Design", 7]}, "generate_plan goals[1] must be a str, got int"),
        ({"name": 7}, "generate_plan name must be a str, got int"),
        ({"duration_weeks": -1}, "generate_plan duration_weeks must be non-negative, got -1"),
        ({"duration_weeks": True}, "generate_plan duration_weeks must be a number, got bool"),
    ],
)
async def test_bad_payload_fails_the_first_step(data: Any, error: str, run_ids: RunIds) -> None:
    """Requirements the plan agent rejects end the run at its step, with its reason.

    The step was sent once: it was the agent that refused it. No step completed before it.
    """
    response = await make().process_async(workflow(data))
    [run_id] = run_ids()
    assert response == {
        "workflow_id": run_id,
        "workflow_type": "project_initialization",
        "status": "error",
        "error": f"Step 'generate_plan' failed: {error}",
        "steps": [],
        "failed_step": {
            "step": "generate_plan",
            "status": "error",
            "error_type": "agent_error",
            "error": error,
            "attempts": 1,
        },
    }


async def test_workflow_data_that_is_not_json_runs_no_step(
    caplog: pytest.LogCaptureFixture, run_ids: RunIds
) -> None:
    """Workflow data the run's store cannot keep (not JSON) is an error before any step.

    No agent sees it: the response has no steps, and the run is logged as 'unstorable_data'.
    """
    response = await make().process_async(workflow({"name": object()}))
    [run_id] = run_ids()
    assert response == {
        "workflow_id": run_id,
        "workflow_type": "project_initialization",
        "status": "error",
        "error": (
            "Invalid workflow data: workflow data cannot be stored: a ledger store keeps "
            "JSON values only (Object of type object is not JSON serializable)"
        ),
        "steps": [],
    }
    [logged] = [r for r in caplog.records if getattr(r, "workflow_id", None) == run_id]
    assert logged.error_type == "unstorable_data"


async def test_unregistered_agent_fails_its_step(run_ids: RunIds) -> None:
    """A step whose agent is not registered fails, after the steps before it completed.

    Nothing was sent for it: its attempts are 0.
    """
    orchestrator = OrchestratorAgent()
    orchestrator.register_agent(ProjectPlanAgent())
    response = await orchestrator.process_async(workflow())
    [run_id] = run_ids()
    plan, _, _ = expected_results()
    assert response == {
        "workflow_id": run_id,
        "workflow_type": "project_initialization",
        "status": "error",
        "error": (
            "Step 'assess_risks' failed: no agent is registered for message type 'assess_risks'"
        ),
        "steps": [
            {"step": "generate_plan", "status": "success", "result": plan, "attempts": 1},
        ],
        "failed_step": {
            "step": "assess_risks",
            "status": "error",
            "error_type": "no_agent",
            "error": "no agent is registered for message type 'assess_risks'",
            "attempts": 0,
        },
    }


async def test_no_agents_at_all() -> None:
    """With no agent registered the first step fails."""
    response = await OrchestratorAgent().process_async(workflow())
    assert response["status"] == "error"
    assert response["error"].startswith("Step 'generate_plan' failed: no agent is registered")


class FailingRiskAgent(RiskAssessmentAgent):
    """Answers every message with an error after two seconds."""

    async def handle(self, message: Any) -> Any:
        await trio.sleep(2)
        return self.error_response("risk model offline")


class CrashingRiskAgent(RiskAssessmentAgent):
    """Raises from its handler instead of answering."""

    async def handle(self, message: Any) -> Any:
        raise RuntimeError("risk model broke")


async def test_error_is_not_a_timeout(autojump_clock: trio.abc.Clock) -> None:
    """A step failing before the deadline ends the run as an error then: no partial progress."""
    response = await make(FailingRiskAgent()).process_async(workflow(), timeout=5)
    assert trio.current_time() == 2
    assert response["status"] == "error"
    assert response["error"] == "Step 'assess_risks' failed: risk model offline"
    assert [(s["step"], s["status"]) for s in response["steps"]] == [("generate_plan", "success")]
    assert response["failed_step"]["step"] == "assess_risks"
    assert "partial_progress" not in response


async def test_raising_handler_fails_its_step(run_ids: RunIds) -> None:
    """A handler that raises fails its step with an error naming the step and the exception."""
    response = await make(CrashingRiskAgent()).process_async(workflow())
    assert set(response) == {
        "workflow_id",
        "workflow_type",
        "status",
        "error",
        "steps",
        "failed_step",
    }
    [run_id] = run_ids()
    assert response["workflow_id"] == run_id
    assert response["status"] == "error"
    assert response["error"] == (
        "Step 'assess_risks' failed: "
        "actor 'risk_assessment_agent' raised handling the request: RuntimeError: risk model broke"
    )
    assert [s["step"] for s in response["steps"]] == ["generate_plan"]
    assert response["failed_step"] == {
        "step": "assess_risks",
        "status": "error",
        "error_type": "RuntimeError",
        "error": (
            "actor 'risk_assessment_agent' raised handling the request: "
            "RuntimeError: risk model broke"
        ),
        "attempts": 1,
    }


async def test_raising_handlers_do_not_take_the_orchestrator_down(
    autojump_clock: trio.abc.Clock,
) -> None:
    """Many runs whose handler raises, at once and in a row, each just fail their step."""
    orchestrator = make(CrashingRiskAgent())
    responses: list[Any] = []
    async with orchestrator.running():
        async with trio.open_nursery() as nursery:
            for _ in range(20):

                async def one() -> None:
                    responses.append(await orchestrator.process_async(workflow()))

                nursery.start_soon(one)
        for _ in range(20):
            responses.append(await orchestrator.process_async(workflow()))
        plan_only = await orchestrator.process_async({"type": "generate_plan", "data": {}})
    assert len(responses) == 40
    assert {r["error"] for r in responses} == {
        "Step 'assess_risks' failed: "
        "actor 'risk_assessment_agent' raised handling the request: RuntimeError: risk model broke"
    }
    assert plan_only["status"] == "success"
