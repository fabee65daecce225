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


class SlowRiskAgent(RiskAssessmentAgent):
    """The risk agent, taking ``delay`` seconds per message; journals virtual times."""

    def __init__(self, delay: float) -> None:
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
        return await super().handle(message)


def make(*agents: BaseAgent, **options: Any) -> OrchestratorAgent:
    """An orchestrator of the three built-in agents, where ``agents`` replace or add to them.

    An agent replaces the built-in one with its agent_id; ``options`` go to the
    OrchestratorAgent. The status reporter's today is ``TODAY``.
    """
    orchestrator = OrchestratorAgent(**options)
    built_in: list[BaseAgent] = [
        ProjectPlanAgent(),
        RiskAssessmentAgent(),
        StatusReporterAgent(today=lambda: TODAY),
    ]
    chosen = {agent.agent_id: agent for agent in [*built_in, *agents]}
    for agent in chosen.values():
        orchestrator.register_agent(agent)
    return orchestrator
