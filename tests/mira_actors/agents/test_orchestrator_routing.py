"""OrchestratorAgent.process_async on other messages: routed to one agent, under the deadline."""

from __future__ import annotations

import math
from typing import Any

import pytest
import trio

from mira_actors.agents import (
    BaseAgent,
    OrchestratorAgent,
    ProjectPlanAgent,
)
from tests.mira_actors.agents.orchestrators import SlowRiskAgent, built_in_agents, make

PLAN = ProjectPlanAgent().generate_plan({"name": "Apollo", "goals": ["Design"]})


class EchoAgent(BaseAgent):
    """A user's agent with its own message type."""

    agent_id = "echo_agent"
    handlers = {"echo": "echo"}

    def echo(self, data: Any) -> Any:
        return data


def without_timestamp(response: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in response.items() if k != "timestamp"}


ROUTED = [
    ("generate_plan", {"name": "Apollo", "goals": ["Design", "Build"]}, 0),
    ("update_plan", {"plan": PLAN, "updates": {"name": "Artemis"}}, 0),
    ("assess_risks", {**PLAN, "description": "urgent and new"}, 1),
    ("update_risk", {"risk": {"id": "R1"}, "updates": {"status": "closed"}}, 1),
    ("generate_report", {**PLAN, "risks": [], "week_number": 2}, 2),
    ("schedule_report", {"frequency": "daily", "day_of_week": "Monday"}, 2),
]


@pytest.mark.parametrize(("message_type", "data", "agent"), ROUTED)
async def test_message_goes_to_its_agent(message_type: str, data: Any, agent: int) -> None:
    """Each built-in message type is answered by its agent, as that agent answers it."""
    message = {"type": message_type, "data": data}
    response = await make().process_async(message)
    expected = built_in_agents()[agent].respond(message)
    if message_type == "generate_report":
        response["data"].pop("report_date")
        expected["data"].pop("report_date")
    assert without_timestamp(response) == without_timestamp(expected)
    assert response["status"] == "success"


async def test_agent_error_comes_back_unchanged() -> None:
    """An agent's error response is the orchestrator's response."""
    response = await make().process_async({"type": "generate_plan", "data": {"goals": "x"}})
    assert without_timestamp(response) == {
        "agent_id": "project_plan_agent",
        "status": "error",
        "data": None,
        "error": "generate_plan goals must be a list, got str",
    }


async def test_users_agent_serves_its_own_type() -> None:
    """A registered agent of the user's own serves the types it handles."""
    response = await make(EchoAgent()).process_async({"type": "echo", "data": [1, 2]})
    assert (response["agent_id"], response["status"], response["data"]) == (
        "echo_agent",
        "success",
        [1, 2],
    )


async def test_unregistered_agent_says_which_to_register() -> None:
    """A built-in type whose agent is not registered is an error naming the agent to register."""
    orchestrator = OrchestratorAgent()
    orchestrator.register_agent(ProjectPlanAgent())
    response = await orchestrator.process_async({"type": "assess_risks", "data": PLAN})
    assert without_timestamp(response) == {
        "agent_id": "orchestrator_agent",
        "status": "error",
        "data": None,
        "error": (
            "No agent registered for message type 'assess_risks': "
            "register risk_assessment_agent with register_agent()"
        ),
    }


@pytest.mark.parametrize(
    ("message_type", "shown"), [("bogus", "bogus"), (["x"], "['x']"), (7, "7")]
)
async def test_unknown_message_type(message_type: Any, shown: str) -> None:
    """A type no agent serves is an error response quoting the type."""
    response = await make().process_async({"type": message_type, "data": {}})
    assert without_timestamp(response) == {
        "agent_id": "orchestrator_agent",
        "status": "error",
        "data": None,
        "error": f"Unknown message type: {shown}",
    }


async def test_message_timeout_is_an_agent_style_response(
    autojump_clock: trio.abc.Clock,
) -> None:
    """An agent too slow for the deadline is cancelled; the answer has status 'timeout'."""
    risk = SlowRiskAgent(100)
    response = await make(risk).process_async({"type": "assess_risks", "data": PLAN}, timeout=5)
    assert trio.current_time() == 5
    assert without_timestamp(response) == {
        "agent_id": "risk_assessment_agent",
        "status": "timeout",
        "data": None,
        "error": "Message processing timed out after 5.0 seconds",
    }
    await trio.sleep(1000)
    assert (risk.started, risk.cancelled, risk.finished) == ([0], [5], [])


async def test_message_default_timeout(autojump_clock: trio.abc.Clock) -> None:
    """A message's default timeout is 30 seconds too."""
    response = await make(SlowRiskAgent(100)).process_async({"type": "assess_risks", "data": PLAN})
    assert trio.current_time() == 30
    assert response["error"] == "Message processing timed out after 30.0 seconds"


async def test_message_zero_timeout_never_reaches_the_agent(
    autojump_clock: trio.abc.Clock,
) -> None:
    """With a timeout of 0 the agent never starts on the message."""
    risk = SlowRiskAgent(0)
    response = await make(risk).process_async({"type": "assess_risks", "data": PLAN}, timeout=0)
    await trio.sleep(1)
    assert response["status"] == "timeout"
    assert risk.started == []


async def test_message_sub_second_and_infinite_timeouts(autojump_clock: trio.abc.Clock) -> None:
    """A sub-second timeout is enough for a quicker agent; math.inf waits for any."""
    orchestrator = make(SlowRiskAgent(0.5))
    message = {"type": "assess_risks", "data": PLAN}
    assert (await orchestrator.process_async(message, timeout=0.75))["status"] == "success"
    assert trio.current_time() == 0.5
    assert (await orchestrator.process_async(message, timeout=0.25))["status"] == "timeout"
    assert trio.current_time() == 0.75
    assert (await orchestrator.process_async(message, timeout=math.inf))["status"] == "success"
    assert trio.current_time() == 1.25


async def test_raising_handler_is_an_error_response() -> None:
    """A handler that raises gets an error response naming the agent and the exception."""

    class CrashingPlanAgent(ProjectPlanAgent):
        async def handle(self, message: Any) -> Any:
            raise KeyError("lost")

    response = await make(CrashingPlanAgent()).process_async({"type": "generate_plan", "data": {}})
    assert response["status"] == "error"
    assert (
        response["error"]
        == "actor 'project_plan_agent' raised handling the request: KeyError: 'lost'"
    )
