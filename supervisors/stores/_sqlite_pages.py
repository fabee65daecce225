"""Pages of run summaries from SQLite: an index walk from the cursor, never a table scan."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from .._ledger import Status
from ._protocol import STATUSES
from ._run_pages import RunCursor, RunPage, RunSummary, make_page

logger = logging.getLogger("supervisors.store")

# Both serve ORDER BY created_at DESC, workflow_id DESC from the cursor on: the first
# for every run, the second for the runs of one status.
INDEXES = """
CREATE INDEX IF NOT EXISTS runs_by_age ON runs (created_at, workflow_id);
CREATE INDEX IF NOT EXISTS runs_by_status_age ON runs (status, created_at, workflow_id);
"""

SUMMARY_COLUMNS = "workflow_id, workflow_type, status, timeout, created_at, updated_at, resumes"


def read_page(
    connection: sqlite3.Connection,
    *,
    status: str | None,
    limit: int,
    before: RunCursor | None,
) -> RunPage:
    """Return the page of run summaries just older than ``before``, newest first."""
    where: list[str] = []
    values: list[object] = []
    if status is not None:
        where.append("status = ?")
        values.append(status)
    if before is not None:
        where.append("(created_at, workflow_id) < (?, ?)")
        values.extend((before.created_at, before.workflow_id))
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    rows = connection.execute(
        f"SELECT {SUMMARY_COLUMNS} FROM runs {clause}"
        " ORDER BY created_at DESC, workflow_id DESC LIMIT ?",
        (*values, limit + 1),
    ).fetchall()
    shown = rows[:limit]
    done = _steps_done(connection, [row[0] for row in shown])
    runs = []
    for row in shown:
        summary = _summary(row, done)
        if summary is None:
            logger.warning(
                "a stored run cannot be read back; leaving it out",
                extra={
                    "error_type": "invalid_run_format",
                    "workflow_id": row[0] if isinstance(row[0], str) else None,
                },
            )
        else:
            runs.append(summary)
    return make_page(runs, more=len(rows) > limit)


def _steps_done(connection: sqlite3.Connection, workflow_ids: list[Any]) -> dict[Any, int]:
    """How many 'success' step records each run has (by the steps_by_run index)."""
    if not workflow_ids:
        return {}
    marks = ", ".join("?" * len(workflow_ids))
    rows = connection.execute(
        f"SELECT workflow_id, COUNT(*) FROM steps WHERE workflow_id IN ({marks})"
        " AND status = ? GROUP BY workflow_id",
        (*workflow_ids, Status.SUCCESS.value),
    ).fetchall()
    return dict(rows)


def _summary(row: tuple[Any, ...], done: dict[Any, int]) -> RunSummary | None:
    """The summary of a run row, or None when the row is damaged."""
    workflow_id, workflow_type, status, timeout, created_at, updated_at, resumes = row
    numbers = (timeout, created_at, updated_at)
    if not (
        isinstance(workflow_id, str)
        and isinstance(workflow_type, str)
        and status in STATUSES
        and all(isinstance(n, int | float) and not isinstance(n, bool) for n in numbers)
        and isinstance(resumes, int)
        and resumes >= 0
    ):
        return None
    return RunSummary(
        workflow_id=workflow_id,
        workflow_type=workflow_type,
        status=status,
        timeout=float(timeout),
        created_at=float(created_at),
        updated_at=float(updated_at),
        resumes=resumes,
        steps_done=done.get(workflow_id, 0),
    )
