"""The workflow error contract of the MIRA document: root cause, exception text, steps before."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import trio

from mira_actors.agents import (
    OrchestratorAgent,
    ProjectPlanAgent,
    RiskAssessmentAgent,
    StatusReporterAgent,
)
from supervisors import WorkflowReply, WorkflowRequest

REQUIREMENTS = {"name": "Portal", "goals": ["Design", "Launch"], "duration_weeks": 4}
MESSAGE = {
    "type": "workflow",
    "data": {"workflow_type": "project_initialization", "data": REQUIREMENTS},
}


class RaisingRiskAgent(RiskAssessmentAgent):
    """A risk agent whose handler raises, as a buggy agent would."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error if error is not None else RuntimeError("Internal workflow error")

    async def handle(self, message: Any) -> Any:
        raise self.error


class RaisingPlanAgent(ProjectPlanAgent):
    """A plan agent whose handler raises before any step has completed."""

    async def handle(self, message: Any) -> Any:
        raise KeyError("missing")


class FailingRiskAgent(RiskAssessmentAgent):
    """A risk agent that answers with an error response instead of raising."""

    async def handle(self, message: Any) -> Any:
        return self.error_response("risk model unavailable")


def make(
    risk: RiskAssessmentAgent | None = None, plan: ProjectPlanAgent | None = None
) -> OrchestratorAgent:
    orchestrator = OrchestratorAgent()
    for agent in (plan or ProjectPlanAgent(), risk or RiskAssessmentAgent(), StatusReporterAgent()):
        orchestrator.register_agent(agent)
    return orchestrator


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="mira_actors.agents.orchestrator")
    return caplog


def error_event(caplog: pytest.LogCaptureFixture) -> logging.LogRecord:
    [record] = [r for r in caplog.records if getattr(r, "event_type", None) == "workflow_error"]
    return record


def step_names(response: dict[str, Any]) -> list[tuple[str, str]]:
    return [(s["step"], s["status"]) for s in response["steps"]]


# An agent that raises


async def test_raised_exception_names_the_root_cause_in_the_log(
    logs: pytest.LogCaptureFixture,
) -> None:
    """The log's error_type is the agent's exception class and exception is its text."""
    await make(RaisingRiskAgent()).process_async(MESSAGE)
    record = error_event(logs)
    assert record.error_type == "RuntimeError"
    assert record.exception == "Internal workflow error"
    assert record.completed_steps == ["generate_plan"]


async def test_raised_exception_response_lists_only_the_steps_before_it() -> None:
    """The error response lists the completed steps; the failed one is under failed_step."""
    response = await make(RaisingRiskAgent()).process_async(MESSAGE)
    assert response["status"] == "error"
    assert "Internal workflow error" in response["error"]
    assert step_names(response) == [("generate_plan", "success")]
    assert "partial_progress" not in response
    failed = response["failed_step"]
    assert failed["step"] == "assess_risks"
    assert failed["status"] == "error"
    assert failed["error_type"] == "RuntimeError"
    assert "Internal workflow error" in failed["error"]
    assert failed["attempts"] == 1


async def test_an_error_in_the_first_step_leaves_steps_empty(
    logs: pytest.LogCaptureFixture,
) -> None:
    """A failure before any step completed gives an empty steps list and the failed step."""
    response = await make(plan=RaisingPlanAgent()).process_async(MESSAGE)
    assert response["steps"] == []
    assert response["failed_step"]["step"] == "generate_plan"
    assert response["failed_step"]["error_type"] == "KeyError"
    record = error_event(logs)
    assert (record.error_type, record.exception, record.completed_steps) == (
        "KeyError",
        "'missing'",
        [],
    )


async def test_long_exception_text_is_cut_to_200_characters(
    logs: pytest.LogCaptureFixture,
) -> None:
    """The logged exception text is cut to 200 characters, ending in "..."."""
    await make(RaisingRiskAgent(ValueError("x" * 5000))).process_async(MESSAGE)
    exception = error_event(logs).exception
    assert len(exception) == 200
    assert exception == "x" * 197 + "..."


async def test_exception_without_text_logs_its_class_name(
    logs: pytest.LogCaptureFixture,
) -> None:
    """An exception with an empty message still logs a non-empty exception field."""
    response = await make(RaisingRiskAgent(RuntimeError())).process_async(MESSAGE)
    record = error_event(logs)
    assert record.error_type == "RuntimeError"
    assert record.exception == "RuntimeError"
    assert response["failed_step"]["error_type"] == "RuntimeError"


# An agent that answers with an error response


async def test_agent_error_response_is_reported_as_agent_error(
    logs: pytest.LogCaptureFixture,
) -> None:
    """An agent's error answer is error_type 'agent_error', its text in the response only."""
    response = await make(FailingRiskAgent()).process_async(MESSAGE)
    assert response["status"] == "error"
    assert "risk model unavailable" in response["error"]
    assert step_names(response) == [("generate_plan", "success")]
    assert response["failed_step"] == {
        "step": "assess_risks",
        "status": "error",
        "error_type": "agent_error",
        "error": "risk model unavailable",
        "attempts": 1,
    }
    record = error_event(logs)
    assert (record.error_type, record.exception) == ("agent_error", "step 'assess_risks' failed")


# Every way in gives the same response


@pytest.mark.parametrize("risk", [RaisingRiskAgent, FailingRiskAgent])
def test_process_gives_the_same_error_response(risk: type[RiskAssessmentAgent]) -> None:
    """The synchronous process() gives the error shape of process_async()."""
    response = make(risk()).process(MESSAGE)
    assert response["status"] == "error"
    assert step_names(response) == [("generate_plan", "success")]
    assert response["failed_step"]["step"] == "assess_risks"
    expected = "RuntimeError" if risk is RaisingRiskAgent else "agent_error"
    assert response["failed_step"]["error_type"] == expected


@pytest.mark.parametrize("risk", [RaisingRiskAgent, FailingRiskAgent])
async def test_channel_reply_gives_the_same_error_response(
    risk: type[RiskAssessmentAgent],
) -> None:
    """A workflow sent over the inbox channel is answered with the same error shape."""
    orchestrator = make(risk())
    send, receive = trio.open_memory_channel[WorkflowReply](1)
    async with orchestrator.running() as system:
        await system.inbox.send(
            WorkflowRequest(
                workflow_type="project_initialization", data=REQUIREMENTS, reply_to=send
            )
        )
        reply = await receive.receive()
    response = reply.response
    assert response["status"] == "error"
    assert step_names(response) == [("generate_plan", "success")]
    assert response["failed_step"]["step"] == "assess_risks"
    assert reply.report.error_type == (
        "RuntimeError" if risk is RaisingRiskAgent else "agent_error"
    )


async def test_run_steps_keeps_the_failed_step_apart() -> None:
    """_run_workflow_steps_async lists completed steps and sets failed_step and error."""
    results: dict[str, Any] = {}
    await make(RaisingRiskAgent())._run_workflow_steps_async(
        "project_initialization", REQUIREMENTS, results
    )
    assert step_names(results) == [("generate_plan", "success")]
    assert results["status"] == "error"
    assert "Internal workflow error" in results["error"]
    assert results["failed_step"]["step"] == "assess_risks"
    assert results["failed_step"]["error_type"] == "RuntimeError"


async def test_success_and_timeout_responses_have_no_failed_step(
    autojump_clock: trio.abc.Clock,
) -> None:
    """Only an error response carries failed_step."""

    class SlowRiskAgent(RiskAssessmentAgent):
        async def handle(self, message: Any) -> Any:
            await trio.sleep(10)
            return await super().handle(message)

    assert "failed_step" not in await make().process_async(MESSAGE)
    assert "failed_step" not in await make(SlowRiskAgent()).process_async(MESSAGE, timeout=1)
