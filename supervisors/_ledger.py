"""The ledger: a workflow run's own record of each step, written as steps finish."""

from __future__ import annotations

from typing import Any

import attrs

SUCCESS = "success"
ERROR = "error"
TIMEOUT = "timeout"
CANCELLED = "cancelled"

# error_type of steps cut short, by the run's deadline or by another cancellation (a
# failing sibling in a parallel group, the caller): they did not finish.
DEADLINE = "deadline"
CUT_SHORT = "cancelled"


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
        attempts: How many times it was sent (0 for a result carried over from earlier).
        result: The step's result, as the agent answered it.
        error: Why it failed, when it did.
        error_type: What kind of failure, for logs: 'agent_error' (the agent answered
            with a failure), 'no_agent', 'bad_input' (its input could not be built), or
            the class name of the error the ask raised.
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
        return self.status == SUCCESS

    @property
    def finished(self) -> bool:
        """Whether the step ran to an end, success or failure (it was not cut short)."""
        return self.error_type not in (DEADLINE, CUT_SHORT)

    @property
    def carried_over(self) -> bool:
        """Whether the result came from an earlier run rather than this one."""
        return self.attempts == 0 and self.completed

    def as_step(self) -> dict[str, Any]:
        """Return the step as responses list it: ``{step, status, result, attempts}``."""
        return {
            "step": self.step,
            "status": self.status,
            "result": self.result,
            "attempts": self.attempts,
        }


@attrs.define
class Ledger:
    """The steps of one run, in the order they finished."""

    workflow_id: str
    workflow_type: str
    records: list[StepRecord] = attrs.Factory(list)

    def record(self, record: StepRecord) -> None:
        """Add a finished step."""
        self.records.append(record)

    def completed(self) -> list[StepRecord]:
        """The steps that succeeded, in order."""
        return [r for r in self.records if r.completed]

    def completed_steps(self) -> list[str]:
        """The names of the steps that succeeded, in order."""
        return [r.step for r in self.records if r.completed]

    def results(self) -> dict[str, Any]:
        """Each succeeded step's result, by step name."""
        return {r.step: r.result for r in self.records if r.completed}
