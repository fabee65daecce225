"""The cyclic collector held off while a built-in agent builds a big result."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest

from mira_actors.agents._collector import PAUSE_FROM_ITEMS, collection_paused, free_in_slices
from mira_actors.agents.project_plan_agent import ProjectPlanAgent


@pytest.fixture
def collector_on() -> Iterator[None]:
    """Automatic collection on for the test, as it was after."""
    was_enabled = gc.isenabled()
    gc.enable()
    try:
        yield
    finally:
        if not was_enabled:
            gc.disable()


@pytest.mark.usefixtures("collector_on")
def test_nested_pauses_resume_collection_when_the_last_one_ends() -> None:
    """Two steps holding the collector off: it comes back on only after both."""
    with collection_paused(PAUSE_FROM_ITEMS):
        assert not gc.isenabled()
        with collection_paused(PAUSE_FROM_ITEMS):
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_turned_off_before_stays_off() -> None:
    """A pause never turns on a collector that the application had turned off."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        with collection_paused(PAUSE_FROM_ITEMS):
            pass
        assert not gc.isenabled()
    finally:
        if was_enabled:
            gc.enable()


@pytest.mark.usefixtures("collector_on")
def test_a_small_step_leaves_the_collector_alone() -> None:
    """Fewer items than PAUSE_FROM_ITEMS: the collector stays on."""
    with collection_paused(PAUSE_FROM_ITEMS - 1):
        assert gc.isenabled()


@pytest.mark.usefixtures("collector_on")
def test_a_pause_ends_when_its_step_raises() -> None:
    """A step that raises resumes collection as it leaves."""
    with pytest.raises(KeyError), collection_paused(PAUSE_FROM_ITEMS):
        raise KeyError("boom")
    assert gc.isenabled()


def test_free_in_slices_empties_the_list() -> None:
    """Every item is freed, however the length falls against the slice."""
    items: list[Any] = [{"n": n} for n in range(12_345)]
    free_in_slices(items)
    assert items == []


@pytest.mark.usefixtures("collector_on")
def test_a_big_plan_is_built_without_automatic_collections() -> None:
    """No collector pass runs while the plan agent builds 20,000 goals' milestones and tasks."""
    passes: list[int] = []
    during_build: list[int] = []

    def count(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            passes.append(info["generation"])

    class WatchedPlanAgent(ProjectPlanAgent):
        @staticmethod
        def _build(*args: Any) -> None:
            before = len(passes)
            ProjectPlanAgent._build(*args)
            during_build.extend(passes[before:])

    threshold = gc.get_threshold()
    gc.set_threshold(100)  # a pass every 100 new objects, were the collector on
    gc.callbacks.append(count)
    try:
        plan = WatchedPlanAgent().generate_plan({"goals": [f"Goal {i}" for i in range(20_000)]})
    finally:
        gc.callbacks.remove(count)
        gc.set_threshold(*threshold)
    assert len(plan["tasks"]) == 60_000
    assert during_build == []
    assert gc.isenabled()
