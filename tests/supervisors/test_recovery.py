"""Recovery of abandoned runs, and cancel from anywhere, through a shared store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio

from mira_actors import request_headers
from supervisors import (
    MemoryStore,
    Recovery,
    StepRecord,
    WorkflowSupervisor,
    open_workflow_supervisor,
    serve_recovery,
)
from tests.supervisors.scripted import OK, Journal, Scripted, flow, step

THREE = flow(step("a"), step("b"), step("c"))


class Keyed(Scripted):
    """A scripted actor that also keeps the idempotency key of every request."""

    def __init__(self, name: str, script: list[tuple[float, Any]], journal: Journal) -> None:
        super().__init__(name, script, journal)
        self.keys: list[str] = []

    async def handle(self, message: Any) -> Any:
        self.keys.append(request_headers()["idempotency_key"])
        return await super().handle(message)


def store_on_trio_time() -> MemoryStore:
    """A store whose clock is trio's (virtual) clock, so leases lapse on the autojump clock."""
    return MemoryStore(clock=trio.current_time)


@asynccontextmanager
async def system(
    store: MemoryStore, journal: Journal, seconds: float = 1.0, **options: Any
) -> AsyncIterator[tuple[WorkflowSupervisor, dict[str, Keyed]]]:
    """A supervisor on ``store`` with Keyed actors a, b and c answering after ``seconds``."""
    async with open_workflow_supervisor(workflows=[THREE], store=store, **options) as supervisor:
        agents = {name: Keyed(name, [(seconds, OK)], journal) for name in "abc"}
        for name, agent in agents.items():
            await supervisor.spawn(lambda a=agent: a, name=name, handles=[f"t{name}"])
        yield supervisor, agents


async def a_run_left_by_a_dead_owner(store: MemoryStore) -> None:
    """Store run 'r1' as an owner that died in step b would leave it: a done, b started."""
    await store.create_run("r1", "w", "D", 30.0, owner="dead", lease_time=15.0)
    record = StepRecord(step="a", agent="a", status="success", started_at=0, ended_at=1)
    await store.record_step("r1", record)


async def test_a_dead_owners_run_is_recovered_once_its_lease_lapses(
    autojump_clock: trio.abc.Clock,
) -> None:
    """Recovery resumes the run after the lease: a is not run again, b keeps its key."""
    store, journal = store_on_trio_time(), []
    await a_run_left_by_a_dead_owner(store)
    async with system(store, journal) as (supervisor, agents), trio.open_nursery() as nursery:
        nursery.start_soon(serve_recovery, supervisor, Recovery(interval=1.0))
        with trio.fail_after(60):
            # The run is another supervisor's: the store is all there is to watch.
            while (await store.load_run("r1")).status != "success":  # type: ignore[union-attr]  # noqa: ASYNC110
                await trio.sleep(0.5)
        nursery.cancel_scope.cancel()
    starts = [(name, at) for kind, name, at in journal if kind == "start"]
    assert starts == [("b", 16.0), ("c", 17.0)]  # the lease (15 s) lapsed; the look at 16
    assert agents["a"].keys == []
    assert agents["b"].keys == ["r1:b:1"]  # its outcome was unknown: the same key again
    run = await store.load_run("r1")
    assert run is not None
    assert (run.resumes, run.owner, run.completed_steps) == (1, None, ["a", "b", "c"])


async def recover_until_finished(store: MemoryStore, supervisor: WorkflowSupervisor) -> None:
    """Serve recovery until run 'r1' is no longer running (at most 60 virtual seconds)."""
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve_recovery, supervisor, Recovery(interval=1.0))
        with trio.fail_after(60):
            while (await store.load_run("r1")).status == "running":  # type: ignore[union-attr]  # noqa: ASYNC110
                await trio.sleep(0.5)
        nursery.cancel_scope.cancel()


async def test_a_recovered_run_resumes_under_the_time_it_had_left(
    autojump_clock: trio.abc.Clock,
) -> None:
    """A run started at 0 with 20 s, recovered at 16, has 4 s left: c is cut at 20."""
    store, journal = store_on_trio_time(), []
    await store.create_run("r1", "w", "D", 20.0, owner="dead", lease_time=15.0)
    await store.record_step(
        "r1", StepRecord(step="a", agent="a", status="success", started_at=0, ended_at=1)
    )
    async with system(store, journal, seconds=3.0) as (supervisor, _):
        await recover_until_finished(store, supervisor)
    assert [(kind, name, at) for kind, name, at in journal if name == "c"] == [
        ("start", "c", 19.0),
        ("cancel", "c", 20.0),
    ]
    run = await store.load_run("r1")
    assert run is not None
    assert (run.status, run.timeout, run.completed_steps) == ("timeout", 4.0, ["a", "b"])


async def test_a_recovered_run_with_no_time_left_is_stored_as_a_timeout(
    autojump_clock: trio.abc.Clock,
) -> None:
    """A run whose 10 s ran out before its recovery at 16 is not resumed: a timeout, with a done."""
    store, journal = store_on_trio_time(), []
    await store.create_run("r1", "w", "D", 10.0, owner="dead", lease_time=15.0)
    await store.record_step(
        "r1", StepRecord(step="a", agent="a", status="success", started_at=0, ended_at=1)
    )
    async with system(store, journal) as (supervisor, _):
        await recover_until_finished(store, supervisor)
    assert journal == []  # no step was sent again
    run = await store.load_run("r1")
    assert run is not None
    assert (run.status, run.owner, run.resumes) == ("timeout", None, 0)
    assert run.response is not None
    assert run.response["partial_progress"]["completed_steps"] == ["a"]
    assert "before it was recovered" in run.response["error"]


async def test_recovery_timeout_gives_recovered_runs_a_new_deadline(
    autojump_clock: trio.abc.Clock,
) -> None:
    """With Recovery(timeout=30), a run whose own 10 s ran out is resumed for 30 s from 16."""
    store, journal = store_on_trio_time(), []
    await store.create_run("r1", "w", "D", 10.0, owner="dead", lease_time=15.0)
    async with system(store, journal) as (supervisor, _), trio.open_nursery() as nursery:
        nursery.start_soon(serve_recovery, supervisor, Recovery(interval=1.0, timeout=30.0))
        with trio.fail_after(60):
            while (await store.load_run("r1")).status == "running":  # type: ignore[union-attr]  # noqa: ASYNC110
                await trio.sleep(0.5)
        nursery.cancel_scope.cancel()
    run = await store.load_run("r1")
    assert run is not None
    assert (run.status, run.timeout, run.started_at) == ("success", 30.0, 16.0)


async def test_a_live_owners_runs_are_left_alone(autojump_clock: trio.abc.Clock) -> None:
    """While its owner beats, a running run is not recovered by another supervisor."""
    store, journal = store_on_trio_time(), []
    async with (
        system(store, journal, seconds=40.0) as (owner, _),
        system(store, [], seconds=1.0) as (rescuer, rescuer_agents),
        trio.open_nursery() as nursery,
    ):
        nursery.start_soon(serve_recovery, rescuer, Recovery(interval=1.0))
        report = await owner.run("w", "D", timeout=200)
        nursery.cancel_scope.cancel()
    assert report.outcome == "success"
    assert trio.current_time() == 120.0  # three 40 s steps, never interrupted
    assert all(agent.keys == [] for agent in rescuer_agents.values())


async def test_recovery_takes_no_more_than_max_runs(autojump_clock: trio.abc.Clock) -> None:
    """A recoverer keeps at most max_runs recovered runs going; the rest wait their turn."""
    store, journal = store_on_trio_time(), []
    for n in range(5):
        await store.create_run(f"r{n}", "w", "D", 100.0)  # the last two recovered at 31
    async with (
        system(store, journal, seconds=5.0) as (supervisor, agents),
        trio.open_nursery() as nursery,
    ):
        nursery.start_soon(serve_recovery, supervisor, Recovery(interval=1.0, max_runs=2))
        await trio.sleep(3)
        assert sorted(run.owner is not None for run in await store.list_runs()) == [
            False,
            False,
            False,
            True,
            True,
        ]
        with trio.fail_after(500):
            while any(r.status != "success" for r in await store.list_runs()):  # noqa: ASYNC110
                await trio.sleep(1)
        nursery.cancel_scope.cancel()
    assert len(agents["a"].keys) == 5


async def test_a_cancel_request_from_elsewhere_cancels_the_run(
    autojump_clock: trio.abc.Clock,
) -> None:
    """A cancel asked through the store ends the run within one heartbeat, as 'cancelled'."""
    store, journal = store_on_trio_time(), []
    reports: list[Any] = []
    async with (
        system(store, journal, seconds=100.0, lease_time=3.0) as (supervisor, _),
        trio.open_nursery() as nursery,
    ):

        async def run() -> None:
            reports.append(await supervisor.run("w", "D", timeout=1000))

        nursery.start_soon(run)
        await trio.sleep(10.5)
        [stored] = await store.list_runs()
        assert await store.request_cancel(stored.workflow_id) is True
    [report] = reports
    assert trio.current_time() == 11.0  # the next beat (every lease_time / 3 = 1 s)
    assert report.outcome == "cancelled"
    assert report.response()["status"] == "cancelled"
    run = await store.load_run(stored.workflow_id)
    assert run is not None
    assert (run.status, run.owner, run.cancel_requested) == ("cancelled", None, False)
    assert [(r.step, r.status) for r in run.records][-1][0] == "a"  # the step it cut short
    assert ("cancel", "a", 11.0) in journal


@pytest.mark.parametrize("bad", [{"interval": 0}, {"interval": float("inf")}, {"max_runs": 0}])
def test_bad_recovery_settings_are_refused(bad: dict[str, Any]) -> None:
    """A recovery interval that is not positive and finite, or max_runs under 1, is refused."""
    with pytest.raises(ValueError, match="must be"):
        Recovery(**bad)
