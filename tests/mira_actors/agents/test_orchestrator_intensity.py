"""OrchestratorAgent's restart intensity: how many agent crashes it restarts before giving up."""

from __future__ import annotations

from typing import Any

import pytest
import trio

from mira_actors.agents import OrchestratorAgent, RiskAssessmentAgent
from supervisors import RestartIntensityError
from tests.mira_actors.agents.orchestrators import make

ASSESS = {"type": "assess_risks", "data": {"name": "P"}}


class CrashingRiskAgent(RiskAssessmentAgent):
    """Crashes its actor on every message."""

    crash_on_error = True

    async def handle(self, message: Any) -> Any:
        raise RuntimeError("risk model broke")


async def crash_times(orchestrator: OrchestratorAgent, times: int) -> None:
    async with orchestrator.running():
        for _ in range(times):
            response = await orchestrator.process_async(ASSESS, timeout=5)
            assert response["status"] == "error"
            await trio.sleep(0.1)


async def test_crashes_within_the_intensity_are_restarted(autojump_clock: trio.abc.Clock) -> None:
    """With max_restarts=4, four crashes in a row are restarted and the block ends cleanly."""
    await crash_times(make(CrashingRiskAgent(), max_restarts=4, within=60), 4)


async def test_one_crash_too_many_gives_up(autojump_clock: trio.abc.Clock) -> None:
    """With max_restarts=1, a second crash within the window ends running() with the error."""
    with pytest.RaisesGroup(RestartIntensityError, flatten_subgroups=True):
        await crash_times(make(CrashingRiskAgent(), max_restarts=1, within=60), 2)


async def test_crashes_outside_the_window_do_not_add_up(autojump_clock: trio.abc.Clock) -> None:
    """Crashes further apart than ``within`` seconds never exceed the intensity."""
    orchestrator = make(CrashingRiskAgent(), max_restarts=1, within=1)
    async with orchestrator.running():
        for _ in range(3):
            assert (await orchestrator.process_async(ASSESS, timeout=5))["status"] == "error"
            await trio.sleep(2)


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"max_restarts": -1}, "max_restarts must be an int >= 0, got -1"),
        ({"max_restarts": 1.5}, "max_restarts must be an int >= 0, got 1.5"),
        ({"within": 0}, "within must be a number of seconds > 0, got 0"),
        ({"within": "5"}, "within must be a number of seconds > 0, got '5'"),
    ],
)
def test_a_bad_intensity_is_refused_at_once(options: dict[str, Any], error: str) -> None:
    """A bad max_restarts or within is a ValueError from the constructor."""
    with pytest.raises(ValueError, match=f"^{error}$"):
        OrchestratorAgent(**options)
