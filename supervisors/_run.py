"""One workflow run: steps asked in order under the run's own deadline, kept in a ledger."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import trio

from mira_actors import ActorRef
from mira_actors.instrumentation import RunTrace

from ._events import (
    Emitter,
    EventSink,
    RunFinished,
    RunStarted,
)
from ._latency import AdaptiveTimeouts, LatencyHistory
from ._ledger import (
    CANCELLED,
    ERROR,
    SUCCESS,
    TIMEOUT,
    Ledger,
    StepRecord,
)
from ._report import OUT_OF_TIME, RunReport, check_run_options, check_timeout
from ._retry import NO_RETRY, RetryPolicy
from ._steps import StepAttempts
from ._store import LedgerStore, StoreUnavailableError
from ._tracing import run_traced
from ._workflow import Parallel, Step, Workflow

StepListener = Callable[[StepRecord], None]


async def run_workflow(
    workflow: Workflow,
    data: Any,
    *,
    routes: Mapping[str, ActorRef],
    timeout: float,
    workflow_id: str,
    prior: Mapping[str, Any] | None = None,
    on_step: StepListener | None = None,
    step_timeouts: Mapping[str, float] | None = None,
    retry: RetryPolicy | None = None,
    history: LatencyHistory | None = None,
    adaptive: AdaptiveTimeouts | None = None,
    on_event: EventSink | None = None,
    store: LedgerStore | None = None,
    first_attempts: Mapping[str, int] | None = None,
) -> RunReport:
    """Run ``workflow`` on ``data`` under ``trio.move_on_after(timeout)``.

    Each step asks the actor that ``routes`` names for its message type, under the
    earlier of its own timeout and the run's deadline. At the deadline the outstanding
    asks, and the handlers serving them, are cancelled and the report is built from the
    ledger.

    Args:
        workflow: What to run.
        data: The workflow data.
        routes: The actor serving each message type.
        timeout: The run's deadline, in seconds from now.
        workflow_id: The run's id.
        prior: Results of steps completed earlier, by name; they are not run again.
        on_step: Sees each ledger record as it is written.
        step_timeouts: Seconds per attempt by step name, over the steps' own.
        retry: The policy of steps that have none of their own (default: no retry).
        history: Where step latencies are recorded and read: an attempt that would
            not finish in the time left by its median latency is not started.
        adaptive: Timeouts from ``history`` (required with it) for steps with none of
            their own.
        on_event: Where progress events go: a callback, or a memory channel with an
            unbounded buffer (so a slow reader never stalls the run).
        store: Where the run is kept durably. The run must exist there already
            (``create_run``, or a claim for a resume); each finished step is committed
            before it counts as completed, and the outcome with the steps cut short at
            the deadline is committed in one transaction when the run ends.
        first_attempts: The attempt number each step starts at (1 by default): a resume
            numbers on from an earlier run, so idempotency keys keep meaning one attempt.
    """
    timeout = check_timeout(timeout)
    step_timeouts = check_run_options(
        workflow, step_timeouts=step_timeouts, retry=retry, on_event=on_event
    )
    if adaptive is not None and history is None:
        # Otherwise adaptive would be ignored, and the steps would run with no timeout at all.
        msg = "adaptive timeouts need a history to adapt to: pass history=LatencyHistory()"
        raise ValueError(msg)
    run = _Run(
        workflow,
        data,
        routes=routes,
        ledger=Ledger(workflow_id=workflow_id, workflow_type=workflow.name),
        step_timeouts=step_timeouts,
        retry=retry or NO_RETRY,
        history=history,
        adaptive=adaptive,
        emitter=Emitter(on_event),
        on_step=on_step,
        store=store,
        first_attempts=first_attempts or {},
    )
    return await run_traced(run, timeout, prior or {})


class _Run(StepAttempts):
    """The state of one run while it goes."""

    def __init__(
        self,
        workflow: Workflow,
        data: Any,
        *,
        routes: Mapping[str, ActorRef],
        ledger: Ledger,
        step_timeouts: dict[str, float],
        retry: RetryPolicy,
        history: LatencyHistory | None,
        adaptive: AdaptiveTimeouts | None,
        emitter: Emitter,
        on_step: StepListener | None,
        store: LedgerStore | None,
        first_attempts: Mapping[str, int],
    ) -> None:
        self.workflow = workflow
        self.data = data
        self.routes = routes
        self.ledger = ledger
        self.step_timeouts = step_timeouts
        self.retry = retry
        self.history = history
        self.adaptive = adaptive
        self.emitter = emitter
        self.on_step = on_step
        self.store = store
        self.first_attempts = first_attempts
        # Steps cut short: committed with the outcome, in one transaction, at the end.
        self.cut: list[StepRecord] = []
        self.scope = trio.CancelScope()
        self.timeout = math.inf
        # The record that ended the run early, and the error text that goes with it.
        self.failure: StepRecord | None = None
        self.failure_error = ""
        self.trace: RunTrace | None = None  # the run's span, while something records it

    def event_fields(self) -> dict[str, Any]:
        return {
            "workflow_id": self.ledger.workflow_id,
            "workflow_type": self.workflow.name,
            "time": trio.current_time(),
        }

    async def run(self, timeout: float, prior: Mapping[str, Any]) -> RunReport:
        self.timeout = timeout
        self.emitter.emit(RunStarted(**self.event_fields(), timeout=timeout))
        now = trio.current_time()
        for name in self.workflow.step_names:
            if name in prior:
                self.note(
                    StepRecord(
                        step=name,
                        agent="",
                        status=SUCCESS,
                        started_at=now,
                        ended_at=now,
                        attempts=0,
                        result=prior[name],
                    )
                )
        try:
            with trio.move_on_after(timeout) as self.scope:
                for item in self.workflow.steps:
                    if not await self.run_item(item):
                        break
        except trio.Cancelled:
            # Cancelled by the caller: the stream still ends, so a reader is not left waiting.
            self.emitter.emit(
                RunFinished(
                    **self.event_fields(),
                    outcome=CANCELLED,
                    completed_steps=tuple(self.ledger.completed_steps()),
                )
            )
            raise
        report = self.report(timeout)
        if self.store is not None:
            report = await self.commit(report)
        self.emitter.emit(
            RunFinished(
                **self.event_fields(),
                outcome=report.outcome,
                completed_steps=tuple(report.completed_steps),
            )
        )
        return report

    async def commit(self, report: RunReport) -> RunReport:
        """Commit the run's outcome by its deadline (plus the store's small floor).

        A store that cannot commit in time makes the report an 'error' that says so
        (error_type 'store_unavailable'); the store retries the commit on its own.
        """
        assert self.store is not None
        try:
            with trio.CancelScope(deadline=self.scope.deadline):  # bounds the store's waits
                await self.store.finish_run(
                    self.ledger.workflow_id,
                    outcome=report.outcome,
                    response=report.response(),
                    records=self.cut,
                )
        except StoreUnavailableError as exc:
            error = (
                f"the run ended ({report.outcome}) but could not be committed in time: {exc}; "
                "the store keeps trying, and until it lands the run can be resumed"
            )
            return attrs.evolve(report, outcome=ERROR, error=error, error_type="store_unavailable")
        return report

    def report(self, timeout: float) -> RunReport:
        ledger = self.ledger
        fields: dict[str, Any] = {
            "workflow_id": ledger.workflow_id,
            "workflow_type": ledger.workflow_type,
            "timeout": timeout,
            "records": tuple(ledger.records),
        }
        failure = self.failure
        if failure is not None:
            # Only time running out makes a timeout; an agent that answers 'timeout' is
            # a failed step like any other.
            outcome = TIMEOUT if failure.error_type in OUT_OF_TIME else ERROR
            return RunReport(
                outcome=outcome, error=self.failure_error, error_type=failure.error_type, **fields
            )
        if self.scope.cancelled_caught:
            error = f"Workflow execution timed out after {timeout} seconds"
            return RunReport(outcome=TIMEOUT, error=error, error_type="timeout", **fields)
        return RunReport(outcome=SUCCESS, **fields)

    def note(self, record: StepRecord) -> None:
        """Add ``record`` to the ledger (and tell on_step), without the store."""
        self.ledger.record(record)
        if self.on_step is not None:
            self.on_step(record)

    async def write(self, record: StepRecord) -> StepRecord:
        """Commit a finished step to the store, then the ledger; return what was written.

        A result the store cannot keep (not JSON) fails the step instead.
        """
        if self.store is not None:
            try:
                await self.store.record_step(self.ledger.workflow_id, record)
            except StoreUnavailableError as exc:
                # Not committed, so not completed: it goes with the outcome's commit.
                record = attrs.evolve(
                    record,
                    status=ERROR,
                    result=None,
                    error=f"its record could not be committed in time: {exc}",
                    error_type="store_unavailable",
                )
                self.cut.append(record)
            except (TypeError, ValueError) as exc:
                record = attrs.evolve(
                    record,
                    status=ERROR,
                    result=None,
                    error=f"its result cannot be stored: {exc}",
                    error_type="unstorable_result",
                )
                await self.store.record_step(self.ledger.workflow_id, record)
        self.note(record)
        return record

    async def run_item(self, item: Step | Parallel) -> bool:
        """Run a step or a group; return whether the run goes on."""
        if isinstance(item, Step):
            return await self.run_step(item)
        async with trio.open_nursery() as nursery:
            for step in item.steps:
                if step.name not in self.ledger.results():
                    nursery.start_soon(self._run_member, step, nursery.cancel_scope)
        return self.failure is None

    async def _run_member(self, step: Step, group: trio.CancelScope) -> None:
        if not await self.run_step(step):
            group.cancel()  # a member failed for good: its siblings stop too
