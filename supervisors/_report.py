"""A run's report and response, and the check of a run's timeout."""

from __future__ import annotations

import copy
from typing import Any

import attrs

from mira_actors import safe_repr

from ._ledger import Status, StepRecord


def check_timeout(timeout: Any) -> float:
    """Return ``timeout`` as float seconds, or raise for a value that is not one.

    Raises:
        TypeError: not an int or float (bool included).
        ValueError: negative, NaN, or an int too large for a float. ``math.inf`` is
            allowed and means no deadline.
    """
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        msg = f"Timeout must be a number of seconds, got {type(timeout).__name__}"
        raise TypeError(msg)
    if timeout != timeout or timeout < 0:  # NaN is the one value unequal to itself
        msg = f"Timeout must be non-negative, got {safe_repr(timeout)}"
        raise ValueError(msg)
    try:
        seconds = float(timeout)
    except OverflowError:  # an int past 1.8e308
        msg = f"Timeout is too large, got {safe_repr(timeout)}; use math.inf for no deadline"
        raise ValueError(msg) from None
    return seconds + 0.0  # + 0.0 turns -0.0 into 0.0, so no response says "-0.0"


@attrs.frozen(kw_only=True)
class RunReport:
    """How a run ended, with its ledger; :meth:`response` gives the MIRA shape.

    Attributes:
        workflow_id: The run's id.
        workflow_type: The workflow's name.
        outcome: 'success', 'timeout' or 'error'.
        timeout: The run's timeout in seconds.
        records: The ledger's records, in the order the steps finished.
        error: Why the run failed (for 'error' and 'timeout').
        error_type: A short name for the kind of failure, for logs (never its text).
        stored_response: The response as a store kept it, for a run that had finished
            before (a resume of it gives that response back).
    """

    workflow_id: str
    workflow_type: str
    outcome: str
    timeout: float
    records: tuple[StepRecord, ...]
    error: str | None = None
    error_type: str | None = None
    stored_response: dict[str, Any] | None = None

    @property
    def completed_steps(self) -> list[str]:
        """The names of the steps that succeeded, in order."""
        return [r.step for r in self.records if r.completed]

    @property
    def timed_out_steps(self) -> list[str]:
        """The names of the steps that ran out of time (their own or the run's)."""
        return [r.step for r in self.records if r.status == Status.TIMEOUT]

    def response(self) -> dict[str, Any]:
        """Return the MIRA response: success, timeout or error, built from the ledger."""
        if self.stored_response is not None:
            return copy.deepcopy(self.stored_response)
        if self.outcome == Status.TIMEOUT:
            names = self.completed_steps
            return {
                "workflow_id": self.workflow_id,
                "workflow_type": self.workflow_type,
                "status": Status.TIMEOUT.value,
                "error": self.error,
                "steps": [r.as_step() for r in self.records if r.completed],
                "partial_progress": {
                    "completed_steps": names,
                    "total_steps_completed": len(names),
                    "timeout_seconds": self.timeout,
                    "timed_out_steps": self.timed_out_steps,
                },
            }
        # Every step that finished, failed ones too (an optional step that failed, or the
        # step that ended the run, whatever status its agent answered).
        finished = [r.as_step() for r in self.records if r.finished]
        if self.outcome == Status.SUCCESS:
            return {
                "workflow_id": self.workflow_id,
                "workflow_type": self.workflow_type,
                "steps": finished,
            }
        return {
            "workflow_id": self.workflow_id,
            "workflow_type": self.workflow_type,
            "status": Status.ERROR.value,
            "error": self.error,
            "steps": finished,
        }


def error_report(
    workflow_id: str, workflow_type: str, timeout: float, error: str, error_type: str
) -> RunReport:
    """Return the report of a run that failed before any step ran."""
    return RunReport(
        workflow_id=workflow_id,
        workflow_type=workflow_type,
        outcome=Status.ERROR,
        timeout=timeout,
        records=(),
        error=error,
        error_type=error_type,
    )
