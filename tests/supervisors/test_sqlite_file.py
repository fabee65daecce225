"""A SQLite ledger file is used only when it is ours; anything else is refused, untouched."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

from supervisors import SqliteStore, StoreFileError, open_sqlite_store
from supervisors.stores._sqlite_file import APPLICATION_ID, SCHEMA_VERSION


def execute(path: Path, *statements: str) -> None:
    """Run SQL on the file through a plain connection, as another program would."""
    with closing(sqlite3.connect(path, isolation_level=None)) as connection:
        for statement in statements:
            connection.execute(statement)


def files(folder: Path) -> dict[str, bytes]:
    """Every file in ``folder``, by name, with its bytes."""
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def ours(path: Path) -> None:
    """Create a ledger store at ``path`` with one run in it."""
    store = SqliteStore(path, threaded=False)
    try:
        store._db.connection.execute(
            "INSERT INTO runs (workflow_id, workflow_type, data, timeout, status, created_at,"
            " updated_at) VALUES ('r1', 'w', '{}', 1.0, 'running', 0, 0)"
        )
    finally:
        store._db.connection.close()


def foreign(path: Path) -> None:
    execute(path, "CREATE TABLE runs (id INTEGER, who TEXT)", "INSERT INTO runs VALUES (1, 'x')")


def foreign_wal(path: Path) -> None:
    execute(path, "PRAGMA journal_mode = WAL", "CREATE TABLE runs (id INTEGER)")


def empty(path: Path) -> None:
    path.write_bytes(b"")


def random_bytes(path: Path) -> None:
    path.write_bytes(os.urandom(8192))


def text(path: Path) -> None:
    path.write_text("workflow_id,status\nr1,running\n")


def newer(path: Path) -> None:
    ours(path)
    execute(path, f"PRAGMA user_version = {SCHEMA_VERSION + 1}")


def steps_dropped(path: Path) -> None:
    ours(path)
    execute(path, "DROP TABLE steps")


def header_only(path: Path) -> None:
    ours(path)
    path.write_bytes(path.read_bytes()[:100] + os.urandom(4000))


NOT_OURS: list[tuple[Callable[[Path], None], str]] = [
    (
        foreign,
        "is not a mira-actors ledger store: another application's SQLite database "
        f"(application_id 0x0, not {APPLICATION_ID:#x})",
    ),
    (foreign_wal, "is not a mira-actors ledger store: another application's"),
    (empty, "is empty, not a ledger store; give a path that does not exist to create one"),
    (random_bytes, "is not a ledger store: it is not a SQLite database"),
    (text, "is not a ledger store: it is not a SQLite database"),
    (
        newer,
        f"holds ledger schema version {SCHEMA_VERSION + 1}; this code reads "
        f"{SCHEMA_VERSION}; upgrade mira-actors to read it",
    ),
    (steps_dropped, "is damaged: its 'steps' table is missing; restore the file from a backup"),
    (header_only, "is damaged: "),
]


@pytest.mark.parametrize("read_only", [False, True], ids=["read-write", "read-only"])
@pytest.mark.parametrize(("make", "problem"), NOT_OURS, ids=[make.__name__ for make, _ in NOT_OURS])
async def test_a_file_that_is_not_ours_is_refused_and_left_as_it_was(
    tmp_path: Path, make: Callable[[Path], None], problem: str, read_only: bool
) -> None:
    """Another program's file, an empty, damaged or newer one: StoreFileError, nothing written."""
    path = tmp_path / "some.db"
    make(path)
    before = files(tmp_path)
    with pytest.raises(StoreFileError) as raised:
        async with open_sqlite_store(path, read_only=read_only):
            pass
    assert str(raised.value).startswith(f"{str(path)!r} {problem}")
    assert raised.value.path == str(path)
    assert isinstance(raised.value, ValueError)
    assert files(tmp_path) == before


async def test_a_missing_path_is_created_complete(tmp_path: Path) -> None:
    """A path that does not exist becomes a store marked as ours, with nothing left beside it."""
    path = tmp_path / "new.db"
    async with open_sqlite_store(path) as store:
        await store.create_run("r1", "w", {}, 1.0)
    assert sorted(files(tmp_path)) == ["new.db"]
    with closing(sqlite3.connect(path)) as connection:
        assert connection.execute("PRAGMA application_id").fetchone() == (APPLICATION_ID,)
        assert connection.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    async with open_sqlite_store(path) as store:
        assert [run.workflow_id for run in await store.list_runs()] == ["r1"]


async def test_read_only_never_creates_a_store(tmp_path: Path) -> None:
    """Opening a missing path read-only is a StoreFileError naming it; no file appears."""
    path = tmp_path / "missing.db"
    with pytest.raises(StoreFileError, match=r"missing\.db' cannot be read: No such file"):
        async with open_sqlite_store(path, read_only=True):
            pass
    assert files(tmp_path) == {}


async def test_read_only_reads_and_never_writes(tmp_path: Path) -> None:
    """A read-only store lists the runs, refuses writes, and leaves the store file unchanged."""
    path = tmp_path / "ledger.db"
    ours(path)
    before = path.read_bytes()
    async with open_sqlite_store(path, read_only=True) as store:
        assert [run.workflow_id for run in await store.list_runs()] == ["r1"]
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            await store.create_run("r2", "w", {}, 1.0)
    assert path.read_bytes() == before


async def test_a_path_in_a_missing_folder_names_the_path(tmp_path: Path) -> None:
    """A store that cannot be created is a StoreFileError that names its path."""
    path = tmp_path / "no" / "such" / "folder.db"
    with pytest.raises(StoreFileError, match=r"folder\.db' cannot be created: unable to open"):
        async with open_sqlite_store(path):
            pass


async def test_read_only_sees_a_live_writers_commits(tmp_path: Path) -> None:
    """While another connection has the store open, a read-only one reads its latest commits."""
    path = tmp_path / "ledger.db"
    async with open_sqlite_store(path) as writer:
        await writer.create_run("r1", "w", {}, 1.0)
        async with open_sqlite_store(path, read_only=True) as reader:
            assert [run.workflow_id for run in await reader.list_runs()] == ["r1"]
            await writer.create_run("r2", "w", {}, 1.0)
            assert {run.workflow_id for run in await reader.list_runs()} == {"r1", "r2"}
