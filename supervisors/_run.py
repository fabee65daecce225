"""One workflow run: steps asked in order under the run's own deadline, kept in a ledger."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import trio

from mira_actors import ActorRef, current_deadline, exception_text, instrumentation
from mira_actors.instrumentation import RunTrace

from ._events import Emitter, EventSink, RunFinished, RunStarted, StepFailed
from ._latency import AdaptiveTimeouts, LatencyHistory
from ._ledger import OUT_OF_TIME, ErrorType, Ledger, Status, StepRecord
from ._options import DEFAULT_TIMEOUT, RunOptions, StepListener
from ._report import EXCEPTION_LOG_LIMIT, RunReport
from ._retry import RetryPolicy, StepFailedError
from ._run_writes import RunWrites
from ._steps import StepOutcome, StepRunner
from ._tracing import run_traced
from ._workflow import Parallel, Step, Workflow
from .stores._protocol import LeaseLostError, LedgerStore


async def run_workflow(
    workflow: Workflow,
    data: Any,
    *,
    routes: Mapping[str, ActorRef],
    workflow_id: str,
    timeout: float = DEFAULT_TIMEOUT,
    prior: Mapping[str, Any] | None = None,
    on_step: StepListener | None = None,
    step_timeouts: Mapping[str, float] | None = None,
    retry: RetryPolicy | None = None,
    on_event: EventSink | None = None,
    options: RunOptions | None = None,
    history: LatencyHistory | None = None,
    adaptive: AdaptiveTimeouts | None = None,
    store: LedgerStore | None = None,
    first_attempts: Mapping[str, int] | None = None,
) -> RunReport:
    """Run ``workflow`` on ``data`` under ``trio.move_on_after(timeout)``.

    Each step asks the actor that ``routes`` names for its message type, under the
    earlier of its own timeout and the run's deadline (and the caller's). At the
    deadline the outstanding asks, and the handlers serving them, are cancelled and the
    report is built from the ledger.

    Args:
        workflow: What to run.
        data: The workflow data.
        routes: The actor serving each message type.
        workflow_id: The run's id.
        timeout, on_step, step_timeouts, retry, on_event: The run's options, as for
            :class:`RunOptions`.
        options: All of them as one value, in place of the five above.
        prior: Results of steps completed earlier, by name; they are not run again.
        history: Where step latencies are recorded and read: an attempt that would
            not finish in the time left by its median latency is not started.
        adaptive: Timeouts from ``history`` (required with it) for steps with none of
            their own.
        store: Where the run is kept durably. The run must exist there already
            (``create_run``, or a claim for a resume); each finished step is committed
            before it counts as completed, and the outcome with the steps cut short at
            the deadline is committed in one transaction when the run ends.
        first_attempts: The attempt number each step starts at (1 by default): a resume
            numbers on from an earlier run, so idempotency keys keep meaning one attempt.
    """
    if options is None:
        options = RunOptions(
            timeout=timeout,
            step_timeouts=step_timeouts,
            retry=retry,
            on_event=on_event,
            on_step=on_step,
        )
    options.check_steps(workflow)
    if adaptive is not None and history is None:
        # Otherwise adaptive would be ignored, and the steps would run with no timeout at all.
        msg = "adaptive timeouts need a history to adapt to: pass history=LatencyHistory()"
        raise ValueError(msg)
    run = WorkflowRun(
        workflow,
        data,
        workflow_id=workflow_id,
        routes=routes,
        options=options,
        history=history,
        adaptive=adaptive,
        store=store,
        first_attempts=first_attempts,
    )
    return await run.go(prior or {})


logger = logging.getLogger("supervisors.workflow")


def _is_cancellation(exc: BaseException) -> bool:
    """Whether ``exc`` is trio's Cancelled, or an exception group of nothing else."""
    if isinstance(exc, BaseExceptionGroup):
        return exc.split(trio.Cancelled)[1] is None
    return isinstance(exc, trio.Cancelled)


class WorkflowRun:
    """One run of a workflow while it goes: its ledger, its deadline and how it ends.

    The run owns its state: the ledger, the steps cut short, the failure that ended it.
    A :class:`StepRunner` runs each step and hands back its outcome; the run alone
    decides what the outcome means for the run. Its options are taken as checked.
    """

    def __init__(
        self,
        workflow: Workflow,
        data: Any,
        *,
        workflow_id: str,
        routes: Mapping[str, ActorRef],
        options: RunOptions,
        history: LatencyHistory | None = None,
        adaptive: AdaptiveTimeouts | None = None,
        store: LedgerStore | None = None,
        first_attempts: Mapping[str, int] | None = None,
        asked_at: float | None = None,
        owner: str | None = None,
        handed_over: Callable[[], bool] | None = None,
    ) -> None:
        self.workflow = workflow
        # Its writes are fenced by ``owner``'s lease: once another takes the run, they
        # are refused, and the run stops here (lease_lost says why).
        self.lease_lost: LeaseLostError | None = None
        # Whether a cancellation hands the run over to another orchestrator (its owner
        # is stopping) rather than ends it: then nothing is stored, the lease goes back.
        self._handed_over = handed_over
        # When the caller asked for the run (trio time): its timeout counts from then,
        # so that storing a big input first does not push the answer past the deadline.
        self._asked_at = asked_at
        self.data = data
        self.options = options
        self.ledger = Ledger(workflow_id=workflow_id, workflow_type=workflow.name)
        self._routes = routes
        self._history = history
        self._adaptive = adaptive
        self._writes = None if store is None else RunWrites(store, workflow_id, owner=owner)
        self._first_attempts = first_attempts or {}
        self._emitter = Emitter(
            options.on_event, workflow_id=workflow_id, workflow_type=workflow.name
        )
        # Steps cut short: committed with the outcome, in one transaction, at the end.
        self.cut: list[StepRecord] = []
        # The outcome of the step that ended the run early.
        self.failure: StepOutcome | None = None
        # The run's one scope: its deadline, and a cancel asked for through the store.
        # Made when the steps start (a scope made earlier would only be replaced then).
        self._scope: trio.CancelScope | None = None
        self._cancel_requested = False
        # Whether the run ended because a cancel was asked for (see cancel_on_request).
        self.cancelled_on_request = False
        self.trace: RunTrace | None = None  # the run's span, while something records it

    @property
    def workflow_id(self) -> str:
        """The run's id."""
        return self.ledger.workflow_id

    @property
    def deadline_passed(self) -> bool:
        """Whether the run's own deadline cut it short."""
        scope = self._scope
        return scope is not None and scope.cancelled_caught and not self._cancel_requested

    def cancel_on_request(self) -> None:
        """Cancel the run because it was asked for (through the store, from any process).

        The run ends as if its caller had cancelled it (stored as 'cancelled') and
        returns :meth:`cancelled_report`, with ``cancelled_on_request`` set. A request
        that comes after the steps have ended changes nothing.
        """
        self._cancel_requested = True
        if self._scope is not None:  # else the scope is made cancelled
            self._scope.cancel()

    async def go(self, prior: Mapping[str, Any]) -> RunReport:
        """Run the steps not in ``prior`` (results by step name); return the report.

        Raises what cancelled the run, when its caller did (the run then has no report).
        """
        if instrumentation.current() is None:
            return await self.run_steps(prior)  # a coroutine less, when nothing records
        return await run_traced(self, prior)

    async def run_steps(self, prior: Mapping[str, Any]) -> RunReport:
        """Run the steps and end the run (:meth:`go`, inside the run's trace span)."""
        timeout = self.options.timeout
        self._emitter.emit(RunStarted, timeout=timeout)
        now = trio.current_time()
        for name in self.workflow.step_names if prior else ():
            if name in prior:
                self._note(
                    StepRecord(
                        step=name,
                        agent="",
                        status=Status.SUCCESS,
                        started_at=now,
                        ended_at=now,
                        attempts=0,
                        result=prior[name],
                    )
                )
        began = now if self._asked_at is None else self._asked_at
        # A new scope (setting a deadline on one costs more than making one), cancelled
        # if a cancel was asked for already.
        scope = self._scope = trio.CancelScope(deadline=began + timeout)
        if self._cancel_requested:
            scope.cancel()
        steps = StepRunner(
            workflow_type=self.workflow.name,
            workflow_id=self.workflow_id,
            data=self.data,
            routes=self._routes,
            options=self.options,
            history=self._history,
            adaptive=self._adaptive,
            emitter=self._emitter,
            first_attempts=self._first_attempts,
            deadline=scope.deadline,
            commit=self._commit,
            note_attempt=self._note_attempt,
            cut=self._cut_short,
            trace=self.trace,
        )
        try:
            with scope:
                for item in self.workflow.steps:
                    goes_on = (
                        await self._run_step(steps, item)
                        if isinstance(item, Step)
                        else await self._run_group(steps, item)
                    )
                    if not goes_on:
                        break
        except BaseException as exc:
            # Cancelled by the caller (a bare Cancelled, or a parallel group's exception
            # group of them): stored as 'cancelled', so that it can be resumed, and the
            # stream still ends, so a reader is not left waiting.
            await self._end_cancelled(stored=_is_cancellation(exc))
            raise
        if self._cancel_requested and scope.cancelled_caught:
            # Cancelled on request (one scope serves that and the deadline, rather than a
            # second scope around every run): ended as a caller's cancellation.
            await self._end_cancelled(stored=True)
            self.cancelled_on_request = True
            return self.cancelled_report("on request")
        report = self.report()
        if self._writes is not None and self.lease_lost is None:
            report = await self._writes.outcome(report, self.cut, scope.deadline)
            self._check_lease(self._writes)
        if self.lease_lost is not None:
            report = self._lease_lost_report(self.lease_lost)
        self._finished(report.outcome, report.records)
        return report

    async def _end_cancelled(self, *, stored: bool) -> None:
        """End the run as cancelled: store it so (when ``stored``) and end the stream."""
        handed_over = self._handed_over is not None and self._handed_over()
        if stored and self._writes is not None and self.lease_lost is None and not handed_over:
            await self._writes.cancelled(self.cancelled_report(), self.cut)
        self._finished(Status.CANCELLED, self.ledger.records)

    def cancelled_report(self, how: str = "by its caller") -> RunReport:
        """The report of the run cancelled now (``how``: by whom), as stored."""
        names = self.ledger.completed_steps()
        return RunReport(
            workflow_id=self.workflow_id,
            workflow_type=self.workflow.name,
            outcome=Status.CANCELLED,
            timeout=self.options.timeout,
            records=tuple(self.ledger.records),
            error=f"Workflow execution was cancelled {how} after {len(names)} steps",
            error_type=ErrorType.CANCELLED,
        )

    def _lose_lease(self, exc: LeaseLostError) -> None:
        """Stop the run at once: another orchestrator holds it now, and its records stand."""
        if self.lease_lost is None:
            self.lease_lost = exc
            logger.warning(
                "run stopped: another orchestrator took it (this owner's lease lapsed)",
                extra={"workflow_id": self.workflow_id, "error_type": ErrorType.LEASE_LOST},
            )
        if self._scope is not None:  # its outstanding steps are cancelled; nothing more is stored
            self._scope.cancel()

    def _lease_lost_report(self, exc: LeaseLostError) -> RunReport:
        return RunReport(
            workflow_id=self.workflow_id,
            workflow_type=self.workflow.name,
            outcome=Status.ERROR,
            timeout=self.options.timeout,
            records=tuple(self.ledger.records),
            error=str(exc),
            error_type=ErrorType.LEASE_LOST,
        )

    def report(self) -> RunReport:
        """The run's report as of now."""
        ledger = self.ledger
        fields: dict[str, Any] = {
            "workflow_id": ledger.workflow_id,
            "workflow_type": ledger.workflow_type,
            "timeout": self.options.timeout,
            "records": tuple(ledger.records),
        }
        failure = self.failure
        if failure is not None:
            # Only time running out makes a timeout; an agent that answers 'timeout' is
            # a failed step like any other.
            failed = failure.record
            if failed.error_type in OUT_OF_TIME:
                return RunReport(
                    outcome=Status.TIMEOUT,
                    error=failure.error,
                    error_type=failed.error_type,
                    **fields,
                )
            raised = failure.exception
            return RunReport(
                outcome=Status.ERROR,
                error=failure.error,
                error_type=failed.error_type,
                failed_step=failed,
                # An agent's failure answer is not an exception: its text stays out of logs.
                exception=(
                    None
                    if raised is None or isinstance(raised, StepFailedError)
                    else exception_text(raised, EXCEPTION_LOG_LIMIT)
                ),
                **fields,
            )
        if self._scope is not None and self._scope.cancelled_caught:
            error = f"Workflow execution timed out after {self.options.timeout} seconds"
            return RunReport(
                outcome=Status.TIMEOUT, error=error, error_type=ErrorType.TIMEOUT, **fields
            )
        return RunReport(outcome=Status.SUCCESS, **fields)

    async def _run_group(self, steps: StepRunner, group: Parallel) -> bool:
        """Run a group's steps at once; return whether the run goes on."""
        async with trio.open_nursery() as nursery:
            for step in group.steps:
                nursery.start_soon(self._run_member, steps, step, nursery.cancel_scope)
        return self.failure is None

    async def _run_member(self, steps: StepRunner, step: Step, group: trio.CancelScope) -> None:
        if not await self._run_step(steps, step):
            group.cancel()  # a member failed for good: its siblings stop too

    async def _run_step(self, steps: StepRunner, step: Step) -> bool:
        """Run a step unless an earlier run completed it; return whether the run goes on."""
        if self.ledger.has_result(step.name):
            return True
        outcome = await steps.run(step, self.ledger.results())
        if outcome is None:  # it succeeded
            return True
        self._emit_failed(outcome.record)
        if step.optional:
            return True
        if self.failure is None:
            self.failure = outcome
        return False

    def _note(self, record: StepRecord) -> None:
        """Add ``record`` to the ledger (and tell on_step), without the store."""
        self.ledger.record(record)
        if self.options.on_step is not None:
            self.options.on_step(record)

    async def _commit(self, record: StepRecord) -> StepRecord:
        """Commit a finished step to the store, then the ledger; return what was written."""
        if self._writes is not None:
            record, waits = await self._writes.step(record)
            self._check_lease(self._writes)
            if waits and current_deadline() <= trio.current_time():
                # Out of time (the run's or its caller's), not a store failure: the
                # deadline's cancellation cuts the step short, as if it had come mid-ask.
                await trio.lowlevel.checkpoint()
            if waits:  # not committed in time: it goes with the outcome's commit
                self.cut.append(record)
        self._note(record)
        return record

    async def _note_attempt(self, record: StepRecord) -> None:
        """Keep a failed attempt that will be retried in the store (not the ledger)."""
        if self._writes is not None:
            await self._writes.attempt(record)
            self._check_lease(self._writes)

    def _check_lease(self, writes: RunWrites) -> None:
        """Stop the run when its last write found another owner holding it."""
        if writes.lease_lost is not None:
            self._lose_lease(writes.lease_lost)

    def _cut_short(self, record: StepRecord) -> None:
        """Note a step cut short now; it is committed with the outcome when the run ends."""
        self._note(record)
        self.cut.append(record)
        self._emit_failed(record)

    def _emit_failed(self, failed: StepRecord) -> None:
        if not self._emitter.listening:  # the usual case: no event to build
            return
        self._emitter.emit(
            StepFailed,
            step=failed.step,
            attempts=failed.attempts,
            status=failed.status,
            error_type=failed.error_type,
        )

    def _finished(self, outcome: str, records: Sequence[StepRecord]) -> None:
        if self._emitter.listening:  # the names are gathered only for someone who listens
            completed = tuple(record.step for record in records if record.completed)
            self._emitter.emit(RunFinished, outcome=outcome, completed_steps=completed)
