"""The SQLite ledger store: runs and step records in one file, each write one transaction."""

from __future__ import annotations

import logging
import math
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from functools import partial
from typing import Any, TypeVar

import trio

from .._ledger import StepRecord
from . import _sql_ledger as sql
from ._json_pieces import is_small
from ._json_values import encode_json, encode_json_in_pieces
from ._off_loop import Encoders
from ._protocol import (
    LEASE_TIME,
    RUNNING,
    Clock,
    StoredRun,
    StoreUnavailableError,
    check_lease_time,
    check_limit,
    check_outcome,
)
from ._response_text import RecordedResults, fill_in, response_skeleton
from ._run_pages import RunCursor, RunPage, check_page
from ._sqlite_file import Synchronous
from ._sqlite_pages import read_page
from ._sqlite_rows import read_run, read_runs
from ._sqlite_tx import snapshot
from ._sqlite_writer import COMMIT_FLOOR, SqliteConnection

T = TypeVar("T")

logger = logging.getLogger("supervisors.store")

# A step result whose JSON is longer is kept (as text, until its run ends) to go into the
# run's response as it is, not encoded again at the final commit.
KEEP_ENCODED_CHARS = 100_000
# The runs whose big results are kept at most: one that never finishes is forgotten.
KEEP_ENCODED_RUNS = 64


class SqliteStore:
    """A :class:`~supervisors.LedgerStore` in a SQLite file, via the standard library.

    The file is in WAL mode and every write is one transaction. With
    ``synchronous='NORMAL'`` (the default) a commit is in the operating system's hands
    when it returns: it survives the process being killed (SIGKILL included), and an
    operating-system crash or power loss can lose only the last commits, never leave
    the file inconsistent. ``'FULL'`` also syncs the log to disk on every commit, so
    commits survive power loss too, at the cost of one fsync per step.

    Every call runs on one connection in a thread that the store owns, one at a time
    in the order they came, so the trio thread never blocks on the disk and nothing else
    in the process (abandoned agent threads filling trio's thread limiter, say) can
    starve the ledger. A big value (more than ``_json_pieces.SMALL`` items) is encoded
    in a worker thread under a limiter of its own, a piece at a time, within the write's
    time. Open it
    with :func:`open_sqlite_store`, which closes it; several processes may share one
    file.

    A call waits for another connection's lock at most until the caller's deadline
    (a write gets at least :data:`COMMIT_FLOOR` seconds; ``create_run`` and ``claim`` at
    most the run's timeout), then raises :class:`~supervisors.StoreUnavailableError`. When
    ``finish_run`` misses its deadline, the store keeps trying that commit in the
    background until it lands or the store closes; a run whose outcome never landed
    stays 'running' and can be resumed.

    Args:
        path: The database file; created with its tables when the path does not exist.
            A file that is there must be a ledger store (see below).
        synchronous: 'NORMAL' or 'FULL', as above.
        clock: The wall clock for ``created_at``, ``updated_at`` and leases.
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
        self._closed = False
        self._db = SqliteConnection(
            self.path, synchronous=synchronous, threaded=threaded, read_only=read_only
        )
        self._thread = self._db.thread
        # Big values are encoded in a worker thread, a piece at a time, neither on the
        # trio thread nor in the way of the SQL of other runs.
        self._encoders = Encoders(self.path) if threaded else None
        self._recorded: dict[str, RecordedResults] = {}  # big results' text, by run

    def __repr__(self) -> str:
        return f"SqliteStore({self.path!r})"

    def _check_open(self) -> None:
        if self._closed:
            msg = f"the ledger store {self.path!r} is closed"
            raise RuntimeError(msg)

    async def _call(self, fn: Callable[[sqlite3.Connection], T], *, budget: float = math.inf) -> T:
        """Run ``fn`` on the connection (see :meth:`SqliteConnection.call`)."""
        self._check_open()
        return await self._db.call(fn, budget=budget)

    async def _write(
        self, fn: Callable[[sqlite3.Connection], T], *, budget: float = math.inf, size: int = 0
    ) -> T:
        """Run ``fn`` in one transaction (see :meth:`SqliteConnection.write`)."""
        self._check_open()
        return await self._db.write(fn, budget=budget, size=size)

    async def _encode(
        self, value: Any, what: str, *, allow_nan: bool = False, budget: float = math.inf
    ) -> str:
        """Return ``value`` as JSON text; a big value is encoded off the trio thread.

        Raises:
            TypeError, ValueError: ``value`` is not JSON (see ``encode_json``).
            StoreUnavailableError: a big value could not be encoded in the time left
                (at least COMMIT_FLOOR, at most ``budget``); nothing was written.
        """
        if self._encoders is None:
            return encode_json(value, what, allow_nan=allow_nan)
        return await self._encoders.encode(value, what, allow_nan=allow_nan, budget=budget)

    def _keep_encoded(self, workflow_id: str, result: Any, text: str) -> None:
        if len(text) <= KEEP_ENCODED_CHARS:
            return
        recorded = self._recorded.get(workflow_id)
        if recorded is None:
            if len(self._recorded) >= KEEP_ENCODED_RUNS:
                del self._recorded[next(iter(self._recorded))]  # the oldest run
            recorded = self._recorded[workflow_id] = RecordedResults()
        recorded.add(result, text)

    async def create_run(
        self,
        workflow_id: str,
        workflow_type: str,
        data: Any,
        timeout: float,
        *,
        owner: str | None = None,
        lease_time: float = LEASE_TIME,
    ) -> None:
        """Store a new run; see :meth:`~supervisors.LedgerStore.create_run`."""
        self._check_open()
        text = await self._encode(data, "workflow data", budget=timeout)
        now = self._clock()
        lease_time = check_lease_time(lease_time)

        def create(connection: sqlite3.Connection) -> None:
            try:
                connection.execute(
                    "INSERT INTO runs (workflow_id, workflow_type, data, timeout, status,"
                    " created_at, updated_at, owner_id, started_at)"
                    " VALUES (?, ?, '', ?, ?, ?, ?, ?, ?)",
                    (workflow_id, workflow_type, timeout, RUNNING, now, now, owner, now),
                )
            except sqlite3.IntegrityError as exc:
                msg = f"a run with workflow_id {workflow_id!r} is already stored"
                raise ValueError(msg) from exc
            # Beside the run's row, which each step's commit rewrites whole: see RUN_DATA.
            connection.execute(
                "INSERT INTO run_data (workflow_id, data) VALUES (?, ?)", (workflow_id, text)
            )
            if owner is not None:
                sql.beat(connection, owner=owner, lease_time=lease_time, now=now)

        await self._write(create, budget=timeout, size=len(text))

    async def record_step(
        self, workflow_id: str, record: StepRecord, *, owner: str | None = None
    ) -> None:
        """Append a step record; see :meth:`~supervisors.LedgerStore.record_step`."""
        self._check_open()
        result = await self._encode(record.result, f"the result of step {record.step!r}")
        self._keep_encoded(workflow_id, record.result, result)
        now = self._clock()

        def write(connection: sqlite3.Connection) -> None:
            sql.touch(connection, workflow_id, "updated_at = ?", now, owner=owner)
            sql.insert_steps(connection, workflow_id, [(record, result)])

        await self._write(write, size=len(result))

    async def finish_run(
        self,
        workflow_id: str,
        *,
        outcome: str,
        response: Mapping[str, Any],
        records: Sequence[StepRecord] = (),
        owner: str | None = None,
    ) -> None:
        """Store how the run ended; see :meth:`~supervisors.LedgerStore.finish_run`."""
        self._check_open()
        check_outcome(outcome)
        if not isinstance(response, Mapping):
            msg = f"a run's response must be a dict, got {type(response).__name__}"
            raise TypeError(msg)
        # The big results committed with their steps go in as the text they were then.
        skeleton, texts = response_skeleton(
            response, self._recorded.pop(workflow_id, RecordedResults())
        )
        now = self._clock()

        def encode(*, stopped: Callable[[], bool]) -> tuple[list[tuple[StepRecord, str]], str]:
            encoded = [
                (
                    record,
                    encode_json_in_pieces(
                        record.result, f"the result of step {record.step!r}", stopped=stopped
                    ),
                )
                for record in records
            ]
            text = encode_json_in_pieces(
                dict(skeleton), "the run's response", allow_nan=True, stopped=stopped
            )
            return encoded, fill_in(text, texts)

        def finish(
            encoded: list[tuple[StepRecord, str]], text: str, connection: sqlite3.Connection
        ) -> None:
            sql.insert_steps(connection, workflow_id, encoded)
            sql.touch(
                connection,
                workflow_id,
                "status = ?, response = ?, updated_at = ?, owner_id = NULL, cancel_requested = 0",
                outcome,
                text,
                now,
                owner=owner,
            )

        small = is_small(skeleton) and all(is_small(record.result) for record in records)
        try:
            if small or self._encoders is None:
                encoded, text = encode(stopped=_never)
            else:
                encoded, text = await self._encoders.run(encode)
        except StoreUnavailableError:
            # Not encoded in time: the background commit encodes it (a piece at a time).
            assert self._thread is not None

            def prepare() -> Callable[[sqlite3.Connection], None]:
                return partial(finish, *encode(stopped=_never))

            self._thread.submit(partial(self._db.retry_final_commit, workflow_id, prepare))
            raise
        try:
            await self._write(
                partial(finish, encoded, text), size=len(text) + sum(len(r) for _, r in encoded)
            )
        except StoreUnavailableError:
            if self._thread is not None:
                ready = partial(finish, encoded, text)
                self._thread.submit(
                    partial(self._db.retry_final_commit, workflow_id, lambda: ready)
                )
            raise

    async def load_run(self, workflow_id: str) -> StoredRun | None:
        """Return the run, or None; see :meth:`~supervisors.LedgerStore.load_run`."""
        self._check_open()
        return await self._call(partial(snapshot, partial(read_run, workflow_id=workflow_id)))

    async def list_runs(self) -> list[StoredRun]:
        """Return every readable run, newest first; see the ``LedgerStore`` protocol."""
        self._check_open()
        return await self._call(partial(snapshot, read_runs))

    async def page_runs(
        self, *, status: str | None = None, limit: int = 50, before: RunCursor | None = None
    ) -> RunPage:
        """Return a page of runs, newest first; see the ``LedgerStore`` protocol."""
        self._check_open()
        check_page(status, limit, before)
        return await self._call(
            partial(snapshot, partial(read_page, status=status, limit=limit, before=before))
        )

    async def claim(
        self, workflow_id: str, owner: str, *, timeout: float, lease_time: float = LEASE_TIME
    ) -> bool:
        """Take a run's lease for a resume; see :meth:`~supervisors.LedgerStore.claim`."""
        self._check_open()
        self._recorded.pop(workflow_id, None)  # running again: nothing of before is reused
        lease_time, now = check_lease_time(lease_time), self._clock()
        claim = partial(
            sql.claim,
            workflow_id=workflow_id,
            owner=owner,
            timeout=timeout,
            lease_time=lease_time,
            now=now,
        )
        return await self._write(claim, budget=timeout)

    async def release(self, workflow_id: str, owner: str) -> None:
        """Give up a lease; see :meth:`~supervisors.LedgerStore.release`.

        It runs as a run or a resume ends, often shielded from every deadline: it waits
        for a locked store at most :data:`COMMIT_FLOOR`, then gives up with a warning
        (event_type 'release_failed'); the lease lapses on its own.
        """
        self._check_open()
        try:
            await self._write(
                partial(sql.release, workflow_id=workflow_id, owner=owner), budget=COMMIT_FLOOR
            )
        except StoreUnavailableError:
            logger.warning(
                "could not release a run's lease in time; it lapses on its own",
                extra={"event_type": "release_failed", "workflow_id": workflow_id},
            )

    async def heartbeat(self, owner: str, *, lease_time: float = LEASE_TIME) -> frozenset[str]:
        """Renew the owner's leases; see :meth:`~supervisors.LedgerStore.heartbeat`."""
        self._check_open()
        lease_time = check_lease_time(lease_time)
        return await self._write(
            partial(sql.heartbeat, owner=owner, lease_time=lease_time, now=self._clock())
        )

    async def claim_expired(self, owner: str, *, limit: int = 100) -> list[str]:
        """Take abandoned runs; see :meth:`~supervisors.LedgerStore.claim_expired`."""
        self._check_open()
        limit = check_limit(limit)
        # The write lock (BEGIN IMMEDIATE) makes its select and update one step.
        return await self._write(
            partial(sql.claim_expired, owner=owner, limit=limit, now=self._clock())
        )

    async def request_cancel(self, workflow_id: str) -> bool:
        """Mark a run for cancelling; see the ``LedgerStore`` protocol."""
        self._check_open()
        return await self._write(partial(sql.request_cancel, workflow_id=workflow_id))

    async def now(self) -> float:
        """Return the store's clock: this machine's, where every user of the file runs."""
        self._check_open()
        await trio.lowlevel.checkpoint()
        return self._clock()

    async def aclose(self) -> None:
        """Close the connection; see :meth:`~supervisors.LedgerStore.aclose`.

        A commit still being retried in the background gets one last try first.
        """
        if self._closed:
            await trio.lowlevel.checkpoint()
            return
        self._closed = True
        # A commit still being retried gets its last try as the store's thread closes.
        await self._db.aclose()


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
    # Opening reads and maybe creates the file: off the trio thread, on a thread of
    # its own (never trio's shared limiter, which abandoned agent threads may fill).
    store = await trio.to_thread.run_sync(
        partial(
            SqliteStore,
            path,
            synchronous=synchronous,
            clock=clock,
            threaded=threaded,
            read_only=read_only,
        ),
        limiter=trio.CapacityLimiter(1),
    )
    try:
        yield store
    finally:
        await store.aclose()


def _never() -> bool:
    return False
