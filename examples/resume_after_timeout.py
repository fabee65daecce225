"""Resume a workflow that timed out, from its SQLite ledger, without redoing finished steps.

Run it with ``python examples/resume_after_timeout.py``. The risk agent is slow the
first time, so the run times out after its plan step, with partial progress. The plan is
in the ledger file; a new orchestrator on a new connection to it (as after a restart)
resumes the run, and only the risk and report steps run. Every wait here is real but short.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import trio

from mira_actors import request_headers
from mira_actors.agents import (
    BaseAgent,
    OrchestratorAgent,
    ProjectPlanAgent,
    RiskAssessmentAgent,
    StatusReporterAgent,
)
from supervisors import LedgerStore, open_sqlite_store

PROJECT = {"name": "Portal", "description": "urgent", "goals": ["Design", "Build"]}
MESSAGE = {
    "type": "workflow",
    "data": {"workflow_type": "project_initialization", "data": PROJECT},
}


class CountingPlanAgent(ProjectPlanAgent):
    """The plan agent, counting the plans it makes."""

    def __init__(self) -> None:
        self.calls = 0

    async def handle(self, message: Any) -> dict[str, Any]:
        self.calls += 1
        return await super().handle(message)


class SlowFirstRiskAgent(RiskAssessmentAgent):
    """Takes five seconds over its first assessment, as an overloaded service would.

    It keeps the idempotency key of every step it is sent: an agent with side effects
    would deduplicate on it.
    """

    def __init__(self) -> None:
        self.keys: list[str] = []

    async def handle(self, message: Any) -> dict[str, Any]:
        self.keys.append(request_headers()["idempotency_key"])
        if len(self.keys) == 1:
            await trio.sleep(5)  # cut short by the run's deadline
        return await super().handle(message)


class CountingReporter(StatusReporterAgent):
    """The status reporter, counting the reports it writes."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    async def handle(self, message: Any) -> dict[str, Any]:
        self.calls += 1
        return await super().handle(message)


def orchestrator_on(store: LedgerStore, agents: tuple[BaseAgent, ...]) -> OrchestratorAgent:
    """A new orchestrator keeping its runs in ``store``, with ``agents`` registered."""
    orchestrator = OrchestratorAgent(store=store)
    for agent in agents:
        orchestrator.register_agent(agent)
    return orchestrator


async def main() -> None:
    """Time out, reopen the ledger, resume."""
    plan, risk, reporter = CountingPlanAgent(), SlowFirstRiskAgent(), CountingReporter()
    agents = (plan, risk, reporter)
    with tempfile.TemporaryDirectory() as directory:
        ledger = Path(directory) / "runs.db"
        async with open_sqlite_store(ledger) as store:
            response = await orchestrator_on(store, agents).process_async(MESSAGE, timeout=0.5)
        workflow_id = response["workflow_id"]
        progress = response["partial_progress"]
        print(f"1. first run: {response['status']} after {progress['timeout_seconds']} s")
        print(f"   completed: {progress['completed_steps']}")
        print(f"   timed out: {progress['timed_out_steps']}")

        # A new connection and a new orchestrator: all they know is in the file.
        async with open_sqlite_store(ledger) as store:
            stored = await store.load_run(workflow_id)
            assert stored is not None
            print(f"2. the ledger holds it: {stored.status!r}, completed {stored.completed_steps}")
            resumed = await orchestrator_on(store, agents).resume(workflow_id, timeout=5)
        outcome = resumed.get("status", "success")  # a success response has no status
        print(f"3. resumed: {outcome}, same workflow_id: {resumed['workflow_id'] == workflow_id}")
        steps = [(step["step"], step["attempts"]) for step in resumed["steps"]]
        print(f"   steps (attempts; 0: carried over): {steps}")
    print(
        f"4. calls: generate_plan {plan.calls}, assess_risks {len(risk.keys)}, "
        f"generate_report {reporter.calls}"
    )
    same = len(set(risk.keys)) == 1
    print(f"   assess_risks was sent with the same idempotency key both times: {same}")


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="    log: %(levelname)s %(message)s")
    trio.run(main)
