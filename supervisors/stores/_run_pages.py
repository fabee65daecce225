"""Pages of stored runs: summaries, newest first, paged by a keyset cursor.

A page of 50 runs costs the same whether the store holds a hundred runs or a hundred
thousand: a durable store walks an index from the cursor, never the whole table.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

# The most runs one page may hold: a page is for people and dashboards, not exports.
MAX_PAGE = 1000


@attrs.frozen(kw_only=True, order=True)
class RunCursor:
    """Where a page of runs ends: pass it as ``before`` for the page after.

    Runs are ordered newest first by ``created_at``, ties broken by ``workflow_id``,
    so the order is the same in every store and a cursor never skips or repeats a run.
    """

    created_at: float
    workflow_id: str


@attrs.frozen(kw_only=True)
class RunSummary:
    """A stored run as a list of runs shows it: no input, results or response.

    Attributes:
        workflow_id: The run's id.
        workflow_type: The workflow's name.
        status: 'running', 'success', 'timeout' or 'error' (as :class:`StoredRun`).
        timeout: The timeout of its latest start or resume, in seconds.
        created_at: Wall-clock time it was created.
        updated_at: Wall-clock time of its latest change.
        resumes: How many times it has been claimed for a resume.
        steps_done: How many step records say 'success' (its completed steps).
    """

    workflow_id: str
    workflow_type: str
    status: str
    timeout: float
    created_at: float
    updated_at: float
    resumes: int
    steps_done: int

    @property
    def cursor(self) -> RunCursor:
        """This run's place in the order, as a cursor."""
        return RunCursor(created_at=self.created_at, workflow_id=self.workflow_id)


@attrs.frozen(kw_only=True)
class RunPage:
    """One page of runs, newest first.

    Attributes:
        runs: At most ``limit`` summaries.
        next: The cursor of the page after (pass it as ``before``), or None on the last.
    """

    runs: tuple[RunSummary, ...]
    next: RunCursor | None


def check_page(status: str | None, limit: int, before: RunCursor | None) -> None:
    """Raise unless these are arguments ``page_runs`` can take.

    Raises:
        ValueError: an unknown status, or ``limit`` outside 1..MAX_PAGE.
        TypeError: ``limit`` is not an int, or ``before`` is not a RunCursor.
    """
    from ._protocol import STATUSES  # _store re-exports these names: import it lazily

    if status is not None and status not in STATUSES:
        msg = f"status must be None or one of {', '.join(map(repr, STATUSES))}, got {status!r}"
        raise ValueError(msg)
    if isinstance(limit, bool) or not isinstance(limit, int):
        msg = f"limit must be an int, got {type(limit).__name__}"
        raise TypeError(msg)
    if not 1 <= limit <= MAX_PAGE:
        msg = f"limit must be between 1 and {MAX_PAGE}, got {limit}"
        raise ValueError(msg)
    if before is not None and not isinstance(before, RunCursor):
        msg = f"before must be a RunCursor (a page's next) or None, got {type(before).__name__}"
        raise TypeError(msg)


def make_page(runs: Iterable[RunSummary], *, more: bool) -> RunPage:
    """Return the page of ``runs`` (newest first); ``more`` says whether older ones follow."""
    listed = tuple(runs)
    return RunPage(runs=listed, next=listed[-1].cursor if more and listed else None)
