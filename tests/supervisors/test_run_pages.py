"""Pages of run summaries, in every store: newest first, keyset-paged, filtered by status."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from supervisors import RunCursor, StepRecord
from supervisors.stores._memory_store import MemoryStore
from supervisors.stores._protocol import LedgerStore
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


@pytest.fixture(params=["memory", "sqlite"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[LedgerStore]:
    """Each kind of store, empty, on the fake wall clock."""
    if request.param == "memory":
        memory = MemoryStore(clock=clock, max_runs=None)
        yield memory
        await memory.aclose()
    else:
        async with open_sqlite_store(tmp_path / "ledger.db", clock=clock, threaded=False) as db:
            yield db


def ok(step: str) -> StepRecord:
    """A successful record of ``step``."""
    return StepRecord(step=step, agent="a", status="success", started_at=1.0, ended_at=2.0)


async def test_pages_walk_every_run_newest_first_without_repeats(
    store: LedgerStore, clock: FakeClock
) -> None:
    """Following each page's next visits every run once, newest first, ties by id."""
    for i in range(7):
        clock.now = 1_000.0 + i // 2  # pairs share a created_at: the id breaks the tie
        await store.create_run(f"run-{i}", "wf", {}, 5.0)
    seen, before = [], None
    for _ in range(10):
        page = await store.page_runs(limit=3, before=before)
        seen.append([s.workflow_id for s in page.runs])
        if page.next is None:
            break
        before = page.next
    assert seen == [["run-6", "run-5", "run-4"], ["run-3", "run-2", "run-1"], ["run-0"]]


async def test_a_page_filters_by_status_and_counts_steps_done(
    store: LedgerStore, clock: FakeClock
) -> None:
    """status= keeps one status; a summary counts its successful steps and resumes."""
    await store.create_run("a", "wf", {"big": "x" * 1000}, 5.0)
    await store.record_step("a", ok("one"))
    await store.record_step("a", ok("two"))
    clock.now += 1
    await store.create_run("b", "wf", {}, 5.0)
    await store.finish_run("b", outcome="timeout", response={"status": "timeout"})
    assert await store.claim("b", "me", timeout=9.0)
    await store.release("b", "me")
    await store.finish_run("b", outcome="error", response={"status": "error"})
    errors = await store.page_runs(status="error")
    assert [s.workflow_id for s in errors.runs] == ["b"]
    assert errors.runs[0].resumes == 1
    assert errors.runs[0].timeout == 9.0
    assert errors.next is None
    running = await store.page_runs(status="running")
    assert [(s.workflow_id, s.steps_done, s.status) for s in running.runs] == [("a", 2, "running")]
    assert (await store.page_runs(status="success")).runs == ()


async def test_the_last_full_page_has_no_next(store: LedgerStore, clock: FakeClock) -> None:
    """A page that ends exactly at the oldest run says there is no page after it."""
    for i in range(4):
        clock.now += 1
        await store.create_run(f"r{i}", "wf", {}, 5.0)
    first = await store.page_runs(limit=2)
    assert first.next == RunCursor(created_at=clock.now - 1, workflow_id="r2")
    second = await store.page_runs(limit=2, before=first.next)
    assert [s.workflow_id for s in second.runs] == ["r1", "r0"]
    assert second.next is None


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"status": "sleeping"}, ValueError),
        ({"limit": 0}, ValueError),
        ({"limit": 1001}, ValueError),
        ({"limit": 2.5}, TypeError),
        ({"before": ("x", 1.0)}, TypeError),
    ],
)
async def test_bad_page_arguments_are_clear_errors(
    store: LedgerStore, kwargs: dict[str, object], error: type[Exception]
) -> None:
    """A bad status, limit or cursor raises ValueError or TypeError naming it."""
    with pytest.raises(error, match=next(iter(kwargs))):
        await store.page_runs(**kwargs)  # type: ignore[arg-type]


async def test_sqlite_pages_walk_an_index(tmp_path: Path) -> None:
    """SQLite answers a page, filtered or not, from an index, not a scan of every run."""
    path = tmp_path / "ledger.db"
    async with open_sqlite_store(path, threaded=False):
        pass
    connection = sqlite3.connect(path)
    try:
        for where, values in [
            ("", ()),
            ("WHERE status = ? AND (created_at, workflow_id) < (?, ?)", ("error", 1.0, "x")),
        ]:
            plan = " ".join(
                row[-1]
                for row in connection.execute(
                    "EXPLAIN QUERY PLAN SELECT workflow_id FROM runs "
                    f"{where} ORDER BY created_at DESC, workflow_id DESC LIMIT 51",
                    values,
                )
            )
            assert "USING INDEX runs_by" in plan or "USING COVERING INDEX runs_by" in plan, plan
            assert "TEMP B-TREE" not in plan, plan
    finally:
        connection.close()


async def test_a_damaged_run_row_is_left_out_of_a_page(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A run row with a bad status is logged and skipped; the page still has the rest."""
    path = tmp_path / "ledger.db"
    async with open_sqlite_store(path, threaded=False) as db:
        await db.create_run("good", "wf", {}, 5.0)
        await db.create_run("bad", "wf", {}, 5.0)
    connection = sqlite3.connect(path)
    with connection:
        connection.execute("UPDATE runs SET status = 'melted' WHERE workflow_id = 'bad'")
    connection.close()
    async with open_sqlite_store(path, threaded=False) as db:
        page = await db.page_runs()
    assert [s.workflow_id for s in page.runs] == ["good"]
    assert [r.error_type for r in caplog.records] == ["invalid_run_format"]  # type: ignore[attr-defined]
