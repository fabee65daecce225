"""The SQLite store under strain: its own thread, waits bounded by the caller's deadline.

Real time throughout: a real thread and a real lock held by another connection.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
import trio

from supervisors import StepRecord, StoreUnavailableError
from supervisors.stores._sqlite_store import open_sqlite_store
from supervisors.stores._sqlite_writer import CHECKPOINT_BYTES, COMMIT_FLOOR
from tests.deadlines import GRACE

# Real-time deadlines: the garbage of earlier tests is collected before, not during.
pytestmark = pytest.mark.usefixtures("collected_heap")

RESPONSE = {"workflow_type": "wf", "status": "timeout", "steps": []}


def record(step: str) -> StepRecord:
    """A succeeded record of ``step``."""
    return StepRecord(
        step=step, agent="agent", status="success", started_at=1.0, ended_at=2.0, result=step
    )


@contextmanager
def locked(path: Path) -> Iterator[sqlite3.Connection]:
    """Hold the file's write lock from another connection until the block ends."""
    with closing(sqlite3.connect(path, isolation_level=None)) as connection:
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield connection
        finally:
            connection.rollback()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Where the test's database file goes."""
    return tmp_path / "ledger.db"


async def test_the_store_runs_its_sql_when_trios_thread_limiter_is_full(db: Path) -> None:
    """With every token of trio's default thread limiter taken, the store still works."""
    limiter = trio.to_thread.current_default_thread_limiter()
    borrowers = [object() for _ in range(int(limiter.total_tokens))]
    for borrower in borrowers:
        limiter.acquire_on_behalf_of_nowait(borrower)
    try:
        with trio.move_on_after(10) as bounded:  # bounded: a starved store would hang
            async with open_sqlite_store(db) as store:
                await store.create_run("r1", "wf", {}, 30.0)
                await store.record_step("r1", record("plan"))
                stored = await store.load_run("r1")
    finally:
        for borrower in borrowers:
            limiter.release_on_behalf_of(borrower)
    assert not bounded.cancelled_caught
    assert stored is not None
    assert stored.completed_steps == ["plan"]


async def test_a_write_to_a_locked_store_fails_by_the_callers_deadline(db: Path) -> None:
    """A step write waits for another connection's lock only until the caller's deadline."""
    async with open_sqlite_store(db) as store:
        await store.create_run("r1", "wf", {}, 30.0)
        with locked(db):
            began = time.monotonic()
            with pytest.raises(StoreUnavailableError, match="another connection, or slow"):
                with trio.move_on_after(0.2):
                    await store.record_step("r1", record("plan"))
            late = time.monotonic() - began - 0.2
        assert 0 <= late <= GRACE
        stored = await store.load_run("r1")
    assert stored is not None
    assert stored.records == ()


async def test_claiming_a_run_for_a_resume_waits_at_most_its_timeout(db: Path) -> None:
    """claim on a locked store gives up after the resume's timeout, with no caller scope."""
    async with open_sqlite_store(db) as store:
        await store.create_run("r1", "wf", {}, 30.0)
        with locked(db):
            began = time.monotonic()
            with pytest.raises(StoreUnavailableError):
                await store.claim("r1", "resumer", timeout=0.1)
            late = time.monotonic() - began - 0.1
        assert await store.claim("r1", "resumer", timeout=0.1)  # nothing was written
    assert 0 <= late <= GRACE


async def test_releasing_a_lease_on_a_locked_store_gives_up_quickly(
    db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """release, shielded from every deadline, waits at most the floor, then only warns."""
    async with open_sqlite_store(db) as store:
        await store.create_run("r1", "wf", {}, 30.0)
        assert await store.claim("r1", "resumer", timeout=30.0)
        with locked(db), trio.CancelScope(shield=True):
            began = time.monotonic()
            await store.release("r1", "resumer")
            assert time.monotonic() - began <= COMMIT_FLOOR + GRACE
    assert [r.__dict__.get("event_type") for r in caplog.records] == ["release_failed"]


async def test_creating_a_run_waits_at_most_its_timeout(db: Path) -> None:
    """create_run on a locked store gives up after the run's timeout, with no caller scope."""
    async with open_sqlite_store(db) as store:
        with locked(db):
            began = time.monotonic()
            with pytest.raises(StoreUnavailableError):
                await store.create_run("r1", "wf", {}, 0.1)
            late = time.monotonic() - began - 0.1
    assert 0 <= late <= GRACE


async def test_a_final_commit_that_misses_its_deadline_lands_in_the_background(
    db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """finish_run past its deadline fails within the floor, then lands once the lock is free."""
    caplog.set_level(logging.INFO, logger="supervisors.store")
    async with open_sqlite_store(db) as store:
        await store.create_run("r1", "wf", {}, 30.0)
        with locked(db):
            began = time.monotonic()
            # The deadline has passed already, as at a run's final commit after a timeout.
            with (
                trio.CancelScope(deadline=trio.current_time()),
                pytest.raises(StoreUnavailableError),
            ):
                await store.finish_run("r1", outcome="timeout", response=RESPONSE)
            assert time.monotonic() - began <= COMMIT_FLOOR + GRACE
            stored = await store.load_run("r1")
            assert stored is not None
            assert stored.status == "running"
        with trio.fail_after(10):  # real time, bounded: the retry comes every 50 ms
            # The retry runs on the store's thread and tells nobody: poll.
            while (stored := await store.load_run("r1")) and stored.status == "running":  # noqa: ASYNC110
                await trio.sleep(0.01)
    assert stored is not None
    assert (stored.status, stored.response) == ("timeout", RESPONSE)
    assert [r.__dict__.get("event_type") for r in caplog.records] == ["commit_retried"]


async def test_a_commit_still_pending_at_close_leaves_the_run_resumable(
    db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """When the store closes before the retried commit lands, the run stays 'running'."""
    async with open_sqlite_store(db) as store:
        await store.create_run("r1", "wf", {}, 30.0)
        with locked(db):  # held until the store has closed
            with (
                trio.CancelScope(deadline=trio.current_time()),
                pytest.raises(StoreUnavailableError),
            ):
                await store.finish_run("r1", outcome="timeout", response=RESPONSE)
            await store.aclose()
    events = [r.__dict__.get("event_type") for r in caplog.records]
    assert events == ["commit_abandoned"]
    async with open_sqlite_store(db) as store:
        stored = await store.load_run("r1")
        assert stored is not None
        assert stored.status == "running"
        assert await store.claim("r1", "resumer", timeout=30.0)


async def test_a_read_queued_behind_a_locked_write_ends_at_its_callers_deadline(
    db: Path,
) -> None:
    """Calls run in order on the store's thread; one queued waits only to its deadline."""
    async with open_sqlite_store(db) as store:
        await store.create_run("r1", "wf", {}, 30.0)
        with locked(db):
            async with trio.open_nursery() as nursery:
                # A write that waits for the lock, and a read queued behind it.
                nursery.start_soon(_write_until, store, 0.3)
                await trio.sleep(0.05)
                with trio.move_on_after(0.05) as read:
                    await store.load_run("r1")
        assert read.cancelled_caught
        assert (await store.load_run("r1")) is not None


async def _write_until(store: object, seconds: float) -> None:
    with trio.move_on_after(seconds), pytest.raises(StoreUnavailableError):
        await store.record_step("r1", record("plan"))  # type: ignore[attr-defined]


async def test_commits_go_on_while_the_log_is_checkpointed(db: Path) -> None:
    """A checkpoint runs on a connection and thread of its own: no commit waits for it."""
    checkpointing = threading.Event()
    async with open_sqlite_store(db) as store:
        checkpoints = store._db.checkpoints
        assert checkpoints is not None
        # A checkpoint that takes its time (a real one of 4 MB takes tens of ms).
        checkpoints.submit(lambda last: checkpointing.wait(10) or True)
        await store.create_run("big", "wf", {"text": "x" * (CHECKPOINT_BYTES + 1)}, 30.0)
        with trio.fail_after(5):  # bounded: a commit queued behind it would wait 10 s
            await store.record_step("big", record("plan"))
            await store.finish_run("big", outcome="success", response=RESPONSE)
        checkpointing.set()
        with trio.fail_after(5):  # the checkpoint the 4 MB called for runs after it
            while store._db.checkpointer is None:  # noqa: ASYNC110 (a thread gives no event)
                await trio.sleep(0.01)
        stored = await store.load_run("big")
    assert stored is not None
    assert stored.status == "success"
