"""The PostgreSQL ledger store: runs, steps and leases shared by orchestrators on many machines.

Needs the ``postgres`` extra (psycopg 3). psycopg's async API is for asyncio only, so the
store runs psycopg's blocking API on a thread of its own (:class:`SqlThread`), one
call at a time, on one connection: never on trio's default thread limiter.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

import trio

from .._ledger import StepRecord
from . import _sql_ledger as sql
from ._json_values import encode_json, encode_response, encode_result
from ._postgres_database import Qmark, connect, host_of, snapshot, transaction
from ._protocol import (
    LEASE_TIME,
    RUNNING,
    Clock,
    StoredRun,
    check_lease_time,
    check_limit,
    check_outcome,
)
from ._run_pages import RunCursor, RunPage, check_page
from ._sql_thread import SqlThread
from ._sqlite_pages import read_page
from ._sqlite_rows import Dialect, read_run, read_runs

if TYPE_CHECKING:
    import psycopg

T = TypeVar("T")


class PostgresStore:
    """A :class:`~supervisors.LedgerStore` in a PostgreSQL database, via psycopg 3.

    Every write is one transaction, committed when the call returns. Orchestrators in
    many processes, on many machines, may share one database: claims are single
    statements (or rows locked with ``SKIP LOCKED``), so each run has one owner, and
    lease expiry is judged by the database server's clock, never a client's.

    The tables live in the ``mira_actors`` schema, created with a version record on
    first use. A ``mira_actors`` schema without that record, or of another version, is
    refused (:class:`ForeignDatabaseError`) and left untouched. Open it with
    :func:`open_postgres_store`, which closes it.

    Args:
        url: A libpq connection string or URL, ``postgresql://user@host:port/dbname``.
        clock: None (the default) reads the database server's clock; tests pass a
            fake wall clock instead.
        read_only: Read only: a database with no ledger is refused, not given one, and
            every write fails.
    """

    def __init__(self, url: str, *, clock: Clock | None = None, read_only: bool = False) -> None:
        self.url = url
        self._clock = clock
        self._read_only = read_only
        self._closed = False
        self._connection: psycopg.Connection[Any] | None = None
        self._thread = SqlThread(f"mira-actors postgres store {host_of(url)}")

    def __repr__(self) -> str:
        return f"PostgresStore({host_of(self.url)!r})"

    async def _open(self) -> None:
        self._connection = await self._thread.run(
            partial(connect, self.url, read_only=self._read_only)
        )

    def _check_open(self) -> None:
        if self._closed:
            msg = f"the ledger store {self!r} is closed"
            raise RuntimeError(msg)

    async def _call(self, fn: Callable[[Qmark], T], *, write: bool) -> T:
        self._check_open()
        connection = self._connection
        assert connection is not None, "opened by open_postgres_store"
        qmark = Qmark(connection)
        call = partial(transaction if write else snapshot, fn, connection, qmark)
        if not write:
            return await self._thread.run(call)  # a cancelled read stops waiting at once
        # A write is not cancellable once called: a step that finished just before a
        # deadline is still committed.
        with trio.CancelScope(shield=True):
            result = await self._thread.run(call)
        return result

    def _now(self, connection: Qmark) -> float:
        if self._clock is not None:
            return self._clock()
        row = connection.execute("SELECT extract(epoch FROM clock_timestamp())::float8", ())
        [now] = row.fetchall()
        return float(now[0])

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
        text = encode_json(data, "workflow data")
        lease_time = check_lease_time(lease_time)

        def create(connection: Qmark) -> None:
            now = self._now(connection)
            inserted = connection.execute(
                "INSERT INTO runs (workflow_id, workflow_type, data, timeout, status,"
                " created_at, updated_at, owner_id, started_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (workflow_id) DO NOTHING",
                (workflow_id, workflow_type, text, timeout, RUNNING, now, now, owner, now),
            ).rowcount
            if not inserted:
                msg = f"a run with workflow_id {workflow_id!r} is already stored"
                raise ValueError(msg)
            if owner is not None:
                sql.beat(connection, owner=owner, lease_time=lease_time, now=now)

        await self._call(create, write=True)

    async def record_step(
        self, workflow_id: str, record: StepRecord, *, owner: str | None = None
    ) -> None:
        """Append a step record; see :meth:`~supervisors.LedgerStore.record_step`."""
        self._check_open()
        result = encode_result(record)

        def write(connection: Qmark) -> None:
            now = self._now(connection)
            sql.touch(connection, workflow_id, "updated_at = ?", now, owner=owner)
            sql.insert_steps(connection, workflow_id, [(record, result)])

        await self._call(write, write=True)

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
        encoded = [(record, encode_result(record)) for record in records]
        text = encode_response(response)

        def finish(connection: Qmark) -> None:
            sql.touch(
                connection,
                workflow_id,
                "status = ?, response = ?, updated_at = ?, owner_id = NULL,"
                " cancel_requested = FALSE",
                outcome,
                text,
                self._now(connection),
                owner=owner,
            )
            sql.insert_steps(connection, workflow_id, encoded)

        await self._call(finish, write=True)

    async def load_run(self, workflow_id: str) -> StoredRun | None:
        """Return the run, or None; see :meth:`~supervisors.LedgerStore.load_run`."""
        return await self._call(
            partial(read_run, workflow_id=workflow_id, dialect=POSTGRES), write=False
        )

    async def list_runs(self) -> list[StoredRun]:
        """Return every readable run, newest first; see the ``LedgerStore`` protocol."""
        return await self._call(partial(read_runs, dialect=POSTGRES), write=False)

    async def page_runs(
        self, *, status: str | None = None, limit: int = 50, before: RunCursor | None = None
    ) -> RunPage:
        """Return a page of runs, newest first, by an index walk; see ``LedgerStore``."""
        check_page(status, limit, before)
        page = partial(read_page, status=status, limit=limit, before=before)
        return await self._call(page, write=False)

    async def claim(
        self, workflow_id: str, owner: str, *, timeout: float, lease_time: float = LEASE_TIME
    ) -> bool:
        """Take a run's lease for a resume; see :meth:`~supervisors.LedgerStore.claim`."""
        lease_time = check_lease_time(lease_time)

        def claim(connection: Qmark) -> bool:
            now = self._now(connection)
            return sql.claim(
                connection,
                workflow_id=workflow_id,
                owner=owner,
                timeout=timeout,
                lease_time=lease_time,
                now=now,
            )

        return await self._call(claim, write=True)

    async def release(self, workflow_id: str, owner: str) -> None:
        """Give up a lease; see :meth:`~supervisors.LedgerStore.release`."""
        await self._call(partial(sql.release, workflow_id=workflow_id, owner=owner), write=True)

    async def heartbeat(self, owner: str, *, lease_time: float = LEASE_TIME) -> frozenset[str]:
        """Renew the owner's leases; see :meth:`~supervisors.LedgerStore.heartbeat`."""
        lease_time = check_lease_time(lease_time)

        def beat(connection: Qmark) -> frozenset[str]:
            now = self._now(connection)
            return sql.heartbeat(connection, owner=owner, lease_time=lease_time, now=now)

        return await self._call(beat, write=True)

    async def claim_expired(self, owner: str, *, limit: int = 100) -> list[str]:
        """Take abandoned runs; see :meth:`~supervisors.LedgerStore.claim_expired`."""
        limit = check_limit(limit)

        def take(connection: Qmark) -> list[str]:
            # SKIP LOCKED: claimers running at once take different runs, and never wait.
            now = self._now(connection)
            return sql.claim_expired(
                connection, owner=owner, limit=limit, now=now, lock="FOR UPDATE SKIP LOCKED"
            )

        return await self._call(take, write=True)

    async def request_cancel(self, workflow_id: str) -> bool:
        """Mark a run for cancelling; see the ``LedgerStore`` protocol."""
        return await self._call(partial(sql.request_cancel, workflow_id=workflow_id), write=True)

    async def now(self) -> float:
        """Return the store's clock: the database server's, unless a clock was given."""
        return await self._call(self._now, write=False)

    async def aclose(self) -> None:
        """Close the connection and end the store's thread; see the ``LedgerStore`` protocol."""
        if self._closed:
            await trio.lowlevel.checkpoint()
            return
        self._closed = True
        connection = self._connection
        with trio.CancelScope(shield=True):
            await self._thread.aclose(_nothing if connection is None else connection.close)


POSTGRES = Dialect(order="runs.seq", errors=())


@asynccontextmanager
async def open_postgres_store(
    url: str, *, clock: Clock | None = None, read_only: bool = False
) -> AsyncIterator[PostgresStore]:
    """Open a :class:`PostgresStore` on the database at ``url`` and close it on exit.

    Usage::

        async with open_postgres_store("postgresql://mira@db.internal/mira") as store:
            orchestrator = OrchestratorAgent(store=store)

    Raises:
        ImportError: the ``postgres`` extra is not installed.
        ForeignDatabaseError: the database's ``mira_actors`` schema is not this ledger's.
        ConnectionError: the database cannot be reached.
    """
    store = PostgresStore(url, clock=clock, read_only=read_only)
    try:
        await store._open()
        yield store
    finally:
        await store.aclose()


def _nothing() -> None:
    pass
