"""The stores with big values: encoded off the trio thread, a piece at a time.

Real time: the store's own threads are involved. Waits are bounded, and what is held
to the README's grace is how long the trio thread could not run.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio

from mira_actors.agents import ProjectPlanAgent
from supervisors import MemoryStore, StepRecord, StoreUnavailableError
from supervisors.stores._sqlite_store import open_sqlite_store
from supervisors.stores._sqlite_writer import COMMIT_FLOOR
from tests.deadlines import GRACE

pytestmark = pytest.mark.usefixtures("collected_heap")


def big_plan() -> dict[str, Any]:
    """A 20,000-goal plan: 80,000 dicts, 10 MB of JSON, 0.2 s for the C encoder here."""
    return ProjectPlanAgent().generate_plan({"goals": [f"Goal {i}" for i in range(20_000)]})


def record(step: str, result: Any) -> StepRecord:
    """A succeeded record of ``step`` with ``result``."""
    return StepRecord(
        step=step, agent="agent", status="success", started_at=1.0, ended_at=2.0, result=result
    )


async def longest_stall(work: Any) -> float:
    """Await ``work()``; return the longest time the trio thread could not run meanwhile."""
    stalls = [0.0]

    async def tick(done: trio.Event) -> None:
        last = time.monotonic()
        while not done.is_set():
            await trio.sleep(0.001)
            now = time.monotonic()
            stalls.append(now - last)
            last = now

    done = trio.Event()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(tick, done)
        await trio.sleep(0.01)
        try:
            await work()
        finally:
            done.set()
    return max(stalls)


@asynccontextmanager
async def a_store(kind: str, folder: Path) -> AsyncIterator[Any]:
    """A MemoryStore, or a SqliteStore on a new file in ``folder``."""
    if kind == "memory":
        yield MemoryStore()
    else:
        async with open_sqlite_store(folder / "runs.db") as store:
            yield store


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
async def test_a_big_result_is_committed_without_holding_the_trio_thread(
    tmp_path: Path, kind: str
) -> None:
    """record_step of a 10 MB result: the loop never stalls longer than the grace."""
    plan = big_plan()
    async with a_store(kind, tmp_path) as store:
        await store.create_run("big", "wf", {}, 30.0)
        stall = await longest_stall(lambda: store.record_step("big", record("plan", plan)))
        stored = await store.load_run("big")
    assert stored is not None
    assert stored.results == {"plan": plan}
    assert stall <= GRACE


async def test_the_final_commit_stores_big_results_as_committed(tmp_path: Path) -> None:
    """A response holding the big results of its steps reads back exactly."""
    plan = big_plan()
    response = {
        "workflow_type": "wf",
        "status": "timeout",
        "steps": [
            {"step": "plan", "status": "success", "result": plan},
            {"step": "risk", "status": "success", "result": {"risks": []}},
        ],
    }
    async with open_sqlite_store(tmp_path / "runs.db") as store:
        await store.create_run("big", "wf", {}, 30.0)
        await store.record_step("big", record("plan", plan))
        await store.record_step("big", record("risk", {"risks": []}))
        stall = await longest_stall(
            lambda: store.finish_run("big", outcome="timeout", response=response)
        )
        stored = await store.load_run("big")
    assert stored is not None
    assert (stored.status, stored.response) == ("timeout", response)
    assert stall <= GRACE


async def test_a_big_response_not_encoded_by_the_deadline_lands_in_the_background(
    tmp_path: Path,
) -> None:
    """finish_run past its deadline with 10 MB to encode: it gives up in time, then lands."""
    response = {"workflow_type": "wf", "steps": [{"step": "plan", "result": big_plan()}]}
    async with open_sqlite_store(tmp_path / "runs.db") as store:
        await store.create_run("big", "wf", {}, 30.0)
        began = time.monotonic()
        with pytest.raises(StoreUnavailableError), trio.CancelScope(deadline=trio.current_time()):
            await store.finish_run("big", outcome="success", response=response)
        assert time.monotonic() - began <= COMMIT_FLOOR + GRACE
        with trio.fail_after(10):  # bounded: the background commit lands in moments
            while (stored := await store.load_run("big")) and stored.status == "running":  # noqa: ASYNC110
                await trio.sleep(0.01)
    assert stored is not None
    assert (stored.status, stored.response) == ("success", response)
