"""A run's report and response, and the check of a run's timeout."""

from __future__ import annotations

import copy
from typing import Any

import attrs

from mira_actors import safe_repr

from ._ledger import Status, StepRecord

# At most this many characters of an error's text (which may quote a step's input) reach
# a response, and of the exception that failed a run reach its log record.
ERROR_TEXT_LIMIT = 1000
EXCEPTION_LOG_LIMIT = 200


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
        outcome: 'success', 'timeout', 'error', or 'cancelled' (its caller cancelled it).
        timeout: The run's timeout in seconds.
        records: The ledger's records, in the order the steps finished.
        error: Why the run failed (for 'error' and 'timeout').
        error_type: A short name for the kind of failure, for logs: the class name of
            the exception that failed the run, or an ``ErrorType`` (never its text).
        failed_step: The record of the step that failed the run, when one did.
        exception: The text of the exception that failed the run (the handler's own),
            cut to :data:`EXCEPTION_LOG_LIMIT` characters; None when no exception did
            (an agent answered with a failure, or time ran out).
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
    failed_step: StepRecord | None = None
    exception: str | None = None
    stored_response: dict[str, Any] | None = None
    # A response built for a store that did not keep it: the next response() call hands
    # it out instead of building another, so a run's outcome builds its response once.
    _spare: list[dict[str, Any]] = attrs.field(init=False, factory=list, eq=False, repr=False)

    def hand_back(self, response: dict[str, Any]) -> None:
        """Keep ``response``, built by :meth:`response` and held by nobody, for its next call.

        For a response that went to a store which encoded it and let it go: each call of
        :meth:`response` still returns a dict no one else holds.
        """
        self._spare.append(response)

    @property
    def completed_steps(self) -> list[str]:
        """The names of the steps that succeeded, in order."""
        return [r.step for r in self.records if r.completed]

    @property
    def timed_out_steps(self) -> list[str]:
        """The names of the steps that ran out of time (their own or the run's)."""
        return [r.step for r in self.records if r.status == Status.TIMEOUT]

    def response(self) -> dict[str, Any]:
        """Return the MIRA response: success, timeout or error, built from the ledger.

        A run its caller cancelled has the timeout's shape with status 'cancelled' (it
        is what the store keeps: the caller itself gets no response).
        """
        if self._spare:
            return self._spare.pop()
        if self.stored_response is not None:
            return copy.deepcopy(self.stored_response)
        if self.outcome == Status.SUCCESS:
            # Every step that finished, an optional step that failed among them.
            return {
                "workflow_id": self.workflow_id,
                "workflow_type": self.workflow_type,
                "steps": [r.as_step() for r in self.records if r.finished],
            }
        if self.outcome in (Status.TIMEOUT, Status.CANCELLED):
            # One pass over the records: at a burst of deadlines every run builds this.
            completed, names, timed_out = [], [], []
            for r in self.records:
                if r.status == Status.SUCCESS:
                    completed.append(r.as_step())
                    names.append(r.step)
                elif r.status == Status.TIMEOUT:
                    timed_out.append(r.step)
            return {
                "workflow_id": self.workflow_id,
                "workflow_type": self.workflow_type,
                "status": str(self.outcome),
                "error": self.error,
                "steps": completed,
                "partial_progress": {
                    "completed_steps": names,
                    "total_steps_completed": len(names),
                    "timeout_seconds": self.timeout,
                    "timed_out_steps": timed_out,
                },
            }
        completed = [r.as_step() for r in self.records if r.completed]
        # The steps completed before the error; the step that failed stands apart.
        response: dict[str, Any] = {
            "workflow_id": self.workflow_id,
            "workflow_type": self.workflow_type,
            "status": Status.ERROR.value,
            "error": self.error,
            "steps": completed,
        }
        if self.failed_step is not None:
            response["failed_step"] = self.failed_step.as_failure()
        return response


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
