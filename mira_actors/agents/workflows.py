"""The built-in MIRA workflows and the message types the built-in agents serve."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from supervisors import Step, Workflow

MESSAGE_ROUTES: Mapping[str, str] = {
    "generate_plan": "project_plan_agent",
    "update_plan": "project_plan_agent",
    "assess_risks": "risk_assessment_agent",
    "update_risk": "risk_assessment_agent",
    "generate_report": "status_reporter_agent",
    "schedule_report": "status_reporter_agent",
}
"""Which built-in agent serves each built-in message type (for clear errors)."""


def _plan(data: Any, results: Mapping[str, Any]) -> Any:
    return results["generate_plan"]


def _plan_with_risks(data: Any, results: Mapping[str, Any]) -> dict[str, Any]:
    return {**results["generate_plan"], "risks": results["assess_risks"]["risks"]}


PROJECT_INITIALIZATION = Workflow(
    name="project_initialization",
    steps=[
        Step(name="generate_plan", message_type="generate_plan"),
        Step(name="assess_risks", message_type="assess_risks", build_input=_plan),
        Step(name="generate_report", message_type="generate_report", build_input=_plan_with_risks),
    ],
)
"""Plan from the requirements, assess the plan's risks, report on plan and risks."""

BUILTIN_WORKFLOWS = (PROJECT_INITIALIZATION,)
