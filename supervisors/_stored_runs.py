"""What a resume takes from a stored run: the attempt each step goes on at, its report."""

from __future__ import annotations

from ._ledger import OUTCOME_UNKNOWN, REFUSED
from ._report import RunReport
from .stores._protocol import StoredRun


def next_attempts(stored: StoredRun) -> dict[str, int]:
    """The attempt number each unfinished step resumes at, so keys stay true to attempts.

    An attempt whose outcome is unknown (cut short by a deadline, a cancellation or its
    own timeout) is sent again as the same attempt, with the same idempotency key: its
    agent may have done the work already. A step whose agent answered a failure goes on
    to a new attempt and a new key. A refusal for want of time sent nothing, so it
    changes nothing; a crash wrote nothing, so the attempt it cut is sent again too.
    """
    next_attempts: dict[str, int] = {}
    for record in stored.records:  # in the order written: the last record of a step wins
        if record.completed:
            next_attempts.pop(record.step, None)
        elif record.error_type in OUTCOME_UNKNOWN:
            next_attempts[record.step] = max(record.attempts, 1)
        elif record.error_type not in REFUSED or record.step not in next_attempts:
            next_attempts[record.step] = record.attempts + 1
    return next_attempts


def stored_report(stored: StoredRun) -> RunReport:
    """The report of a run that finished before, as stored."""
    assert stored.response is not None
    return RunReport(
        workflow_id=stored.workflow_id,
        workflow_type=stored.workflow_type,
        outcome=stored.status,
        timeout=stored.timeout,
        records=stored.records,
        stored_response=stored.response,
    )
