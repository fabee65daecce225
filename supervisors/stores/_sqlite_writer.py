"""The SQLite store's connection: the thread it runs on, its lock waits and checkpoints."""

from __future__ import annotations

import logging
import math
import sqlite3
from collections.abc import Callable
from functools import partial
from typing import TypeVar

import trio

from ._protocol import RUNNING, LeaseLostError, StoreUnavailableError
from ._sql_thread import SqlThread
from ._sqlite_file import BUSY_TIMEOUT, Synchronous, connect, second_connection
from ._sqlite_tx import CommitGate, time_left, transaction

T = TypeVar("T")

# The least time a write gets, even past its deadline: the final commit of a run that
# timed out comes after its deadline, and must have a moment to land.
COMMIT_FLOOR = 0.025
# How much is written before the log is checkpointed (SQLite's own default: 1000 pages).
CHECKPOINT_BYTES = 4_000_000
# How long each background try of a commit that missed its deadline waits for the lock.
RETRY_BUSY_TIMEOUT = 0.1

logger = logging.getLogger("supervisors.store")


class SqliteConnection:
    """The connection a :class:`~supervisors.SqliteStore` writes through, and its threads.

    Every call runs on the connection in a thread of its own, one at a time in the
    order they came, so the trio thread never blocks on the disk and nothing else in
    the process can starve the ledger. A call waits for another connection's lock at
    most until the caller's deadline, then raises StoreUnavailableError.

    Args:
        path, synchronous, read_only: As for the store.
        threaded: False runs the SQL on the trio thread (the store's testing mode).
    """

    def __init__(
        self, path: str, *, synchronous: Synchronous, threaded: bool, read_only: bool
    ) -> None:
        self.path = path
        self.connection = connect(path, synchronous=synchronous, read_only=read_only)
        self.connection.text_factory = _decode_text
        self._busy_timeout = BUSY_TIMEOUT
        self.thread = SqlThread(f"sqlite-store {path}") if threaded else None
        # SQLite checkpoints the log in whichever commit finds it over 4 MB: that could
        # be a run's final commit at its deadline. Checkpoints run beside the writes
        # instead, on a connection and a thread of their own (a checkpoint of 4 MB takes
        # 20-50 ms, and a write of another connection need not wait for it).
        self.checkpoints: SqlThread | None = None
        self.checkpointer: sqlite3.Connection | None = None  # opened on that thread
        if self.thread is not None and not read_only:
            self.connection.execute("PRAGMA wal_autocheckpoint = 0")
            self.checkpoints = SqlThread(f"sqlite-store checkpoints {path}")
        self._unchecked = 0  # bytes written since the last checkpoint

    async def call(self, fn: Callable[[sqlite3.Connection], T], *, budget: float = math.inf) -> T:
        """Run ``fn`` on the connection on the store's thread, waiting for locks at most
        ``budget`` seconds (and the caller's deadline).

        Raises:
            StoreUnavailableError: another connection held the lock all that time.
        """
        budget = min(budget, time_left())
        job = partial(self.locked_call, fn, min(budget, BUSY_TIMEOUT))
        if self.thread is None:
            await trio.lowlevel.checkpoint_if_cancelled()
            result = job()
            await trio.lowlevel.cancel_shielded_checkpoint()  # a checkpoint, as the thread is
            return result
        return await self.thread.run(job)

    def locked_call(self, fn: Callable[[sqlite3.Connection], T], busy_timeout: float) -> T:
        # On the store's thread: the connection's busy timeout is the caller's time left.
        if busy_timeout != self._busy_timeout:
            self.connection.execute(f"PRAGMA busy_timeout = {round(busy_timeout * 1000)}")
            self._busy_timeout = busy_timeout
        try:
            return fn(self.connection)
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                raise
            raise StoreUnavailableError(self.path, busy_timeout) from exc

    async def write(
        self, fn: Callable[[sqlite3.Connection], T], *, budget: float = math.inf, size: int = 0
    ) -> T:
        """Run ``fn`` in one transaction, within the time left (at least COMMIT_FLOOR).

        The caller's cancellation does not interrupt it; its deadline bounds it.

        Raises:
            StoreUnavailableError: it could not commit in that time; nothing was written
                (the waiter gives up on a write only before its COMMIT; one under way by
                then is waited for: a commit takes milliseconds).
        """
        budget = max(min(budget, time_left()), COMMIT_FLOOR)
        gate = CommitGate()
        busy = min(budget, BUSY_TIMEOUT)
        job = partial(self.locked_call, partial(transaction, fn, gate), busy)
        if self.thread is None:
            result = job()
            await trio.lowlevel.cancel_shielded_checkpoint()  # a checkpoint, as the thread is
            return result
        call = self.thread.start(job)
        with trio.CancelScope(shield=True, deadline=trio.current_time() + budget) as scope:
            result = await self.thread.result(call)
        if scope.cancelled_caught:
            if gate.abandon():  # it never reached its COMMIT, and now never will
                raise StoreUnavailableError(self.path, budget)
            with trio.CancelScope(shield=True):  # its COMMIT is under way: it lands in moments
                result = await self.thread.result(call)
        self._wrote(size)
        return result

    def _wrote(self, size: int) -> None:
        """Count ``size`` bytes written; past CHECKPOINT_BYTES, checkpoint after the writes."""
        self._unchecked += size
        if self.checkpoints is not None and self._unchecked > CHECKPOINT_BYTES:
            self._unchecked = 0
            self.checkpoints.submit(self._checkpoint)

    def _checkpoint(self, last: bool) -> bool:
        # On the checkpoints' thread. PASSIVE: it never waits, for readers or writers.
        if self.checkpointer is None:
            self.checkpointer = second_connection(self.path)
        self.checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)")
        return True

    def close_checkpointer(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.close()

    def retry_final_commit(
        self,
        workflow_id: str,
        prepare: Callable[[], Callable[[sqlite3.Connection], None]],
        last: bool,
    ) -> bool:
        """Try a run's final commit again, on the store's thread; return whether it landed.

        ``prepare()`` makes the commit (encoding what was not encoded in time), outside
        any transaction.
        """
        finish = prepare()

        def finish_once(connection: sqlite3.Connection) -> None:
            # The try that missed its deadline may have landed after all: never twice.
            row = connection.execute(
                "SELECT status FROM runs WHERE workflow_id = ?", (workflow_id,)
            ).fetchone()
            if row is not None and row[0] == RUNNING:
                finish(connection)

        try:
            self.locked_call(partial(transaction, finish_once, CommitGate()), RETRY_BUSY_TIMEOUT)
        except LeaseLostError:
            logger.warning(
                "a run's outcome was not committed: another orchestrator took the run",
                extra={"error_type": "lease_lost", "workflow_id": workflow_id},
            )
            return True  # nothing left to try
        except StoreUnavailableError:
            if last:
                logger.warning(
                    "the store closed before a run's outcome could be committed; "
                    "it stays 'running' and can be resumed",
                    extra={"event_type": "commit_abandoned", "workflow_id": workflow_id},
                )
            return False
        logger.info(
            "a run's outcome was committed in the background",
            extra={"event_type": "commit_retried", "workflow_id": workflow_id},
        )
        return True

    async def aclose(self) -> None:
        """Close the connection (shielded): the last one to close checkpoints the log."""
        with trio.CancelScope(shield=True):
            if self.thread is None:
                self.connection.close()
                await trio.lowlevel.checkpoint()
                return
            if self.checkpoints is not None:
                await self.checkpoints.aclose(self.close_checkpointer)
            # Disk work: on the thread.
            await self.thread.aclose(self.connection.close)


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
