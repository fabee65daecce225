"""A run's telemetry: its span around it, and each attempt's span around its ask.

The instrumentation (``mira_actors.instrumentation``) decides what is recorded; with
none, a run pays one check and its attempts none.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, Any

import trio

from mira_actors import instrumentation
from mira_actors.instrumentation import RunTrace

from ._ledger import Status

if TYPE_CHECKING:
    from ._attempt import Attempt
    from ._report import RunReport
    from ._run import WorkflowRun


async def run_traced(run: WorkflowRun, prior: Mapping[str, Any]) -> RunReport:
    """Run ``run`` inside its span (when anything records it); the span ends with it."""
    hooks = instrumentation.current()
    trace = (
        None
        if hooks is None
        else hooks.run_started(
            workflow_id=run.workflow_id,
            workflow_type=run.workflow.name,
            timeout=run.options.timeout,
        )
    )
    if trace is None:
        return await run.run_steps(prior)
    run.trace = trace
    status, error = str(Status.CANCELLED), None
    try:
        report = await run.run_steps(prior)
        status, error = report.outcome, report.error
        return report
    finally:
        if run.deadline_passed:
            trace.deadline_expired()
        trace.finished(status, error=error)


async def attempt_traced(
    trace: RunTrace,
    deadline: float,
    *,
    step: str,
    attempt: int,
    headers: Mapping[str, Any],
    budget: float,
    sending: Awaitable[Attempt],
) -> Attempt:
    """Await ``sending`` (one attempt's ask) inside the attempt's span."""
    attempt_trace = trace.attempt_started(
        step=step, attempt=attempt, idempotency_key=str(headers["idempotency_key"]), budget=budget
    )
    try:
        outcome = await sending
    except BaseException:
        attempt_trace.cut_short(timed_out=deadline <= trio.current_time())
        raise
    attempt_trace.finished(outcome.status, outcome.error)
    return outcome
