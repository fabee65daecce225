"""The SQLite ledger store: runs and step records in one file, each write one transaction."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from functools import partial
from typing import Any, TypeVar

import trio

from ._ledger import SUCCESS, StepRecord
from ._sqlite_file import Synchronous, connect
from ._sqlite_rows import read_run, read_runs
from ._store import (
    RUNNING,
    Clock,
    StoredRun,
    UnknownRunError,
    check_outcome,
    claim_until,
    encode_json,
    encode_response,
    encode_result,
)

T = TypeVar("T")

INSERT_STEP = (
    "INSERT INTO steps (workflow_id, step, agent, status, started_at, ended_at, attempts,"
    " result, error, error_type) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


class SqliteStore:
    """A :class:`~supervisors._store.LedgerStore` in a SQLite file, via the standard library.

    The file is in WAL mode and every write is one transaction. With
    ``synchronous='NORMAL'`` (the default) a commit is in the operating system's hands
    when it returns: it survives the process being killed (SIGKILL included), and an
    operating-system crash or power loss can lose only the last commits, never leave
    the file inconsistent. ``'FULL'`` also syncs the log to disk on every commit, so
    commits survive power loss too, at the cost of one fsync per step.

    Every call runs on one connection in a worker thread, one at a time (a
    ``trio.Lock``), so the trio thread never blocks on the disk. Open it with
    :func:`open_sqlite_store`, which closes it; several processes may share one file.

    Args:
        path: The database file; created with its tables when the path does not exist.
            A file that is there must be a ledger store (see below).
        synchronous: 'NORMAL' or 'FULL', as above.
        clock: The wall clock for ``created_at``, ``updated_at`` and claims.
        threaded: False runs the SQL on the trio thread instead: the testing mode, for
            tests on trio's autojump clock (which jumps ahead while a worker thread
            commits, so virtual deadlines would fire at random).
        read_only: Open an existing store for reading only: nothing in or beside the
            file is created or changed, and every write fails.

    Raises:
        StoreFileError: the file is not a ledger store of ours (another application's
            database, an empty or damaged file, a newer schema, a table missing), or it
            cannot be opened or created. The file is left as it was.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: Synchronous = "NORMAL",
        clock: Clock = time.time,
        threaded: bool = True,
        read_only: bool = False,
    ) -> None:
        if synchronous not in ("NORMAL", "FULL"):
            msg = f"synchronous must be 'NORMAL' or 'FULL', got {synchronous!r}"
            raise ValueError(msg)
        self.path = os.fspath(path)
        self._clock = clock
        self._threaded = threaded
        self._lock = trio.Lock()
        self._closed = False
        self._connection = connect(self.path, synchronous=synchronous, read_only=read_only)
        self._connection.text_factory = _decode_text

    def __repr__(self) -> str:
        return f"SqliteStore({self.path!r})"

    def _check_open(self) -> None:
        if self._closed:
            msg = f"the ledger store {self.path!r} is closed"
            raise RuntimeError(msg)

    async def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` on the connection in a worker thread, one call at a time."""
        async with self._lock:
            self._check_open()
            if self._threaded:
                return await trio.to_thread.run_sync(fn, self._connection)
            await trio.lowlevel.checkpoint_if_cancelled()
            result = fn(self._connection)
        await trio.lowlevel.cancel_shielded_checkpoint()  # a checkpoint, as the thread is
        return result

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` in one transaction; it is not cancellable once called."""
        # A step that completed as the deadline fired is still written: the wait is for
        # at most a few commits, well under a millisecond each.
        with trio.CancelScope(shield=True):
            result = await self._call(partial(_transaction, fn))
        return result

    async def create_run(
        self, workflow_id: str, workflow_type: str, data: Any, timeout: float
    ) -> None:
        """Store a new run; see :meth:`~supervisors._store.LedgerStore.create_run`."""
        self._check_open()
        text, now = encode_json(data, "workflow data"), self._clock()

        def create(connection: sqlite3.Connection) -> None:
            try:
                connection.execute(
                    "INSERT INTO runs (workflow_id, workflow_type, data, timeout, status,"
                    " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (workflow_id, workflow_type, text, timeout, RUNNING, now, now),
                )
            except sqlite3.IntegrityError as exc:
                msg = f"a run with workflow_id {workflow_id!r} is already stored"
                raise ValueError(msg) from exc

        await self._write(create)

    async def record_step(self, workflow_id: str, record: StepRecord) -> None:
        """Append a step record; see :meth:`~supervisors._store.LedgerStore.record_step`."""
        self._check_open()
        result, now = encode_result(record), self._clock()

        def write(connection: sqlite3.Connection) -> None:
            _touch(connection, workflow_id, "updated_at = ?", now)
            _insert_steps(connection, workflow_id, [(record, result)])

        await self._write(write)

    async def finish_run(
        self,
        workflow_id: str,
        *,
        outcome: str,
        response: Mapping[str, Any],
        records: Sequence[StepRecord] = (),
    ) -> None:
        """Store how the run ended; see :meth:`~supervisors._store.LedgerStore.finish_run`."""
        self._check_open()
        check_outcome(outcome)
        encoded = [(record, encode_result(record)) for record in records]
        text, now = encode_response(response), self._clock()

        def finish(connection: sqlite3.Connection) -> None:
            _insert_steps(connection, workflow_id, encoded)
            _touch(
                connection,
                workflow_id,
                "status = ?, response = ?, updated_at = ?",
                outcome,
                text,
                now,
            )

        await self._write(finish)

    async def load_run(self, workflow_id: str) -> StoredRun | None:
        """Return the run, or None; see :meth:`~supervisors._store.LedgerStore.load_run`."""
        self._check_open()
        return await self._call(partial(_snapshot, partial(read_run, workflow_id=workflow_id)))

    async def list_runs(self) -> list[StoredRun]:
        """Return every readable run, newest first; see the ``LedgerStore`` protocol."""
        self._check_open()
        return await self._call(partial(_snapshot, read_runs))

    async def claim(self, workflow_id: str, owner: str, *, timeout: float) -> bool:
        """Take a run for a resume; see :meth:`~supervisors._store.LedgerStore.claim`."""
        self._check_open()
        now = self._clock()

        def claim(connection: sqlite3.Connection) -> bool:
            # One statement: of two owners claiming at once, only one matches the WHERE.
            taken = connection.execute(
                "UPDATE runs SET claimed_by = ?, claimed_until = ?, status = ?, timeout = ?,"
                " resumes = resumes + 1, updated_at = ?, response = NULL"
                " WHERE workflow_id = ? AND status != ?"
                " AND (claimed_by IS NULL OR claimed_by = ? OR claimed_until < ?)",
                (
                    owner,
                    claim_until(now, timeout),
                    RUNNING,
                    timeout,
                    now,
                    workflow_id,
                    SUCCESS,
                    owner,
                    now,
                ),
            ).rowcount
            if taken:
                return True
            if connection.execute(
                "SELECT 1 FROM runs WHERE workflow_id = ?", (workflow_id,)
            ).fetchone():
                return False
            raise UnknownRunError(workflow_id)

        return await self._write(claim)

    async def release(self, workflow_id: str, owner: str) -> None:
        """Give up a claim; see :meth:`~supervisors._store.LedgerStore.release`."""
        self._check_open()

        def release(connection: sqlite3.Connection) -> None:
            connection.execute(
                "UPDATE runs SET claimed_by = NULL, claimed_until = NULL"
                " WHERE workflow_id = ? AND claimed_by = ?",
                (workflow_id, owner),
            )

        await self._write(release)

    async def aclose(self) -> None:
        """Close the connection; see :meth:`~supervisors._store.LedgerStore.aclose`."""
        with trio.CancelScope(shield=True):
            async with self._lock:
                if not self._closed:
                    self._closed = True
                    # The last connection to close checkpoints the log: disk work.
                    await trio.to_thread.run_sync(self._connection.close)


@asynccontextmanager
async def open_sqlite_store(
    path: str | os.PathLike[str],
    *,
    synchronous: Synchronous = "NORMAL",
    clock: Clock = time.time,
    threaded: bool = True,
    read_only: bool = False,
) -> AsyncIterator[SqliteStore]:
    """Open a :class:`SqliteStore` on ``path`` and close it on exit.

    Raises StoreFileError for a file that is not a ledger store (see :class:`SqliteStore`).

    Usage::

        async with open_sqlite_store("runs.db") as store:
            await store.create_run(run_id, "project_initialization", data, 30.0)
    """
    store = await trio.to_thread.run_sync(
        partial(
            SqliteStore,
            path,
            synchronous=synchronous,
            clock=clock,
            threaded=threaded,
            read_only=read_only,
        )
    )
    try:
        yield store
    finally:
        await store.aclose()


class _Undecodable:
    """Stands for stored text that is not UTF-8, so the row's check rejects it."""

    def __repr__(self) -> str:
        return "<undecodable text>"


UNDECODABLE = _Undecodable()


def _decode_text(raw: bytes) -> str | _Undecodable:
    # sqlite3 would raise from the cursor for the whole query; one damaged value must
    # cost only its own row.
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return UNDECODABLE


def _transaction(fn: Callable[[sqlite3.Connection], T], connection: sqlite3.Connection) -> T:
    """Run ``fn`` in one write transaction: all of it is committed, or none."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        result = fn(connection)
        connection.execute("COMMIT")
    except BaseException:
        connection.rollback()
        raise
    return result


def _snapshot(fn: Callable[[sqlite3.Connection], T], connection: sqlite3.Connection) -> T:
    """Run ``fn`` in one read transaction, so a run and its steps are read as of one moment."""
    connection.execute("BEGIN")
    try:
        return fn(connection)
    finally:
        connection.rollback()


def _touch(
    connection: sqlite3.Connection, workflow_id: str, assignments: str, *values: Any
) -> None:
    """Update the run's row, or raise UnknownRunError when there is none."""
    cursor = connection.execute(
        f"UPDATE runs SET {assignments} WHERE workflow_id = ?", (*values, workflow_id)
    )
    if cursor.rowcount == 0:
        raise UnknownRunError(workflow_id)


def _insert_steps(
    connection: sqlite3.Connection, workflow_id: str, encoded: Sequence[tuple[StepRecord, str]]
) -> None:
    connection.executemany(
        INSERT_STEP,
        [
            (
                workflow_id,
                r.step,
                r.agent,
                r.status,
                r.started_at,
                r.ended_at,
                r.attempts,
                result,
                r.error,
                r.error_type,
            )
            for r, result in encoded
        ],
    )
