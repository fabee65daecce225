"""Transactions on a store's connection, and the gate between a write and its waiter.

A write is one transaction, all of it committed or none; a read is one snapshot. A
waiter that gives up on a write (its deadline came) may do so only before the write's
COMMIT, so a write it gave up on has certainly not happened.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from typing import TypeVar

import trio

T = TypeVar("T")


def time_left() -> float:
    """Return the seconds left before the calling task's deadline (``math.inf``: none)."""
    return max(0.0, trio.current_effective_deadline() - trio.current_time())


class Abandoned(Exception):
    """Raised on the store's thread for a write whose waiter gave up before its commit."""


class CommitGate:
    """Decides, between a write's thread and its waiter, whether the write commits.

    The waiter may give up on a write up to the moment it commits, never after: so a
    write that raised StoreUnavailableError has certainly not happened.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = "open"

    def enter_commit(self) -> bool:
        """On the store's thread: return whether to commit (the waiter still waits)."""
        with self._lock:
            if self._state == "abandoned":
                return False
            self._state = "committing"
            return True

    def abandon(self) -> bool:
        """For the waiter: return whether the write was stopped before its commit."""
        with self._lock:
            if self._state == "committing":
                return False
            self._state = "abandoned"
            return True


def transaction(
    fn: Callable[[sqlite3.Connection], T],
    gate: CommitGate,
    connection: sqlite3.Connection,
) -> T:
    """Run ``fn`` in one write transaction: all of it is committed, or none."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        result = fn(connection)
        if not gate.enter_commit():  # its waiter gave up: roll back; nobody reads this
            raise Abandoned  # noqa: TRY301 (the rollback below is the point)
        connection.execute("COMMIT")
    except BaseException:
        connection.rollback()
        raise
    return result


def snapshot(fn: Callable[[sqlite3.Connection], T], connection: sqlite3.Connection) -> T:
    """Run ``fn`` in one read transaction, so a run and its steps are read as of one moment."""
    connection.execute("BEGIN")
    try:
        return fn(connection)
    finally:
        connection.rollback()
