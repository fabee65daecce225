"""The SQLite ledger store: WAL, durability across reopen and SIGKILL, damaged rows."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing, contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio

from supervisors import StepRecord
from supervisors.stores._protocol import DamagedRunError
from supervisors.stores._sqlite_file import SCHEMA_VERSION, StoreFileError
from supervisors.stores._sqlite_store import SqliteStore, open_sqlite_store

SECRET = "hunter2"  # stored in damaged rows: no log may show it


def record(step: str, status: str = "success", result: Any = None) -> StepRecord:
    """A record of ``step`` that ran from t=1 to t=2 on actor 'agent'."""
    return StepRecord(
        step=step, agent="agent", status=status, started_at=1.0, ended_at=2.0, result=result
    )


def extra(logged: logging.LogRecord, *names: str) -> tuple[Any, ...]:
    """The values of the named ``extra`` fields of a log record."""
    return tuple(logged.__dict__.get(name) for name in names)


@contextmanager
def raw(path: Path) -> Iterator[sqlite3.Connection]:
    """A plain sqlite3 connection to the file, in autocommit mode, closed on exit."""
    with closing(sqlite3.connect(path, isolation_level=None)) as connection:
        yield connection


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Where the test's database file goes."""
    return tmp_path / "ledger.db"


async def three_steps(db: Path) -> None:
    """Store run 'r1' with steps plan, risk and report, each succeeded."""
    async with open_sqlite_store(db) as store:
        await store.create_run("r1", "wf", {"n": 1}, 30.0)
        for name in ("plan", "risk", "report"):
            await store.record_step("r1", record(name, result={"secret": SECRET, "of": name}))


async def test_the_file_is_in_wal_mode(db: Path) -> None:
    """The database file is in WAL mode and holds the runs, steps, owners and inputs tables."""
    async with open_sqlite_store(db):
        with raw(db) as connection:
            assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
            tables = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            assert {name for (name,) in tables} == {"runs", "steps", "owners", "run_data"}


def test_synchronous_is_normal_or_full(db: Path) -> None:
    """Any synchronous mode other than NORMAL or FULL is a ValueError, before opening."""
    with pytest.raises(ValueError, match="synchronous must be 'NORMAL' or 'FULL'"):
        SqliteStore(db, synchronous="OFF")  # type: ignore[arg-type]
    assert not db.exists()


async def test_runs_survive_reopening(db: Path) -> None:
    """A run written, finished and closed reads back the same from a new store on the file."""
    async with open_sqlite_store(db, synchronous="FULL") as store:
        await store.create_run("r1", "wf", {"name": "Apollo"}, 30.0)
        await store.record_step("r1", record("plan", result={"tasks": [1, 2]}))
        await store.finish_run("r1", outcome="timeout", response={"status": "timeout"})
        before = await store.load_run("r1")
    async with open_sqlite_store(db) as store:
        assert await store.load_run("r1") == before
        assert [run.workflow_id for run in await store.list_runs()] == ["r1"]


async def test_stores_on_one_file_share_runs_and_claims(db: Path) -> None:
    """Two stores on one file see each other's runs, and of their claims only one wins."""
    async with open_sqlite_store(db) as first, open_sqlite_store(db) as second:
        await first.create_run("r1", "wf", {}, 5.0)
        assert await second.load_run("r1") is not None
        wins = []

        async def claim(store: SqliteStore, owner: str) -> None:
            await store.heartbeat(owner)
            if await store.claim("r1", owner, timeout=5.0):
                wins.append(owner)

        async with trio.open_nursery() as nursery:
            for n in range(4):
                nursery.start_soon(claim, first, f"a{n}")
                nursery.start_soon(claim, second, f"b{n}")
        assert len(wins) == 1


async def test_finish_run_failing_mid_transaction_leaves_nothing(db: Path) -> None:
    """When the run's update fails after the cut records went in, none of it is visible."""
    async with open_sqlite_store(db) as store:
        await store.create_run("r1", "wf", {}, 5.0)
        await store.record_step("r1", record("plan"))
        with raw(db) as connection:
            connection.execute(
                "CREATE TRIGGER fail BEFORE UPDATE OF status ON runs"
                " BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
            )
        with pytest.raises(sqlite3.IntegrityError, match="disk on fire"):
            await store.finish_run(
                "r1", outcome="timeout", response={}, records=[record("risk", "timeout")]
            )
        run = await store.load_run("r1")
        assert run is not None
        assert (run.status, run.response, [r.step for r in run.records]) == (
            "running",
            None,
            ["plan"],
        )
        await store.record_step("r1", record("report"))  # the connection is usable still
    with raw(db) as connection:
        assert connection.execute("SELECT step FROM steps").fetchall() == [("plan",), ("report",)]


@pytest.mark.parametrize(
    ("damage", "field"),
    [
        ('result = \'{"secret": "' + SECRET + "\"'", "result"),
        ("step = X'72697368'", "step"),  # a blob, not text
        ("step = CAST(X'FFFE' AS TEXT)", "step"),
        ("attempts = 'twice'", "attempts"),
        ("attempts = -1", "attempts"),
        ("started_at = 'soon'", "started_at"),
        ("error = X'07'", "error"),
    ],
)
async def test_a_malformed_step_row_is_logged_and_skipped(
    db: Path, caplog: pytest.LogCaptureFixture, damage: str, field: str
) -> None:
    """A step row with damaged JSON or a wrong type is logged invalid_step_format and left out."""
    await three_steps(db)
    with raw(db) as connection:
        connection.execute(f"UPDATE steps SET {damage} WHERE step = 'risk'")
    async with open_sqlite_store(db) as store:
        run = await store.load_run("r1")
    assert run is not None
    assert run.completed_steps == ["plan", "report"]
    [logged] = caplog.records
    assert (logged.name, logged.levelno) == ("supervisors.store", logging.WARNING)
    assert extra(logged, "error_type", "workflow_id", "step_index", "field") == (
        "invalid_step_format",
        "r1",
        1,
        field,
    )
    assert SECRET not in str(logged.__dict__)


async def test_a_row_that_breaks_the_reader_is_step_extraction_failed(
    db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A row whose reading raises unexpectedly (JSON nested too deep) is logged and left out."""
    await three_steps(db)
    deep = "[" * 100_000 + "]" * 100_000
    with raw(db) as connection:
        connection.execute("UPDATE steps SET result = ? WHERE step = 'plan'", (deep,))
    async with open_sqlite_store(db) as store:
        run = await store.load_run("r1")
    assert run is not None
    assert run.completed_steps == ["risk", "report"]
    [logged] = caplog.records
    assert extra(logged, "error_type", "workflow_id", "step_index", "exception_type") == (
        "step_extraction_failed",
        "r1",
        0,
        "RecursionError",
    )


async def test_an_unreadable_step_list_is_invalid_steps_format(
    db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """When the steps cannot be read at all, it is logged and no step counts as completed."""
    await three_steps(db)
    with raw(db) as connection:
        connection.execute("ALTER TABLE steps RENAME COLUMN result TO payload")
    async with open_sqlite_store(db) as store:
        run = await store.load_run("r1")
        assert [r.records for r in await store.list_runs()] == [()]
    assert run is not None
    assert (run.status, run.records) == ("running", ())
    assert [extra(r, "error_type", "workflow_id") for r in caplog.records] == [
        ("invalid_steps_format", "r1")
    ] * 2


@pytest.mark.parametrize(
    ("damage", "field"),
    [
        ("run_data SET data = '{oops'", "data"),
        ("runs SET status = 'finished'", "status"),
        ("runs SET response = '[1, 2]'", "response"),
        ("runs SET timeout = 'long'", "timeout"),
        ("runs SET workflow_type = CAST(X'FF' AS TEXT)", "workflow_type"),
    ],
)
async def test_a_damaged_run_row_is_a_clear_error_and_left_out_of_lists(
    db: Path, caplog: pytest.LogCaptureFixture, damage: str, field: str
) -> None:
    """Loading a damaged run raises DamagedRunError naming the field; listing skips it."""
    await three_steps(db)
    async with open_sqlite_store(db) as store:
        await store.create_run("r2", "wf", {}, 1.0)
        with raw(db) as connection:
            connection.execute(f"UPDATE {damage} WHERE workflow_id = 'r1'")
        with pytest.raises(DamagedRunError, match=f"'r1' is damaged: its '{field}'"):
            await store.load_run("r1")
        assert [run.workflow_id for run in await store.list_runs()] == ["r2"]
    assert [extra(r, "error_type", "workflow_id", "field") for r in caplog.records] == [
        ("invalid_run_format", "r1", field)
    ] * 2


VERSION_1 = """
CREATE TABLE runs (
    workflow_id TEXT PRIMARY KEY, workflow_type TEXT NOT NULL, data TEXT NOT NULL,
    timeout REAL NOT NULL, status TEXT NOT NULL, response TEXT, created_at REAL NOT NULL,
    updated_at REAL NOT NULL, resumes INTEGER NOT NULL DEFAULT 0, claimed_by TEXT,
    claimed_until REAL
);
CREATE TABLE steps (
    id INTEGER PRIMARY KEY, workflow_id TEXT NOT NULL REFERENCES runs (workflow_id),
    step TEXT NOT NULL, agent TEXT NOT NULL, status TEXT NOT NULL, started_at REAL NOT NULL,
    ended_at REAL NOT NULL, attempts INTEGER NOT NULL, result TEXT NOT NULL, error TEXT,
    error_type TEXT
);
INSERT INTO runs VALUES ('old', 'wf', '{}', 5.0, 'running', NULL, 1.0, 1.0, 1, 'gone', 99.0);
INSERT INTO steps VALUES (1, 'old', 'plan', 'a', 'success', 1.0, 2.0, 1, '{"n": 1}', NULL, NULL);
PRAGMA application_id = 0x4D495241;
PRAGMA user_version = 1;
"""


async def test_a_version_1_file_is_upgraded_with_its_runs(db: Path) -> None:
    """A file of schema version 1 (claims, no leases) gains leases and keeps its runs."""
    with raw(db) as connection:
        connection.executescript(VERSION_1)
    with pytest.raises(StoreFileError, match="open it once for writing"):
        async with open_sqlite_store(db, read_only=True):
            pass
    async with open_sqlite_store(db) as store:
        run = await store.load_run("old")
        assert run is not None
        assert (run.status, run.owner, run.completed_steps) == ("running", None, ["plan"])
        assert run.started_at is None  # not kept then: a recovery gives its whole timeout
        await store.heartbeat("me")
        assert await store.claim_expired("me") == ["old"]
    with raw(db) as connection:
        assert connection.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


async def test_a_version_2_file_gains_run_start_times(db: Path) -> None:
    """A file of schema version 2 (no run start times) is upgraded and keeps its runs."""
    async with open_sqlite_store(db) as store:
        await store.create_run("old", "wf", {}, 5.0)
    with raw(db) as connection:
        connection.execute("ALTER TABLE runs DROP COLUMN started_at")
        connection.execute("UPDATE runs SET data = (SELECT data FROM run_data)")
        connection.execute("DROP TABLE run_data")
        connection.execute("PRAGMA user_version = 2")
    async with open_sqlite_store(db) as store:
        run = await store.load_run("old")
        assert run is not None
        assert (run.started_at, run.time_left(1e12)) == (None, 5.0)  # unknown: all of it
        assert await store.claim("old", "me", timeout=5.0)
        run = await store.load_run("old")
        assert run is not None
        assert run.started_at is not None
    with raw(db) as connection:
        assert connection.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)



async def test_a_version_3_file_keeps_its_runs_inputs(db: Path) -> None:
    """A file of schema version 3 (inputs in the runs' rows) is upgraded; its runs read back."""
    async with open_sqlite_store(db) as store:
        await store.create_run("old", "wf", {"name": "Apollo"}, 5.0)
    with raw(db) as connection:
        connection.execute("UPDATE runs SET data = (SELECT data FROM run_data)")
        connection.execute("DROP TABLE run_data")
        connection.execute("PRAGMA user_version = 3")
    async with open_sqlite_store(db) as store:
        await store.create_run("new", "wf", {"name": "Gemini"}, 5.0)
        runs = {run.workflow_id: run.data for run in await store.list_runs()}
        assert runs == {"old": {"name": "Apollo"}, "new": {"name": "Gemini"}}
    with raw(db) as connection:
        assert connection.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


async def test_a_run_s_commits_do_not_write_its_input_again(db: Path) -> None:
    """A step's commit and the final one write kilobytes to the log, not a 2 MB input again."""
    data = {"goals": [f"Goal {i}" for i in range(200_000)]}  # about 2 MB of JSON
    wal = trio.Path(f"{db}-wal")
    async with open_sqlite_store(db) as store:
        await store.create_run("big", "wf", data, 30.0)
        before = (await wal.stat()).st_size
        await store.record_step("big", record("plan", result={"n": 1}))
        await store.finish_run("big", outcome="timeout", response={"status": "timeout"})
        written = (await wal.stat()).st_size - before
        run = await store.load_run("big")
    assert run is not None
    assert (run.status, run.data) == ("timeout", data)
    assert written < 100_000


CHILD = """
import sys, trio
from supervisors import StepRecord
from supervisors.stores._sqlite_store import open_sqlite_store

async def main(path, mode):
    async with open_sqlite_store(path) as store:
        await store.create_run("crash", "wf", {"n": 1}, 60.0)
        for n in range(1_000_000):
            record = StepRecord(
                step=f"s{n}", agent="a", status="success", started_at=0.0, ended_at=0.0,
                result={"n": n},
            )
            await store.record_step("crash", record)
            print(n, flush=True)
            if mode == "pause" and n == 2:
                await trio.sleep(60)  # in the middle of the next step

trio.run(main, sys.argv[1], sys.argv[2])
"""


async def kill_child(db: Path, mode: str, after: int) -> None:
    """Run the child on ``db``; SIGKILL it once it reports step ``after`` recorded."""
    with trio.fail_after(5):  # real time: the child is a real process
        async with trio.open_nursery() as nursery:
            process = await nursery.start(
                partial(
                    trio.run_process,
                    [sys.executable, "-c", CHILD, str(db), mode],
                    stdout=subprocess.PIPE,
                    check=False,
                )
            )
            seen = b""
            while f"\n{after}\n".encode() not in b"\n" + seen:
                chunk = await process.stdout.receive_some()
                assert chunk, "the child ended before it was killed"
                seen += chunk
            os.kill(process.pid, signal.SIGKILL)
    assert process.returncode == -signal.SIGKILL


def integrity(db: Path) -> str:
    """The result of PRAGMA integrity_check on the file."""
    with raw(db) as connection:
        return str(connection.execute("PRAGMA integrity_check").fetchone()[0])


async def test_steps_recorded_before_a_sigkill_are_kept(db: Path) -> None:
    """A process killed after record_step returned, mid-step, keeps every step it recorded."""
    await kill_child(db, "pause", after=2)
    assert integrity(db) == "ok"
    async with open_sqlite_store(db) as store:
        run = await store.load_run("crash")
    assert run is not None
    assert (run.status, run.completed_steps) == ("running", ["s0", "s1", "s2"])
    assert [r.result for r in run.records] == [{"n": 0}, {"n": 1}, {"n": 2}]


async def test_a_sigkill_during_a_stream_of_commits_loses_nothing_committed(db: Path) -> None:
    """Killed while writing steps as fast as it can, the file is sound and holds every one."""
    await kill_child(db, "stream", after=200)
    assert integrity(db) == "ok"
    async with open_sqlite_store(db) as store:
        run = await store.load_run("crash")
    assert run is not None
    steps = run.completed_steps
    assert steps == [f"s{n}" for n in range(len(steps))]
    assert len(steps) > 200
