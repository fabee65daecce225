"""The ledger store contract, held by every store: in memory, SQLite and PostgreSQL."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio

from supervisors import StepRecord
from supervisors.stores._memory_store import MemoryStore
from supervisors.stores._protocol import (
    LeaseLostError,
    LedgerStore,
    StoredRun,
    UnknownRunError,
)
from supervisors.stores._sqlite_store import open_sqlite_store


class FakeClock:
    """A wall clock that moves only when a test moves it."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    """A wall clock at t=1000 that tests move by hand."""
    return FakeClock()


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[LedgerStore]:
    """Each kind of store, empty, on the fake wall clock."""
    if request.param == "memory":
        memory = MemoryStore(clock=clock)
        yield memory
        await memory.aclose()
    elif request.param == "sqlite":
        async with open_sqlite_store(tmp_path / "ledger.db", clock=clock) as sqlite:
            yield sqlite
    else:
        from supervisors.stores._postgres_store import open_postgres_store

        url = request.getfixturevalue("postgres_url")
        async with open_postgres_store(url, clock=clock) as postgres:
            yield postgres


def record(step: str, status: str = "success", result: Any = None, **fields: Any) -> StepRecord:
    """A record of ``step`` that ran from t=1 to t=2 on actor 'agent'."""
    return StepRecord(
        step=step,
        agent="agent",
        status=status,
        started_at=1.0,
        ended_at=2.0,
        result=result,
        **fields,
    )


async def stored(store: LedgerStore, workflow_id: str) -> StoredRun:
    """The run with this id, which the test knows is stored."""
    run = await store.load_run(workflow_id)
    assert run is not None
    return run


async def test_create_run_stores_a_running_run(store: LedgerStore) -> None:
    """A new run is 'running', with its type, input and timeout, no records and no response."""
    await store.create_run("r1", "project_initialization", {"name": "Apollo"}, 30.0)
    assert await store.load_run("r1") == StoredRun(
        workflow_id="r1",
        workflow_type="project_initialization",
        data={"name": "Apollo"},
        timeout=30.0,
        status="running",
        records=(),
        response=None,
        created_at=1_000.0,
        updated_at=1_000.0,
        resumes=0,
        started_at=1_000.0,
    )


async def test_load_run_of_an_unknown_id_is_none(store: LedgerStore) -> None:
    """Loading an id that was never stored gives None."""
    assert await store.load_run("nope") is None


async def test_create_run_twice_is_an_error(store: LedgerStore) -> None:
    """A second run with the same id is refused and the first is kept."""
    await store.create_run("r1", "a", {"n": 1}, 1.0)
    with pytest.raises(ValueError, match="'r1' is already stored"):
        await store.create_run("r1", "b", {"n": 2}, 2.0)
    assert (await stored(store, "r1")).workflow_type == "a"


async def test_record_step_appends_in_order(store: LedgerStore, clock: FakeClock) -> None:
    """Records come back in the order written, with every field and the update time."""
    await store.create_run("r1", "wf", {}, 30.0)
    first = record("plan", result={"tasks": ["a", "b"]})
    second = record("risk", "error", error="agent failed", error_type="agent_error", attempts=3)
    await store.record_step("r1", first)
    clock.now = 1_005.0
    await store.record_step("r1", second)
    run = await stored(store, "r1")
    assert run.records == (first, second)
    assert (run.created_at, run.updated_at) == (1_000.0, 1_005.0)
    assert run.completed_steps == ["plan"]
    assert run.results == {"plan": {"tasks": ["a", "b"]}}


async def test_writes_to_an_unknown_run_raise(store: LedgerStore) -> None:
    """Recording, finishing or claiming an unknown run raises UnknownRunError naming it."""
    with pytest.raises(UnknownRunError, match="'ghost'"):
        await store.record_step("ghost", record("plan"))
    with pytest.raises(UnknownRunError, match="'ghost'"):
        await store.finish_run("ghost", outcome="success", response={})
    with pytest.raises(UnknownRunError, match="'ghost'"):
        await store.claim("ghost", "me", timeout=1.0)
    with pytest.raises(UnknownRunError, match="'ghost'"):
        await store.request_cancel("ghost")
    assert await store.list_runs() == []


async def test_finish_run_stores_outcome_response_and_cut_records(
    store: LedgerStore, clock: FakeClock
) -> None:
    """finish_run appends the cut-short records and stores the outcome and response."""
    await store.create_run("r1", "wf", {}, 5.0)
    done = record("plan", result=1)
    await store.record_step("r1", done)
    cut = record("risk", "timeout", error_type="deadline")
    response = {"status": "timeout", "partial_progress": {"completed_steps": ["plan"]}}
    clock.now = 1_010.0
    await store.finish_run("r1", outcome="timeout", response=response, records=[cut])
    run = await stored(store, "r1")
    assert (run.status, run.response, run.records) == ("timeout", response, (done, cut))
    assert run.updated_at == 1_010.0


async def test_finish_run_keeps_an_infinite_timeout_in_the_response(store: LedgerStore) -> None:
    """A response may report timeout_seconds=inf (a run with no deadline) and reads it back."""
    await store.create_run("r1", "wf", {}, math.inf)
    response = {"partial_progress": {"timeout_seconds": math.inf}}
    await store.finish_run("r1", outcome="timeout", response=response)
    run = await stored(store, "r1")
    assert (run.timeout, run.response) == (math.inf, response)


async def test_finish_run_refuses_an_unknown_outcome(store: LedgerStore) -> None:
    """An outcome other than success, timeout or error is a ValueError and changes nothing."""
    await store.create_run("r1", "wf", {}, 5.0)
    with pytest.raises(ValueError, match="outcome must be one of"):
        await store.finish_run("r1", outcome="done", response={}, records=[record("plan")])
    assert (await stored(store, "r1")).records == ()


async def test_finish_run_is_all_or_nothing(store: LedgerStore) -> None:
    """A finish_run that fails on its second record stores none of it."""
    await store.create_run("r1", "wf", {}, 5.0)
    await store.record_step("r1", record("plan", result=1))
    before = await stored(store, "r1")
    bad = record("risk", "timeout", result={1, 2})
    with pytest.raises(TypeError, match="step 'risk'"):
        await store.finish_run("r1", outcome="timeout", response={}, records=[record("x"), bad])
    assert await store.load_run("r1") == before


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ({1, 2}, TypeError),
        (object(), TypeError),
        ({("a", "b"): 1}, TypeError),
        (math.nan, ValueError),
        ([math.inf], ValueError),
    ],
)
async def test_only_json_values_are_stored(
    store: LedgerStore, value: Any, error: type[Exception]
) -> None:
    """Input or results JSON cannot hold raise at once, naming what, and store nothing."""
    with pytest.raises(error, match=r"workflow data cannot be stored: .*JSON"):
        await store.create_run("bad", "wf", {"x": value}, 1.0)
    assert await store.load_run("bad") is None
    await store.create_run("r1", "wf", {}, 1.0)
    with pytest.raises(error, match="the result of step 'plan' cannot be stored"):
        await store.record_step("r1", record("plan", result={"x": value}))
    assert (await stored(store, "r1")).records == ()


async def test_a_circular_value_is_a_clear_error(store: LedgerStore) -> None:
    """A value that contains itself is a ValueError naming the step."""
    loop: list[Any] = []
    loop.append(loop)
    await store.create_run("r1", "wf", {}, 1.0)
    with pytest.raises(ValueError, match="step 'plan'"):
        await store.record_step("r1", record("plan", result=loop))


async def test_values_come_back_as_json_gives_them(store: LedgerStore) -> None:
    """Tuples come back as lists and int keys as strings, the same from every store."""
    await store.create_run("r1", "wf", {"pair": (1, 2), 3: "three"}, 1.0)
    await store.record_step("r1", record("plan", result=("a", {"n": None})))
    run = await stored(store, "r1")
    assert run.data == {"pair": [1, 2], "3": "three"}
    assert run.records[0].result == ["a", {"n": None}]


async def test_stored_values_cannot_be_changed_from_outside(store: LedgerStore) -> None:
    """Changing what was passed in, or what was loaded, leaves the stored run as it was."""
    data = {"team": ["ann"]}
    result = {"tasks": ["a"]}
    response = {"steps": [{"step": "plan"}]}
    await store.create_run("r1", "wf", data, 1.0)
    await store.record_step("r1", record("plan", result=result))
    await store.finish_run("r1", outcome="success", response=response)
    data["team"].append("bob")
    result["tasks"].append("b")
    response["steps"].clear()
    loaded = await stored(store, "r1")
    loaded.data["team"].append("eve")
    loaded.records[0].result["tasks"].append("c")
    assert loaded.response is not None
    loaded.response["steps"].clear()
    again = await stored(store, "r1")
    assert again.data == {"team": ["ann"]}
    assert again.records[0].result == {"tasks": ["a"]}
    assert again.response == {"steps": [{"step": "plan"}]}


async def test_a_response_holding_its_recorded_results_comes_back_whole(
    store: LedgerStore,
) -> None:
    """A response holding the very results its steps recorded comes back as JSON gives it."""
    plan = {"milestones": [{"name": "m", "tasks": ("a", "b")}], 3: "three"}
    risks = ["r1", {"level": None}]
    await store.create_run("r1", "wf", {}, 1.0)
    await store.record_step("r1", record("plan", result=plan))
    await store.record_step("r1", record("risks", result=risks))
    response = {
        "workflow_id": "r1",
        "steps": [
            {"step": "plan", "result": plan},
            {"step": "risks", "result": risks},
            {"step": "other", "result": {"not": "recorded"}},
            {"step": "none", "result": None},
        ],
        "error": '"recorded-result:0" \x00',
    }
    await store.finish_run("r1", outcome="success", response=response)
    loaded = await stored(store, "r1")
    assert loaded.response == json.loads(json.dumps(response))


async def test_list_runs_is_newest_first(store: LedgerStore, clock: FakeClock) -> None:
    """Runs are listed newest first; runs created at the same moment, last created first."""
    await store.create_run("old", "wf", {}, 1.0)
    clock.now = 2_000.0
    await store.create_run("mid", "wf", {}, 1.0)
    await store.create_run("new", "wf", {}, 1.0)
    await store.record_step("old", record("plan"))
    runs = await store.list_runs()
    assert [run.workflow_id for run in runs] == ["new", "mid", "old"]
    assert runs[2].completed_steps == ["plan"]


async def test_claim_lets_one_owner_resume(store: LedgerStore, clock: FakeClock) -> None:
    """The first claim wins and starts a resume; another owner is refused until release."""
    await store.create_run("r1", "wf", {}, 5.0)
    await store.finish_run("r1", outcome="timeout", response={"status": "timeout"})
    clock.now = 1_100.0
    assert await store.claim("r1", "first", timeout=60.0, lease_time=10.0) is True
    run = await stored(store, "r1")
    assert (run.status, run.timeout, run.resumes, run.updated_at, run.response) == (
        "running",
        60.0,
        1,
        1_100.0,
        None,
    )
    assert (run.owner, run.lease_expires_at) == ("first", 1_110.0)
    assert await store.claim("r1", "second", timeout=60.0) is False
    await store.release("r1", "second")  # not the holder: changes nothing
    assert await store.claim("r1", "second", timeout=60.0) is False
    await store.release("r1", "first")
    assert (await stored(store, "r1")).owner is None
    assert await store.claim("r1", "second", timeout=60.0) is True
    assert (await stored(store, "r1")).resumes == 2


async def test_concurrent_claims_have_one_winner(store: LedgerStore) -> None:
    """Of many live owners claiming one run at once, exactly one gets it."""
    await store.create_run("r1", "wf", {}, 5.0)
    wins: list[str] = []

    async def claim(owner: str) -> None:
        await store.heartbeat(owner)
        if await store.claim("r1", owner, timeout=5.0):
            wins.append(owner)

    async with trio.open_nursery() as nursery:
        for n in range(8):
            nursery.start_soon(claim, f"owner-{n}")
    assert len(wins) == 1
    assert (await stored(store, "r1")).resumes == 1


async def test_a_lease_lapses_when_its_owner_stops_beating(
    store: LedgerStore, clock: FakeClock
) -> None:
    """A run's lease holds until lease_time after its owner's last beat, then may be taken."""
    await store.create_run("r1", "wf", {}, 5.0, owner="dead", lease_time=10.0)
    await store.heartbeat("next")
    clock.now += 10.0
    assert await store.claim("r1", "next", timeout=10.0) is False
    clock.now += 0.5
    assert await store.claim("r1", "next", timeout=10.0) is True
    assert (await stored(store, "r1")).owner == "next"


async def test_fenced_writes_land_only_while_their_owner_holds_the_run(
    store: LedgerStore, clock: FakeClock
) -> None:
    """Once another owner takes a run, the old owner's writes are refused and change nothing."""
    await store.create_run("r1", "wf", {}, 5.0, owner="old", lease_time=10.0)
    await store.record_step("r1", record("a", result=1), owner="old")
    clock.now += 10.5  # the old owner stalled past its lease
    assert await store.claim("r1", "new", timeout=5.0) is True
    await store.record_step("r1", record("b", result="new's"), owner="new")
    with pytest.raises(LeaseLostError) as lost:
        await store.record_step("r1", record("b", result="old's"), owner="old")
    assert (lost.value.workflow_id, lost.value.owner) == ("r1", "old")
    with pytest.raises(LeaseLostError):
        await store.finish_run(
            "r1", outcome="timeout", response={"old": True}, records=[record("c")], owner="old"
        )
    run = await stored(store, "r1")
    assert (run.status, run.owner, run.response) == ("running", "new", None)
    assert [(r.step, r.result) for r in run.records] == [("a", 1), ("b", "new's")]
    await store.finish_run("r1", outcome="success", response={"new": True}, owner="new")
    assert (await stored(store, "r1")).response == {"new": True}


async def test_a_fenced_write_to_an_ended_run_is_refused(store: LedgerStore) -> None:
    """A run that has ended holds no lease: a fenced write to it is refused, not appended."""
    await store.create_run("r1", "wf", {}, 5.0, owner="me")
    await store.finish_run("r1", outcome="error", response={}, owner="me")
    with pytest.raises(LeaseLostError):
        await store.record_step("r1", record("late"), owner="me")
    assert (await stored(store, "r1")).records == ()
    with pytest.raises(UnknownRunError):
        await store.record_step("nope", record("a"), owner="me")


async def test_a_run_keeps_when_its_latest_start_or_claim_began(
    store: LedgerStore, clock: FakeClock
) -> None:
    """started_at is the store's time of the first start, then of each claim (not of a take)."""
    await store.create_run("r1", "wf", {}, 30.0, owner="a", lease_time=10.0)
    run = await stored(store, "r1")
    assert run.started_at == 1000.0
    assert run.time_left(1012.0) == 18.0
    clock.now += 20.0
    assert await store.claim_expired("b") == ["r1"]
    assert (await stored(store, "r1")).started_at == 1000.0  # taking it does not restart it
    assert await store.claim("r1", "b", timeout=5.0)
    run = await stored(store, "r1")
    assert (run.started_at, run.timeout) == (1020.0, 5.0)
    assert run.time_left(1026.0) == -1.0


async def test_one_heartbeat_renews_every_lease_of_its_owner(
    store: LedgerStore, clock: FakeClock
) -> None:
    """An owner that beats keeps all its runs, however long they go; its lease moves on."""
    await store.heartbeat("me", lease_time=10.0)
    for n in range(5):
        await store.create_run(f"r{n}", "wf", {}, 5.0, owner="me", lease_time=10.0)
    for _ in range(3):
        clock.now += 8.0
        await store.heartbeat("me", lease_time=10.0)
    await store.heartbeat("other")
    assert [await store.claim(f"r{n}", "other", timeout=1.0) for n in range(5)] == [False] * 5
    assert await store.claim_expired("other") == []
    assert {run.lease_expires_at for run in await store.list_runs()} == {1_034.0}


async def test_a_first_start_takes_a_lease(store: LedgerStore, clock: FakeClock) -> None:
    """A run created with an owner is leased to it at once: refused to others until it lapses."""
    await store.create_run("r1", "wf", {}, 5.0, owner="starter", lease_time=10.0)
    run = await stored(store, "r1")
    assert (run.owner, run.lease_expires_at) == ("starter", 1_010.0)
    await store.heartbeat("resumer")
    assert await store.claim("r1", "resumer", timeout=5.0) is False
    clock.now += 10.5  # the starter died before its first heartbeat
    assert await store.claim("r1", "resumer", timeout=5.0) is True


async def test_a_claim_takes_a_lease(store: LedgerStore, clock: FakeClock) -> None:
    """A successful claim beats for its owner: the run is held for lease_time from then."""
    await store.create_run("r1", "wf", {}, 5.0)
    assert await store.claim("r1", "resumer", timeout=5.0, lease_time=20.0)
    assert (await stored(store, "r1")).lease_expires_at == 1_020.0
    assert await store.claim("r1", "other", timeout=5.0) is False
    clock.now += 20.5
    assert await store.claim("r1", "other", timeout=5.0) is True


async def test_the_holder_may_claim_again(store: LedgerStore) -> None:
    """An owner that holds the lease gets it again (each claim counts as a resume)."""
    await store.heartbeat("me")
    await store.create_run("r1", "wf", {}, 5.0)
    assert await store.claim("r1", "me", timeout=1.0)
    assert await store.claim("r1", "me", timeout=2.0)
    assert (await stored(store, "r1")).resumes == 2


async def test_finishing_a_run_ends_its_lease(store: LedgerStore) -> None:
    """A run that finished (timeout) has no owner: another may resume it at once."""
    await store.heartbeat("me")
    await store.create_run("r1", "wf", {}, 5.0, owner="me")
    await store.finish_run("r1", outcome="timeout", response={})
    assert (await stored(store, "r1")).owner is None
    await store.heartbeat("other")
    assert await store.claim("r1", "other", timeout=5.0)


async def test_a_succeeded_run_cannot_be_claimed(store: LedgerStore) -> None:
    """A run that succeeded keeps its outcome: claim returns False and changes nothing."""
    await store.create_run("r1", "wf", {}, 5.0)
    await store.finish_run("r1", outcome="success", response={"steps": []})
    assert await store.claim("r1", "me", timeout=5.0) is False
    run = await stored(store, "r1")
    assert (run.status, run.resumes, run.response) == ("success", 0, {"steps": []})


async def test_a_crashed_run_without_owner_can_be_claimed_at_once(store: LedgerStore) -> None:
    """A run left 'running' with no owner (released, or from an old ledger) is claimable."""
    await store.create_run("r1", "wf", {}, 5.0)
    await store.record_step("r1", record("plan"))
    assert await store.claim("r1", "resumer", timeout=5.0)


async def test_claim_expired_takes_only_abandoned_running_runs(
    store: LedgerStore, clock: FakeClock
) -> None:
    """Recovery takes running runs whose lease lapsed or that have none, oldest first."""
    await store.heartbeat("alive", lease_time=100.0)
    await store.heartbeat("dead", lease_time=10.0)
    await store.create_run("held", "wf", {}, 5.0, owner="alive", lease_time=100.0)
    clock.now += 1.0
    await store.create_run("orphan", "wf", {}, 5.0, owner="dead", lease_time=10.0)
    clock.now += 1.0
    await store.create_run("ownerless", "wf", {}, 5.0)
    await store.create_run("failed", "wf", {}, 5.0, owner="dead", lease_time=10.0)
    await store.finish_run("failed", outcome="error", response={})
    clock.now += 20.0
    await store.heartbeat("rescuer")
    assert await store.claim_expired("rescuer", limit=1) == ["orphan"]
    assert await store.claim_expired("rescuer") == ["ownerless"]
    assert await store.claim_expired("rescuer") == []
    owners = {run.workflow_id: run.owner for run in await store.list_runs()}
    assert owners == {"held": "alive", "orphan": "rescuer", "ownerless": "rescuer", "failed": None}
    run = await stored(store, "orphan")
    assert (run.status, run.resumes) == ("running", 0)  # the resume's claim counts it
    assert await store.claim("orphan", "rescuer", timeout=5.0)


async def test_concurrent_recoverers_split_the_abandoned_runs(store: LedgerStore) -> None:
    """Recoverers running at once take each abandoned run exactly once between them."""
    for n in range(20):
        await store.create_run(f"r{n}", "wf", {}, 5.0)
    taken: list[str] = []

    async def recover(owner: str) -> None:
        await store.heartbeat(owner)
        while batch := await store.claim_expired(owner, limit=3):
            taken.extend(batch)

    async with trio.open_nursery() as nursery:
        for n in range(4):
            nursery.start_soon(recover, f"rescuer-{n}")
    assert sorted(taken) == sorted(f"r{n}" for n in range(20))


async def test_a_cancel_request_reaches_the_owner_at_its_heartbeat(store: LedgerStore) -> None:
    """request_cancel marks a running run; its owner's next heartbeat returns it."""
    await store.heartbeat("me")
    await store.create_run("r1", "wf", {}, 5.0, owner="me")
    await store.create_run("r2", "wf", {}, 5.0, owner="me")
    await store.create_run("done", "wf", {}, 5.0, owner="me")
    await store.finish_run("done", outcome="success", response={})
    assert await store.request_cancel("r1") is True
    assert await store.request_cancel("done") is False
    assert (await stored(store, "r1")).cancel_requested
    assert await store.heartbeat("me") == {"r1"}
    assert await store.heartbeat("someone else") == frozenset()
    await store.finish_run("r1", outcome="error", response={})
    assert not (await stored(store, "r1")).cancel_requested
    assert await store.heartbeat("me") == frozenset()
    with pytest.raises(UnknownRunError, match="'ghost'"):
        await store.request_cancel("ghost")


@pytest.mark.parametrize("lease_time", [0, -1.0, math.inf, math.nan])
async def test_a_bad_lease_time_is_refused(store: LedgerStore, lease_time: float) -> None:
    """A lease time that is not a positive, finite number of seconds is a ValueError."""
    with pytest.raises(ValueError, match="lease_time must be positive and finite"):
        await store.heartbeat("me", lease_time=lease_time)


async def test_now_is_the_stores_clock(store: LedgerStore, clock: FakeClock) -> None:
    """now() reads the clock lease expiry is judged by."""
    clock.now = 4_321.5
    assert await store.now() == 4_321.5


async def test_writes_are_not_cancellable(store: LedgerStore) -> None:
    """A write asked for in a cancelled scope still happens in full."""
    await store.create_run("r1", "wf", {}, 5.0)
    with trio.CancelScope() as scope:
        scope.cancel()
        await store.record_step("r1", record("plan"))
        await store.finish_run("r1", outcome="timeout", response={}, records=[record("risk")])
    assert [r.step for r in (await stored(store, "r1")).records] == ["plan", "risk"]


async def test_a_closed_store_refuses_calls(store: LedgerStore) -> None:
    """After aclose (which may be called twice) every call raises RuntimeError."""
    await store.aclose()
    await store.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await store.create_run("r1", "wf", {}, 1.0)
    with pytest.raises(RuntimeError, match="closed"):
        await store.load_run("r1")


class CountingDict(dict[str, Any]):
    """A dict that counts the walks over it (iterations and views)."""

    walks = 0

    def __iter__(self) -> Any:
        CountingDict.walks += 1
        return super().__iter__()

    def items(self) -> Any:
        CountingDict.walks += 1
        return super().items()

    def values(self) -> Any:
        CountingDict.walks += 1
        return super().values()

    def keys(self) -> Any:
        CountingDict.walks += 1
        return super().keys()


async def test_memory_store_writes_never_walk_the_runs(clock: FakeClock) -> None:
    """Creating, recording and finishing runs never walks the stored runs, even when full."""
    memory = MemoryStore(clock=clock, max_runs=10)
    memory._runs = CountingDict()  # type: ignore[assignment]
    CountingDict.walks = 0
    for i in range(2_000):  # runs left 'running' (as callers' cancelled runs are) fill it
        await memory.create_run(f"r{i}", "w", {"i": i}, 30.0)
    for i in range(2_000, 2_020):  # finished ones are forgotten, oldest first
        await memory.create_run(f"r{i}", "w", {"i": i}, 30.0)
        await memory.record_step(f"r{i}", record("a", result=i))
        await memory.finish_run(f"r{i}", outcome="success", response={"i": i})
    assert CountingDict.walks == 0
    assert len(memory._runs) == 2_001  # the running ones, and the last one finished
    assert await memory.load_run("r2018") is None
    assert (await stored(memory, "r0")).status == "running"
    assert (await stored(memory, "r2019")).status == "success"


async def test_memory_store_writes_of_a_run_never_yield(clock: FakeClock) -> None:
    """A run's writes to memory complete without a schedule point: a burst of runs that
    start together is not held back a scheduling round each, bunching their deadlines."""
    memory = MemoryStore(clock=clock)
    with trio.testing.assert_no_checkpoints():
        await memory.create_run("r", "w", {"goals": ["a", "b"]}, 30.0, owner="me")
        await memory.record_step("r", record("a", result={"plan": [1, 2]}), owner="me")
        await memory.finish_run("r", outcome="success", response={"steps": []}, owner="me")
    assert (await stored(memory, "r")).status == "success"
