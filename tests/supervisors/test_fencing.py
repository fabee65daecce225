"""Fencing: an owner that lost its lease stops its run and never overwrites the new owner."""

from __future__ import annotations

import trio

from supervisors import (
    LeaseLostError,
    MemoryStore,
    Parallel,
    StepRecord,
    open_workflow_supervisor,
)
from tests.supervisors.scripted import OK, Journal, Scripted, flow, step

# a and b take 4 s each; the group's c ends at t=12 and d would go on until t=20.
FLOW = flow(step("a"), step("b"), Parallel(name="g", steps=[step("c"), step("d")]))
SECONDS = {"a": 4.0, "b": 4.0, "c": 4.0, "d": 12.0}


class StalledHeartbeats(MemoryStore):
    """A store on trio's clock whose heartbeats never return: the owner's beat stalls."""

    def __init__(self) -> None:
        super().__init__(clock=trio.current_time)

    async def heartbeat(self, owner: str, *, lease_time: float = 15.0) -> frozenset[str]:
        await trio.sleep_forever()
        raise AssertionError  # pragma: no cover


async def test_a_stalled_owner_stops_its_run_once_another_owner_takes_it(
    autojump_clock: trio.abc.Clock,
) -> None:
    """At its first refused write the old owner's run stops (its other step cancelled) and
    answers 'lease_lost'; the store keeps the new owner's lease and records."""
    store = StalledHeartbeats()
    journal: Journal = []
    report = None
    async with open_workflow_supervisor(workflows=[FLOW], store=store, lease_time=10.0) as sup:
        for name, seconds in SECONDS.items():
            actor = Scripted(name, [(seconds, OK)], journal)
            await sup.spawn(lambda a=actor: a, name=name, handles=[f"t{name}"])

        async def run() -> None:
            nonlocal report
            report = await sup.run("w", "D", timeout=60.0)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(run)
            await trio.sleep(11.0)  # the lease (10 s from the start) has lapsed; c and d go on
            [stored] = await store.list_runs()
            assert await store.claim(stored.workflow_id, "new", timeout=60.0) is True
            new_step = StepRecord(step="c", agent="c", status="success", started_at=11, ended_at=11)
            await store.record_step(stored.workflow_id, new_step, owner="new")
    assert report is not None
    assert trio.current_time() == 12.0  # stopped at c's refused write, not at d's end (20)
    assert (report.outcome, report.error_type) == ("error", "lease_lost")
    response = report.response()
    assert response["status"] == "error"
    assert "no longer held by this orchestrator" in response["error"]
    assert ("cancel", "d", 12.0) in journal
    run = await store.load_run(stored.workflow_id)
    assert run is not None
    assert (run.status, run.owner) == ("running", "new")
    assert [(r.step, r.agent, r.ended_at) for r in run.records] == [
        ("a", "a", 4.0),
        ("b", "b", 8.0),
        ("c", "c", 11.0),  # the new owner's record, not the old owner's (12.0)
    ]


async def test_lease_lost_error_names_the_run_and_owner() -> None:
    """LeaseLostError is a MiraError and a RuntimeError, with the run and owner on it."""
    from mira_actors import MiraError

    error = LeaseLostError("r1", "owner-1")
    assert isinstance(error, MiraError)
    assert isinstance(error, RuntimeError)
    assert (error.workflow_id, error.owner) == ("r1", "owner-1")
    assert "'r1'" in str(error)
