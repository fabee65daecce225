"""The ledger: a workflow run's own record of each step, written as steps finish."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import attrs


class _Name(StrEnum):
    """A name that is its own string everywhere: in JSON, in f-strings, and in reprs."""

    __repr__ = str.__repr__


class Status(_Name):
    """The status of a step or a run; the values are what responses and stores hold."""

    RUNNING = "running"  # a stored run not finished (live, or its process died)
    SUCCESS = "success"
    ERROR = "error"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"  # a step cut short by a cancellation that was not the deadline


class ErrorType(_Name):
    """The kinds of failure the run engine names itself, in records, reports and logs.

    A step whose ask raised has the class name of what it raised instead.
    """

    AGENT_ERROR = "agent_error"  # the agent answered with a failure
    STEP_TIMEOUT = "step_timeout"  # an attempt ran out of its step's own time
    NOT_ENOUGH_TIME = "not_enough_time"  # refused: it would not finish in the time left
    NO_TIME_TO_RETRY = "no_time_to_retry"  # the retry's wait would end past the deadline
    NO_AGENT = "no_agent"  # no actor serves the step's message type
    BAD_INPUT = "bad_input"  # the step's input could not be built
    UNSTORABLE_RESULT = "unstorable_result"  # the store cannot keep the step's result
    DEADLINE = "deadline"  # cut short by the run's deadline
    CANCELLED = "cancelled"  # cut short by another cancellation (a sibling, the caller)
    TIMEOUT = "timeout"  # a run whose deadline passed
    UNKNOWN_WORKFLOW = "unknown_workflow"  # a run of a workflow that is not registered
    UNSTORABLE_DATA = "unstorable_data"  # a run whose input the store cannot keep
    STORE_UNAVAILABLE = "store_unavailable"  # the store could not commit in time
    INVALID_REQUEST = "invalid_request"  # a channel request whose values could not be run
    INVALID_TIMEOUT = "invalid_timeout"  # a channel request with a timeout that is not one
    LEASE_LOST = "lease_lost"  # another orchestrator took the run: stopped here, not stored


# Steps that failed for want of time: their own timeout, or too little left of the run's
# for an attempt or a retry. A run that one of them ends is a timeout.
OUT_OF_TIME = frozenset(
    {ErrorType.STEP_TIMEOUT, ErrorType.NOT_ENOUGH_TIME, ErrorType.NO_TIME_TO_RETRY}
)
# Steps that did not finish: cut short, so a resume sends the same attempt again.
CUT_SHORT = frozenset({ErrorType.DEADLINE, ErrorType.CANCELLED})
# Attempts whose outcome is unknown (the agent may have done the work): they are sent
# again as the same attempt, with the same idempotency key, by a retry or a resume.
OUTCOME_UNKNOWN = CUT_SHORT | {ErrorType.STEP_TIMEOUT}
# Records of a step that say no attempt was sent: it was refused for want of time.
REFUSED = frozenset({ErrorType.NOT_ENOUGH_TIME, ErrorType.NO_TIME_TO_RETRY})


@attrs.frozen(kw_only=True)
class StepRecord:
    """What happened to one step of one run.

    Attributes:
        step: The step's name.
        agent: The name of the actor that served it ("" when none could).
        status: 'success', 'error', 'timeout' (the run's deadline passed while it ran)
            or 'cancelled' (the run was cancelled from outside while it ran); a step
            whose agent answered some other status than 'success' has that status.
        started_at: trio time when the step started.
        ended_at: trio time when it finished.
        attempts: The number of its last attempt (0 for a result carried over from
            earlier). An attempt whose outcome is unknown (cut short, or out of its own
            time) is sent again as the same attempt, so the number counts attempts
            whose outcome is known, plus the last.
        result: The step's result, as the agent answered it.
        error: Why it failed, when it did.
        error_type: What kind of failure, for logs: an :class:`ErrorType`, or the class
            name of the error the ask raised.
    """

    step: str
    agent: str
    status: str
    started_at: float
    ended_at: float
    attempts: int = 1
    result: Any = None
    error: str | None = None
    error_type: str | None = None

    @property
    def completed(self) -> bool:
        """Whether the step succeeded."""
        return self.status == Status.SUCCESS

    @property
    def finished(self) -> bool:
        """Whether the step ran to an end, success or failure (it was not cut short)."""
        return self.error_type not in CUT_SHORT

    @property
    def carried_over(self) -> bool:
        """Whether the result came from an earlier run rather than this one."""
        return self.attempts == 0 and self.completed

    def as_step(self) -> dict[str, Any]:
        """Return the step as responses list it: ``{step, status, result, attempts}``."""
        return {
            "step": self.step,
            "status": str(self.status),  # a plain str, not a Status, in responses
            "result": self.result,
            "attempts": self.attempts,
        }

    def as_failure(self) -> dict[str, Any]:
        """Return the step as an error response's ``failed_step`` shows it."""
        return {
            "step": self.step,
            "status": str(self.status),
            "error_type": None if self.error_type is None else str(self.error_type),
            "error": self.error,
            "attempts": self.attempts,
        }


@attrs.define
class Ledger:
    """The steps of one run, in the order they finished."""

    workflow_id: str
    workflow_type: str
    records: list[StepRecord] = attrs.Factory(list)
    # Kept as records are written, so that each step reads earlier results in O(1).
    _results: dict[str, Any] = attrs.field(factory=dict, init=False)

    def __attrs_post_init__(self) -> None:
        for record in self.records:
            if record.completed:
                self._results[record.step] = record.result

    def record(self, record: StepRecord) -> None:
        """Add a finished step."""
        self.records.append(record)
        if record.completed:
            self._results[record.step] = record.result

    def completed(self) -> list[StepRecord]:
        """The steps that succeeded, in order."""
        return [r for r in self.records if r.completed]

    def completed_steps(self) -> list[str]:
        """The names of the steps that succeeded, in order."""
        return [r.step for r in self.records if r.completed]

    def results(self) -> dict[str, Any]:
        """Each succeeded step's result, by step name (a new dict: a snapshot)."""
        return dict(self._results)

    def has_result(self, step: str) -> bool:
        """Whether ``step`` has succeeded."""
        return step in self._results
