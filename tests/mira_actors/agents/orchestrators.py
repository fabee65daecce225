"""Agents and builders shared by the orchestrator tests."""

from __future__ import annotations

import datetime
from typing import Any

import trio

from mira_actors.agents import (
    BaseAgent,
    OrchestratorAgent,
    ProjectPlanAgent,
    RiskAssessmentAgent,
    StatusReporterAgent,
)

TODAY = datetime.date(2024, 5, 15)


class Slow:
    """Mixin: wait ``delay`` seconds before answering, journaling virtual times."""

    def __init__(self, delay: float = 100.0) -> None:
        super().__init__()
        self.delay = delay
        self.started: list[float] = []
        self.cancelled: list[float] = []
        self.finished: list[float] = []

    async def handle(self, message: Any) -> Any:
        self.started.append(trio.current_time())
        try:
            await trio.sleep(self.delay)
        except trio.Cancelled:
            self.cancelled.append(trio.current_time())
            raise
        self.finished.append(trio.current_time())
        return await super().handle(message)  # type: ignore[misc]


class SlowPlanAgent(Slow, ProjectPlanAgent):
    """The plan agent, slowed down."""


class SlowRiskAgent(Slow, RiskAssessmentAgent):
    """The risk agent, slowed down."""


class SlowReporterAgent(Slow, StatusReporterAgent):
    """The status reporter, slowed down."""


def built_in_agents() -> list[BaseAgent]:
    """New plan, risk and status agents; the status reporter's today is ``TODAY``."""
    return [ProjectPlanAgent(), RiskAssessmentAgent(), StatusReporterAgent(today=lambda: TODAY)]


def make(*agents: BaseAgent, **options: Any) -> OrchestratorAgent:
    """An orchestrator of the three built-in agents, where ``agents`` replace or add to them.

    An agent replaces the built-in one with its agent_id; ``options`` go to the
    OrchestratorAgent. The status reporter's today is ``TODAY``.
    """
    orchestrator = OrchestratorAgent(**options)
    chosen = {agent.agent_id: agent for agent in [*built_in_agents(), *agents]}
    for agent in chosen.values():
        orchestrator.register_agent(agent)
    return orchestrator
