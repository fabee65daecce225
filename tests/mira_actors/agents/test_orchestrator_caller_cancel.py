"""A caller's cancellation that lands between two steps ends the run as cancelled."""

from __future__ import annotations

import pytest
import trio

from supervisors import RunEvent, StepCompleted
from tests.mira_actors.agents.orchestrators import make

WORKFLOW = {
    "type": "workflow",
    "data": {"workflow_type": "project_initialization", "data": {"name": "P", "goals": ["a"]}},
}


async def test_cancel_between_steps_is_not_a_timeout(autojump_clock: trio.abc.Clock) -> None:
    """Cancelled as its first step completes, the call is cancelled; the run is stored so."""
    orchestrator = make()
    scope = trio.CancelScope()

    def cancel_after_the_plan(event: RunEvent) -> None:
        if isinstance(event, StepCompleted) and event.step == "generate_plan":
            scope.cancel()  # no checkpoint comes before the next step is considered

    async with orchestrator.running():
        first = await orchestrator.process_async(WORKFLOW)  # the steps now have a history
        assert "status" not in first
        with scope:
            response = await orchestrator.process_async(WORKFLOW, on_event=cancel_after_the_plan)
            pytest.fail(f"answered {response.get('status')!r}: {response.get('error')}")
        runs = await orchestrator.store.list_runs()
    assert sorted(run.status for run in runs) == ["cancelled", "success"]
