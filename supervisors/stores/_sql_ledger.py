"""The SQL both durable stores run, SQLite and PostgreSQL: runs, steps and leases.

Each function runs inside a write transaction its store opened, on a connection whose
``execute(sql, params)`` and ``executemany(sql, rows)`` take ``?`` placeholders and
return a cursor (``rowcount``, ``fetchone``, ``fetchall``). Times are the store's clock,
read by the caller: this machine's for SQLite, the database server's for PostgreSQL.

Leases: the ``owners`` table holds each owner's latest heartbeat and lease time, and a
run names its owner. One heartbeat is one row written, however many runs its owner
holds; a run is abandoned when its owner's ``heartbeat_at + lease_time`` has passed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._ledger import Status, StepRecord
from ._protocol import RUNNING, LeaseLostError, UnknownRunError

# A run nobody holds a live lease on (one parameter: the store's time now).
ABANDONED = (
    "(runs.owner_id IS NULL OR NOT EXISTS (SELECT 1 FROM owners WHERE owners.owner_id ="
    " runs.owner_id AND owners.heartbeat_at + owners.lease_time >= ?))"
)

INSERT_STEP = (
    "INSERT INTO steps (workflow_id, step, agent, status, started_at, ended_at, attempts,"
    " result, error, error_type) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def touch(
    connection: Any, workflow_id: str, assignments: str, *values: Any, owner: str | None = None
) -> None:
    """Update the run's row, or raise UnknownRunError when there is none.

    With ``owner``, only while ``owner`` holds the run (a fenced write), or raise
    LeaseLostError. The update locks the row, so a claim by another owner either
    comes first (and this matches nothing) or waits for this transaction.
    """
    fence, params = ("", ()) if owner is None else (" AND owner_id = ?", (owner,))
    cursor = connection.execute(
        f"UPDATE runs SET {assignments} WHERE workflow_id = ?{fence}",
        (*values, workflow_id, *params),
    )
    if cursor.rowcount == 0:
        if owner is not None and _exists(connection, workflow_id):
            raise LeaseLostError(workflow_id, owner)
        raise UnknownRunError(workflow_id)


def insert_steps(
    connection: Any, workflow_id: str, encoded: Sequence[tuple[StepRecord, str]]
) -> None:
    """Append step records, each with its result as JSON text."""
    if not encoded:
        return
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


def _exists(connection: Any, workflow_id: str) -> bool:
    row = connection.execute("SELECT 1 FROM runs WHERE workflow_id = ?", (workflow_id,))
    return row.fetchone() is not None


def beat(connection: Any, *, owner: str, lease_time: float, now: float) -> None:
    """Renew all of the owner's leases: one row, however many runs it holds."""
    connection.execute(
        "INSERT INTO owners (owner_id, heartbeat_at, lease_time) VALUES (?, ?, ?)"
        " ON CONFLICT (owner_id) DO UPDATE"
        " SET heartbeat_at = excluded.heartbeat_at, lease_time = excluded.lease_time",
        (owner, now, lease_time),
    )


def claim(
    connection: Any,
    *,
    workflow_id: str,
    owner: str,
    timeout: float,
    lease_time: float,
    now: float,
) -> bool:
    """Take a run's lease for a resume, unless another owner's lease on it is live."""
    # One statement: of two owners claiming at once, only one matches the WHERE.
    taken = connection.execute(
        "UPDATE runs SET owner_id = ?, cancel_requested = ?, status = ?, timeout = ?,"
        " resumes = resumes + 1, updated_at = ?, started_at = ?, response = NULL"
        f" WHERE workflow_id = ? AND status != ? AND (owner_id = ? OR {ABANDONED})",
        (owner, False, RUNNING, timeout, now, now, workflow_id, Status.SUCCESS, owner, now),
    ).rowcount
    if taken:
        beat(connection, owner=owner, lease_time=lease_time, now=now)
        return True
    if _exists(connection, workflow_id):
        return False
    raise UnknownRunError(workflow_id)


def release(connection: Any, *, workflow_id: str, owner: str) -> None:
    """Give up ``owner``'s lease on a run."""
    connection.execute(
        "UPDATE runs SET owner_id = NULL, cancel_requested = ?"
        " WHERE workflow_id = ? AND owner_id = ?",
        (False, workflow_id, owner),
    )


def heartbeat(connection: Any, *, owner: str, lease_time: float, now: float) -> frozenset[str]:
    """Renew all of the owner's leases in one row; return its runs asked to cancel."""
    beat(connection, owner=owner, lease_time=lease_time, now=now)
    rows = connection.execute(
        "SELECT workflow_id FROM runs WHERE owner_id = ? AND cancel_requested = ?",
        (owner, True),
    ).fetchall()
    return frozenset(workflow_id for (workflow_id,) in rows)


def claim_expired(
    connection: Any, *, owner: str, limit: int, now: float, lock: str = ""
) -> list[str]:
    """Give ``owner`` the leases of up to ``limit`` abandoned runs, oldest first.

    ``lock`` is what the select adds to keep two claimers apart where the transaction
    alone does not (PostgreSQL: ``FOR UPDATE SKIP LOCKED``; SQLite holds the file's
    write lock already).
    """
    rows = connection.execute(
        f"SELECT workflow_id FROM runs WHERE status = ? AND {ABANDONED}"
        f" ORDER BY created_at LIMIT ? {lock}",
        (RUNNING, now, limit),
    ).fetchall()
    taken = [workflow_id for (workflow_id,) in rows]
    if taken:
        connection.executemany(
            "UPDATE runs SET owner_id = ?, cancel_requested = ?, updated_at = ?"
            " WHERE workflow_id = ?",
            [(owner, False, now, workflow_id) for workflow_id in taken],
        )
    # Owners that died (or closed) and hold nothing are forgotten.
    connection.execute(
        "DELETE FROM owners WHERE heartbeat_at + lease_time < ?"
        " AND NOT EXISTS (SELECT 1 FROM runs WHERE runs.owner_id = owners.owner_id)",
        (now,),
    )
    return taken


def request_cancel(connection: Any, *, workflow_id: str) -> bool:
    """Mark a running run for cancelling; False when it has finished."""
    marked = connection.execute(
        "UPDATE runs SET cancel_requested = ? WHERE workflow_id = ? AND status = ?",
        (True, workflow_id, RUNNING),
    ).rowcount
    if marked:
        return True
    if _exists(connection, workflow_id):
        return False
    raise UnknownRunError(workflow_id)
