"""Reading runs and step records back from stored rows: checked, logged, never trusted.

The SQL stores (SQLite, PostgreSQL) share these readers: both have the same tables,
and both are read through a connection whose ``execute(sql, params)`` takes ``?``
placeholders and returns a cursor with ``fetchone`` and ``fetchall``.

A stored row can be damaged (a disk error, a hand edit, an older or foreign writer):
its JSON may not parse and its fields may have the wrong type. A damaged step row is
logged and left out, so its step counts as not completed and a resume runs it again;
logs name the run, the row's position and the field, never stored contents.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from typing import Any

import attrs

from .._ledger import StepRecord
from ._protocol import STATUSES, DamagedRunError, StoredRun

logger = logging.getLogger("supervisors.store")

RUN_COLUMNS = (
    "runs.workflow_id, workflow_type, {data}, timeout, status, response, created_at,"
    " updated_at, resumes, runs.owner_id, owners.heartbeat_at + owners.lease_time,"
    " cancel_requested, runs.started_at"
)
# A run's lease is its owner's: the owner's row says until when it holds.
RUNS_WITH_LEASES = "runs LEFT JOIN owners ON owners.owner_id = runs.owner_id"
STEP_COLUMNS = "step, agent, status, started_at, ended_at, attempts, result, error, error_type"


@attrs.frozen
class Dialect:
    """What differs between the SQL stores when reading.

    Attributes:
        order: The column that orders runs created at the same moment.
        errors: What the driver raises when a table cannot be read.
        data: Where a run's input is read from.
        runs: The tables a run is read from.
    """

    order: str = "runs.rowid"
    errors: tuple[type[Exception], ...] = (sqlite3.Error,)
    data: str = "runs.data"
    runs: str = RUNS_WITH_LEASES

    @property
    def run_columns(self) -> str:
        """The columns a run is read from, in :func:`_run_from_row`'s order."""
        return RUN_COLUMNS.format(data=self.data)


# SQLite keeps a run's input in run_data (since schema version 4; older runs in runs.data).
SQLITE = Dialect(
    data="COALESCE(run_data.data, runs.data)",
    runs=f"{RUNS_WITH_LEASES} LEFT JOIN run_data ON run_data.workflow_id = runs.workflow_id",
)


class _BadField(Exception):
    """A stored field that is missing, of the wrong type, or not JSON."""

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


def read_run(connection: Any, *, workflow_id: str, dialect: Dialect = SQLITE) -> StoredRun | None:
    """Return the stored run with this id, or None when there is none.

    Raises:
        DamagedRunError: the run's own row cannot be read (logged 'invalid_run_format').
    """
    row = connection.execute(
        f"SELECT {dialect.run_columns} FROM {dialect.runs} WHERE runs.workflow_id = ?",
        (workflow_id,),
    ).fetchone()
    if row is None:
        return None
    try:
        return _run_from_row(connection, row, dialect)
    except _BadField as bad:
        _log_damaged_run(workflow_id, bad.field)
        raise DamagedRunError(workflow_id, bad.field) from None


def read_runs(connection: Any, *, dialect: Dialect = SQLITE) -> list[StoredRun]:
    """Return every readable stored run, newest first; damaged ones are logged and skipped."""
    runs = []
    rows = connection.execute(
        f"SELECT {dialect.run_columns} FROM {dialect.runs}"
        f" ORDER BY created_at DESC, {dialect.order} DESC",
        (),
    ).fetchall()
    for row in rows:
        try:
            runs.append(_run_from_row(connection, row, dialect))
        except _BadField as bad:
            _log_damaged_run(row[0] if isinstance(row[0], str) else None, bad.field)
    return runs


def _log_damaged_run(workflow_id: str | None, field: str) -> None:
    logger.warning(
        "a stored run cannot be read back; leaving it out",
        extra={"error_type": "invalid_run_format", "workflow_id": workflow_id, "field": field},
    )


def _run_from_row(connection: Any, row: tuple[Any, ...], dialect: Dialect) -> StoredRun:
    """Return the run of a ``runs`` row with its steps, or raise _BadField."""
    (
        workflow_id,
        workflow_type,
        data,
        timeout,
        status,
        response,
        created_at,
        updated_at,
        resumes,
        owner,
        lease_expires_at,
        cancel_requested,
        started_at,
    ) = row
    workflow_id = _text(workflow_id, "workflow_id")
    workflow_type = _text(workflow_type, "workflow_type")
    if status not in STATUSES:
        field = "status"
        raise _BadField(field)
    data = _json(data, "data")
    decoded = None if response is None else _json(response, "response")
    if not (decoded is None or isinstance(decoded, dict)):
        field = "response"
        raise _BadField(field)
    return StoredRun(
        workflow_id=workflow_id,
        workflow_type=workflow_type,
        data=data,
        timeout=_number(timeout, "timeout"),
        status=status,
        records=_read_steps(connection, workflow_id, workflow_type, dialect),
        response=decoded,
        created_at=_number(created_at, "created_at"),
        updated_at=_number(updated_at, "updated_at"),
        resumes=_count(resumes, "resumes"),
        owner=None if owner is None else _text(owner, "owner_id"),
        lease_expires_at=None if lease_expires_at is None else _number(lease_expires_at, "lease"),
        cancel_requested=bool(cancel_requested),
        started_at=None if started_at is None else _number(started_at, "started_at"),
    )


def _read_steps(
    connection: Any, workflow_id: str, workflow_type: str, dialect: Dialect
) -> tuple[StepRecord, ...]:
    """Return the run's readable step records in the order written."""
    fields: dict[str, Any] = {"workflow_id": workflow_id, "workflow_type": workflow_type}
    try:
        rows = connection.execute(
            f"SELECT {STEP_COLUMNS} FROM steps WHERE workflow_id = ? ORDER BY id",
            (workflow_id,),
        ).fetchall()
    except dialect.errors as exc:
        logger.warning(
            "the run's step records cannot be read; treating every step as not completed",
            extra={
                **fields,
                "error_type": "invalid_steps_format",
                "exception_type": type(exc).__name__,
            },
        )
        return ()
    records = []
    for index, row in enumerate(rows):
        try:
            records.append(_step_from_row(row))
        except _BadField as bad:
            logger.warning(
                "malformed stored step record; treating it as not completed",
                extra={
                    **fields,
                    "error_type": "invalid_step_format",
                    "step_index": index,
                    "field": bad.field,
                },
            )
        except Exception as exc:  # whatever a damaged row provokes, its step is not completed
            logger.warning(
                "could not read a stored step record; treating it as not completed",
                extra={
                    **fields,
                    "error_type": "step_extraction_failed",
                    "step_index": index,
                    "exception_type": type(exc).__name__,
                },
            )
    return tuple(records)


def _step_from_row(row: tuple[Any, ...]) -> StepRecord:
    """Return the record of a ``steps`` row, or raise _BadField."""
    step, agent, status, started_at, ended_at, attempts, result, error, error_type = row
    try:
        value = json.loads(_text(result, "result"))
    except ValueError:  # JSONDecodeError; anything else is unexpected, and logged as such
        field = "result"
        raise _BadField(field) from None
    return StepRecord(
        step=_text(step, "step"),
        agent=_text(agent, "agent"),
        status=_text(status, "status"),
        started_at=_number(started_at, "started_at"),
        ended_at=_number(ended_at, "ended_at"),
        attempts=_count(attempts, "attempts"),
        result=value,
        error=None if error is None else _text(error, "error"),
        error_type=None if error_type is None else _text(error_type, "error_type"),
    )


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise _BadField(field)
    return value


def _json(value: Any, field: str) -> Any:
    try:
        return json.loads(_text(value, field))
    except (ValueError, RecursionError):  # the run's input or outcome: it is damaged
        raise _BadField(field) from None


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _BadField(field)
    return float(value)


def _count(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _BadField(field)
    return value
