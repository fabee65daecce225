"""A process to kill: the MIRA workflow on a SQLite ledger, blocked in its risk step.

``python crash_child.py LEDGER_FILE`` runs the project_initialization workflow against
the file. Its plan step completes; its risk step prints ``ready WORKFLOW_ID KEY`` (the
run's id and the step's idempotency key) and then never answers, so the process can be
killed in the middle of a step. test_crash_resume.py does that.
"""

from __future__ import annotations

import sys
from typing import Any

import trio

from mira_actors import request_headers
from mira_actors.agents import (
    OrchestratorAgent,
    ProjectPlanAgent,
    RiskAssessmentAgent,
    StatusReporterAgent,
)
from supervisors import open_sqlite_store

PROJECT = {"name": "Apollo", "description": "urgent", "goals": ["Design", "Build"]}
MESSAGE = {
    "type": "workflow",
    "data": {"workflow_type": "project_initialization", "data": PROJECT},
}


class BlockedRiskAgent(RiskAssessmentAgent):
    """Says its step has started, with the run's id and the step's key; never answers."""

    async def handle(self, message: Any) -> Any:
        headers = request_headers()
        print("ready", headers["workflow_id"], headers["idempotency_key"], flush=True)
        await trio.sleep_forever()


async def main(path: str) -> None:
    async with open_sqlite_store(path) as store:
        # A short lease, so the test need not wait long for it to lapse after the kill.
        orchestrator = OrchestratorAgent(store=store, lease_time=1.0)
        for agent in (ProjectPlanAgent(), BlockedRiskAgent(), StatusReporterAgent()):
            orchestrator.register_agent(agent)
        await orchestrator.process_async(MESSAGE, timeout=60)


if __name__ == "__main__":
    trio.run(main, sys.argv[1])
