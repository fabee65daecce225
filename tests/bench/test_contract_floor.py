"""Case 3's contract floor does what the contract asks of a run: stored, asked, answered."""

from __future__ import annotations

from typing import Any

import trio

from bench._case_workflow import orchestrator
from bench._contract_floor import OWNER, floor_run, floor_workflows
from bench._workload import STEP_NAMES, real_agents, requirements, workflow_message
from mira_actors import open_actor
from supervisors import MemoryStore, Status


def _comparable(response: dict[str, Any]) -> dict[str, Any]:
    """The response without what differs from run to run: its id and the report's date."""
    steps = [
        {**step, "result": {k: v for k, v in step["result"].items() if k != "report_date"}}
        for step in response["steps"]
    ]
    return {**response, "workflow_id": None, "steps": steps}


def test_the_floor_answers_what_the_orchestrator_answers_and_stores_it() -> None:
    """Same response as ``process_async`` for the same input; the store holds the run."""
    agents = real_agents()

    async def main() -> tuple[dict[str, Any], dict[str, Any], Any]:
        store = MemoryStore()
        await store.heartbeat(OWNER)
        async with (
            open_actor(agents.plan, name="generate_plan") as plan,
            open_actor(agents.risk, name="assess_risks") as risk,
            open_actor(agents.report, name="generate_report") as report,
        ):
            refs = dict(zip(STEP_NAMES, (plan, risk, report), strict=True))
            floor = await floor_run(store, refs, requirements("P1"))
        stored = await store.load_run(floor["workflow_id"])
        orch = orchestrator(real_agents())
        ours = await orch.process_async(workflow_message("P1"), timeout=30)
        return floor, ours, stored

    floor, ours, stored = trio.run(main)
    assert _comparable(floor) == _comparable(ours)
    assert stored.status == Status.SUCCESS
    assert stored.completed_steps == list(STEP_NAMES)
    assert stored.response == floor


def test_the_floor_runs_concurrent_workflows() -> None:
    assert trio.run(floor_workflows, real_agents(), 20) > 0
