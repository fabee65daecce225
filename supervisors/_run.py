"""One workflow run: steps asked in order under the run's own deadline, kept in a ledger."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import trio

from mira_actors import ActorCrashedError, ActorRef, MiraError

from ._events import (
    Emitter,
    EventSink,
    RunFinished,
    RunStarted,
    StepCompleted,
    StepFailed,
    StepRetried,
    StepStarted,
)
from ._latency import AdaptiveTimeouts, LatencyHistory
from ._ledger import (
    CANCELLED,
    CUT_SHORT,
    DEADLINE,
    ERROR,
    SUCCESS,
    TIMEOUT,
    Ledger,
    StepRecord,
)
from ._report import OUT_OF_TIME, RunReport, check_run_options, check_timeout
from ._retry import NO_RETRY, RetryPolicy, StepFailedError, StepTimeoutError
from ._store import LedgerStore
from ._workflow import Parallel, Step, Workflow, read_agent_reply

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
    return await run.run(timeout, prior or {})


class _Run:
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
            await self.store.finish_run(
                self.ledger.workflow_id,
                outcome=report.outcome,
                response=report.response(),
                records=self.cut,
            )
        self.emitter.emit(
            RunFinished(
                **self.event_fields(),
                outcome=report.outcome,
                completed_steps=tuple(report.completed_steps),
            )
        )
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

    def timeout_for(self, step: Step) -> float:
        if step.name in self.step_timeouts:
            return self.step_timeouts[step.name]
        if step.timeout is not None:
            return step.timeout
        if self.adaptive is not None and self.history is not None:
            return self.adaptive.timeout_for(self.history, self.key(step))
        return math.inf

    def key(self, step: Step) -> str:
        return LatencyHistory.key(self.workflow.name, step.name)

    async def run_step(self, step: Step) -> bool:
        """Run a step with its retries; return whether the run goes on."""
        if step.name in self.ledger.results():
            return True  # completed in an earlier run
        policy = step.retry or self.retry
        started = trio.current_time()
        # Attempts are numbered on from an earlier run's; the policy counts this run's.
        before = self.first_attempts.get(step.name, 1) - 1
        attempt = before
        ref = self.routes.get(step.message_type)
        agent = "" if ref is None else ref.name

        def record(
            status: str,
            *,
            result: Any = None,
            error: str | None = None,
            error_type: str | None = None,
        ) -> StepRecord:
            return StepRecord(
                step=step.name,
                agent=agent,
                status=status,
                started_at=started,
                ended_at=trio.current_time(),
                attempts=attempt,
                result=result,
                error=error,
                error_type=error_type,
            )

        if ref is None:
            error = f"no agent is registered for message type {step.message_type!r}"
            return await self.fail(
                step,
                record(ERROR, error=error, error_type="no_agent"),
                f"Step {step.name!r} failed: {error}",
            )
        try:
            message_data = step.build_input(self.data, self.ledger.results())
        except Exception as exc:  # a builder fails on data of the wrong shape: a step error
            error = f"could not build its input: {type(exc).__name__}: {exc}"
            return await self.fail(
                step,
                record(ERROR, error=error, error_type="bad_input"),
                f"Step {step.name!r} failed: {error}",
            )
        message = {"type": step.message_type, "data": message_data}
        try:
            while True:
                refusal = self.refuse_attempt(step)
                if refusal is not None:
                    return await self.fail(
                        step,
                        record(TIMEOUT, error=refusal, error_type="not_enough_time"),
                        f"Workflow execution timed out after {self.timeout} seconds: {refusal}",
                    )
                attempt += 1
                outcome = await self.attempt(step, ref, message, attempt)
                if outcome.completed:
                    done = await self.write(record(SUCCESS, result=outcome.result))
                    if not done.completed:
                        return self.end(step, done, f"Step {step.name!r} failed: {done.error}")
                    if self.history is not None:
                        self.history.observe(self.key(step), outcome.seconds)
                    self.emitter.emit(
                        StepCompleted(
                            **self.event_fields(),
                            step=step.name,
                            attempts=attempt,
                            seconds=outcome.seconds,
                        )
                    )
                    return True
                failed = record(
                    outcome.status,
                    result=outcome.result,
                    error=outcome.error,
                    error_type=outcome.error_type,
                )
                retryable = (
                    attempt - before < policy.max_attempts
                    and outcome.failure is not None
                    and policy.retries(outcome.failure)
                )
                if not retryable:
                    return await self.fail(step, failed, self.failure_text(step, outcome))
                delay = policy.interval(attempt)
                if not self.can_start_at(step, trio.current_time() + delay):
                    # The next attempt would be refused after the wait (no time left, or
                    # less than its usual duration): fail now instead of waiting for that.
                    reason = f"no time is left to retry step {step.name!r}"
                    late = attrs.evolve(
                        failed, status=TIMEOUT, error=reason, error_type="no_time_to_retry"
                    )
                    return await self.fail(
                        step,
                        late,
                        f"Workflow execution timed out after {self.timeout} seconds: {reason}",
                    )
                self.emitter.emit(
                    StepRetried(
                        **self.event_fields(),
                        step=step.name,
                        attempt=attempt,
                        delay=delay,
                        error_type=str(outcome.error_type),
                    )
                )
                await trio.sleep(delay)
        except trio.Cancelled:
            # Written at the moment of cancellation, so the ledger shows where time ran out.
            timed_out = self.scope.deadline <= trio.current_time()
            cut = record(
                TIMEOUT if timed_out else CANCELLED,
                error_type=DEADLINE if timed_out else CUT_SHORT,
            )
            self.note(cut)
            self.cut.append(cut)
            self.emitter.emit(
                StepFailed(
                    **self.event_fields(),
                    step=step.name,
                    attempts=attempt,
                    status=cut.status,
                    error_type=cut.error_type,
                )
            )
            raise

    def can_start_at(self, step: Step, start: float) -> bool:
        """Whether an attempt starting at ``start`` has time left to finish, by the history."""
        left = self.scope.deadline - start
        if left <= 0:
            return False
        expected = None if self.history is None else self.history.expected(self.key(step))
        return expected is None or expected <= left

    def refuse_attempt(self, step: Step) -> str | None:
        """Why an attempt should not start (it cannot finish in time), or None."""
        if self.history is None:
            return None
        expected = self.history.expected(self.key(step))
        left = self.scope.deadline - trio.current_time()
        if expected is None or expected <= left:
            return None
        return (
            f"step {step.name!r} usually takes {expected:g} seconds and {max(left, 0.0):g} are left"
        )

    async def fail(self, step: Step, failed: StepRecord, error: str) -> bool:
        """Record a step that failed for good; return whether the run goes on."""
        return self.end(step, await self.write(failed), error)

    def end(self, step: Step, failed: StepRecord, error: str) -> bool:
        """Report a step that failed for good, once written; return whether the run goes on."""
        self.emitter.emit(
            StepFailed(
                **self.event_fields(),
                step=step.name,
                attempts=failed.attempts,
                status=failed.status,
                error_type=failed.error_type,
            )
        )
        if step.optional:
            return True
        if self.failure is None:
            self.failure, self.failure_error = failed, error
        return False

    def headers(self, step: Step, attempt: int) -> dict[str, Any]:
        """What the handler learns of the attempt; the key is the same on a resume."""
        workflow_id = self.ledger.workflow_id
        return {
            "workflow_id": workflow_id,
            "step": step.name,
            "attempt": attempt,
            "idempotency_key": f"{workflow_id}:{step.name}:{attempt}",
        }

    @staticmethod
    def failure_text(step: Step, outcome: _Attempt) -> str:
        if outcome.error_type == "step_timeout":
            return f"Step {step.name!r} timed out: {outcome.error}"
        return f"Step {step.name!r} failed: {outcome.error}"

    async def attempt(
        self, step: Step, ref: ActorRef, message: dict[str, Any], attempt: int
    ) -> _Attempt:
        """Send one attempt of ``step`` and say how it went."""
        timeout = self.timeout_for(step)
        budget = min(timeout, self.scope.deadline - trio.current_time())
        self.emitter.emit(
            StepStarted(**self.event_fields(), step=step.name, attempt=attempt, budget=budget)
        )
        began = trio.current_time()
        with trio.move_on_after(timeout) as step_scope:
            try:
                reply = await ref.ask(message, headers=self.headers(step, attempt))
            except ActorCrashedError as exc:
                cause = exc.__cause__ if exc.__cause__ is not None else exc
                return _Attempt.failed(str(exc), type(exc).__name__, cause)
            except (MiraError, trio.TooSlowError) as exc:
                return _Attempt.failed(str(exc), type(exc).__name__, exc)
        if step_scope.cancelled_caught:
            error = f"the attempt ran out of its {timeout:g} seconds"
            return _Attempt(
                status=TIMEOUT,
                error=error,
                error_type="step_timeout",
                failure=StepTimeoutError(error, "step_timeout"),
            )
        status, result, failure = read_agent_reply(reply)
        seconds = trio.current_time() - began
        if failure is None:
            return _Attempt(status=status, result=result, seconds=seconds)
        return _Attempt(
            status=status,
            result=result,
            error=failure,
            error_type="agent_error",
            failure=StepFailedError(failure, "agent_error"),
            seconds=seconds,
        )


@attrs.frozen(kw_only=True)
class _Attempt:
    """How one attempt went."""

    status: str
    result: Any = None
    error: str | None = None
    error_type: str | None = None
    failure: BaseException | None = None
    seconds: float = 0.0

    @property
    def completed(self) -> bool:
        return self.status == SUCCESS

    @classmethod
    def failed(cls, error: str, error_type: str, failure: BaseException) -> _Attempt:
        return cls(status=ERROR, error=error, error_type=error_type, failure=failure)
