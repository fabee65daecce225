"""One workflow run: steps asked in order under the run's own deadline, kept in a ledger."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import trio

from mira_actors import ActorRef, MiraError

from ._ledger import CANCELLED, ERROR, SUCCESS, TIMEOUT, Ledger, StepRecord
from ._workflow import Step, Workflow, read_agent_reply

StepListener = Callable[[StepRecord], None]


def check_timeout(timeout: Any) -> float:
    """Return ``timeout`` as float seconds, or raise for a value that is not one.

    Raises:
        TypeError: not an int or float (bool included).
        ValueError: negative or NaN. ``math.inf`` is allowed and means no deadline.
    """
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        msg = f"Timeout must be a number of seconds, got {type(timeout).__name__}"
        raise TypeError(msg)
    if math.isnan(timeout) or timeout < 0:
        msg = f"Timeout must be non-negative, got {timeout}"
        raise ValueError(msg)
    return float(timeout) + 0.0  # + 0.0 turns -0.0 into 0.0, so no response says "-0.0"


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
    """

    workflow_id: str
    workflow_type: str
    outcome: str
    timeout: float
    records: tuple[StepRecord, ...]
    error: str | None = None
    error_type: str | None = None

    @property
    def completed_steps(self) -> list[str]:
        """The names of the steps that succeeded, in order."""
        return [r.step for r in self.records if r.completed]

    def response(self) -> dict[str, Any]:
        """Return the MIRA response: success, timeout or error, built from the ledger."""
        completed = [r.as_step() for r in self.records if r.completed]
        if self.outcome == SUCCESS:
            return {"workflow_type": self.workflow_type, "steps": completed}
        if self.outcome == TIMEOUT:
            names = self.completed_steps
            return {
                "workflow_type": self.workflow_type,
                "status": TIMEOUT,
                "error": self.error,
                "steps": completed,
                "partial_progress": {
                    "completed_steps": names,
                    "total_steps_completed": len(names),
                    "timeout_seconds": self.timeout,
                },
            }
        # An error ends the run at the failed step, so every record is of a finished step,
        # the failed one included whatever status its agent answered.
        finished = [r.as_step() for r in self.records]
        return {
            "workflow_type": self.workflow_type,
            "status": ERROR,
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
        outcome=ERROR,
        timeout=timeout,
        records=(),
        error=error,
        error_type=error_type,
    )


async def run_workflow(
    workflow: Workflow,
    data: Any,
    *,
    routes: Mapping[str, ActorRef],
    timeout: float,
    workflow_id: str,
    prior: Mapping[str, Any] | None = None,
    on_step: StepListener | None = None,
) -> RunReport:
    """Run ``workflow`` on ``data`` under ``trio.move_on_after(timeout)``.

    Each step asks the actor that ``routes`` names for its message type. At the
    deadline the outstanding ask, and the handler serving it, are cancelled and the
    report is built from the ledger. Steps named in ``prior`` count as completed with
    the given results and are not run again. ``on_step`` sees each record as it is
    written. Cancellation from outside propagates as usual.
    """
    # Checked here too, since this is public: responses quote the timeout as float seconds.
    timeout = check_timeout(timeout)
    ledger = Ledger(workflow_id=workflow_id, workflow_type=workflow.name)
    now = trio.current_time()
    for step in workflow.steps:
        if prior is not None and step.name in prior:
            carried = StepRecord(
                step=step.name,
                agent="",
                status=SUCCESS,
                started_at=now,
                ended_at=now,
                attempts=0,
                result=prior[step.name],
            )
            _write(ledger, on_step, carried)
    with trio.move_on_after(timeout) as scope:
        done = set(ledger.results())
        for step in workflow.steps:
            if step.name in done:
                continue
            record = await _run_step(step, data, ledger, routes, scope, on_step)
            _write(ledger, on_step, record)
            if not record.completed:
                error = f"Step {step.name!r} failed: {record.error}"
                return _report(ledger, ERROR, timeout, error, record.error_type)
    if scope.cancelled_caught:
        error = f"Workflow execution timed out after {timeout} seconds"
        return _report(ledger, TIMEOUT, timeout, error, "timeout")
    return _report(ledger, SUCCESS, timeout, None, None)


async def _run_step(
    step: Step,
    data: Any,
    ledger: Ledger,
    routes: Mapping[str, ActorRef],
    scope: trio.CancelScope,
    on_step: StepListener | None,
) -> StepRecord:
    started = trio.current_time()
    ref = routes.get(step.message_type)
    agent = "" if ref is None else ref.name

    def finish(
        status: str,
        *,
        result: Any = None,
        error: str | None = None,
        error_type: str | None = None,
        attempts: int = 1,
    ) -> StepRecord:
        return StepRecord(
            step=step.name,
            agent=agent,
            status=status,
            started_at=started,
            ended_at=trio.current_time(),
            attempts=attempts,
            result=result,
            error=error,
            error_type=error_type,
        )

    if ref is None:
        error = f"no agent is registered for message type {step.message_type!r}"
        return finish(ERROR, error=error, error_type="no_agent", attempts=0)
    try:
        message_data = step.build_input(data, ledger.results())
    except Exception as exc:  # a builder fails on data of the wrong shape: a step error
        error = f"could not build its input: {type(exc).__name__}: {exc}"
        return finish(ERROR, error=error, error_type="bad_input", attempts=0)
    try:
        reply = await ref.ask({"type": step.message_type, "data": message_data})
    except trio.Cancelled:
        # Written here, at the moment of cancellation, so the ledger shows where time ran out.
        timed_out = scope.deadline <= trio.current_time()
        _write(ledger, on_step, finish(TIMEOUT if timed_out else CANCELLED))
        raise
    except (MiraError, trio.TooSlowError) as exc:
        return finish(ERROR, error=str(exc), error_type=type(exc).__name__)
    status, result, failure = read_agent_reply(reply)
    error_type = None if failure is None else "agent_error"
    return finish(status, result=result, error=failure, error_type=error_type)


def _write(ledger: Ledger, on_step: StepListener | None, record: StepRecord) -> None:
    ledger.record(record)
    if on_step is not None:
        on_step(record)


def _report(
    ledger: Ledger, outcome: str, timeout: float, error: str | None, error_type: str | None
) -> RunReport:
    return RunReport(
        workflow_id=ledger.workflow_id,
        workflow_type=ledger.workflow_type,
        outcome=outcome,
        timeout=timeout,
        records=tuple(ledger.records),
        error=error,
        error_type=error_type,
    )
