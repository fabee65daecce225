"""A step's part of a run: its attempts, retries, refusals and failures, in the ledger."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import attrs
import trio

from mira_actors import ActorRef
from mira_actors.instrumentation import RunTrace

from ._attempt import Attempt, send_attempt
from ._events import Emitter, StepCompleted, StepFailed, StepRetried, StepStarted
from ._latency import AdaptiveTimeouts, LatencyHistory
from ._ledger import CANCELLED, CUT_SHORT, DEADLINE, ERROR, SUCCESS, TIMEOUT, Ledger, StepRecord
from ._retry import RetryPolicy
from ._tracing import attempt_traced
from ._workflow import Step, Workflow


class StepAttempts:
    """How a run runs one step; the run (``_Run``) holds the state these methods share."""

    workflow: Workflow
    data: Any
    routes: Mapping[str, ActorRef]
    ledger: Ledger
    step_timeouts: dict[str, float]
    retry: RetryPolicy
    history: LatencyHistory | None
    adaptive: AdaptiveTimeouts | None
    emitter: Emitter
    first_attempts: Mapping[str, int]
    scope: trio.CancelScope
    timeout: float
    cut: list[StepRecord]
    failure: StepRecord | None
    failure_error: str
    trace: RunTrace | None

    def event_fields(self) -> dict[str, Any]:
        raise NotImplementedError

    def note(self, record: StepRecord) -> None:
        raise NotImplementedError

    async def write(self, record: StepRecord) -> StepRecord:
        raise NotImplementedError

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
        ref = self.routes.get(step.message_type)
        # Attempts are numbered on from an earlier run's; the policy counts this run's.
        tally = _Tally(
            step=step.name,
            agent="" if ref is None else ref.name,
            started=trio.current_time(),
            before=self.first_attempts.get(step.name, 1) - 1,
        )
        if ref is None:
            error = f"no agent is registered for message type {step.message_type!r}"
            failed = tally.record(ERROR, error=error, error_type="no_agent")
            return await self.fail(step, failed, f"Step {step.name!r} failed: {error}")
        try:
            data = step.build_input(self.data, self.ledger.results())
        except Exception as exc:  # a builder fails on data of the wrong shape: a step error
            error = f"could not build its input: {type(exc).__name__}: {exc}"
            failed = tally.record(ERROR, error=error, error_type="bad_input")
            return await self.fail(step, failed, f"Step {step.name!r} failed: {error}")
        try:
            return await self.attempt_until_done(
                step, ref, {"type": step.message_type, "data": data}, tally
            )
        except trio.Cancelled:
            # Written at the moment of cancellation, so the ledger shows where time ran out;
            # committed with the outcome when the run ends.
            timed_out = self.scope.deadline <= trio.current_time()
            cut = tally.record(
                TIMEOUT if timed_out else CANCELLED,
                error_type=DEADLINE if timed_out else CUT_SHORT,
            )
            self.note(cut)
            self.cut.append(cut)
            self.emit_failed(cut)
            raise

    async def attempt_until_done(
        self, step: Step, ref: ActorRef, message: dict[str, Any], tally: _Tally
    ) -> bool:
        """Send attempts until one succeeds or the policy or the time says stop."""
        policy = step.retry or self.retry
        while True:
            refusal = self.refuse_attempt(step)
            if refusal is not None:
                failed = tally.record(TIMEOUT, error=refusal, error_type="not_enough_time")
                return await self.fail(step, failed, self.out_of_time(refusal))
            tally.attempt += 1
            outcome = await self.attempt(step, ref, message, tally.attempt)
            if outcome.completed:
                done = await self.write(tally.record(SUCCESS, result=outcome.result))
                if not done.completed:  # its result could not be stored
                    return self.end(step, done, f"Step {step.name!r} failed: {done.error}")
                if self.history is not None:
                    self.history.observe(self.key(step), outcome.seconds)
                self.emitter.emit(
                    StepCompleted(
                        **self.event_fields(),
                        step=step.name,
                        attempts=tally.attempt,
                        seconds=outcome.seconds,
                    )
                )
                return True
            failed = tally.record(
                outcome.status,
                result=outcome.result,
                error=outcome.error,
                error_type=outcome.error_type,
            )
            retryable = (
                tally.attempt - tally.before < policy.max_attempts
                and outcome.failure is not None
                and policy.retries(outcome.failure)
            )
            if not retryable:
                return await self.fail(step, failed, self.failure_text(step, outcome))
            delay = policy.interval(tally.attempt)
            if not self.can_start_at(step, trio.current_time() + delay):
                # The next attempt would be refused after the wait (no time left, or less
                # than its usual duration): fail now instead of waiting for that.
                reason = f"no time is left to retry step {step.name!r}"
                late = attrs.evolve(
                    failed, status=TIMEOUT, error=reason, error_type="no_time_to_retry"
                )
                return await self.fail(step, late, self.out_of_time(reason))
            self.emitter.emit(
                StepRetried(
                    **self.event_fields(),
                    step=step.name,
                    attempt=tally.attempt,
                    delay=delay,
                    error_type=str(outcome.error_type),
                )
            )
            await trio.sleep(delay)

    def out_of_time(self, reason: str) -> str:
        return f"Workflow execution timed out after {self.timeout} seconds: {reason}"

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
        self.emit_failed(failed)
        if step.optional:
            return True
        if self.failure is None:
            self.failure, self.failure_error = failed, error
        return False

    def emit_failed(self, failed: StepRecord) -> None:
        self.emitter.emit(
            StepFailed(
                **self.event_fields(),
                step=failed.step,
                attempts=failed.attempts,
                status=failed.status,
                error_type=failed.error_type,
            )
        )

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
    def failure_text(step: Step, outcome: Attempt) -> str:
        if outcome.error_type == "step_timeout":
            return f"Step {step.name!r} timed out: {outcome.error}"
        return f"Step {step.name!r} failed: {outcome.error}"

    async def attempt(
        self, step: Step, ref: ActorRef, message: dict[str, Any], attempt: int
    ) -> Attempt:
        """Send one attempt of ``step`` and say how it went."""
        timeout = self.timeout_for(step)
        budget = min(timeout, self.scope.deadline - trio.current_time())
        self.emitter.emit(
            StepStarted(**self.event_fields(), step=step.name, attempt=attempt, budget=budget)
        )
        headers = self.headers(step, attempt)
        sending = send_attempt(ref, message, headers=headers, timeout=timeout)
        if self.trace is None:
            return await sending
        return await attempt_traced(
            self.trace,
            self.scope,
            step=step.name,
            attempt=attempt,
            headers=headers,
            budget=budget,
            sending=sending,
        )


@attrs.define
class _Tally:
    """A step's attempts so far, and the records that describe it."""

    step: str
    agent: str
    started: float
    before: int  # attempts made by earlier runs
    attempt: int = attrs.field(default=attrs.Factory(lambda self: self.before, takes_self=True))

    def record(
        self,
        status: str,
        *,
        result: Any = None,
        error: str | None = None,
        error_type: str | None = None,
    ) -> StepRecord:
        """The step's record as of now."""
        return StepRecord(
            step=self.step,
            agent=self.agent,
            status=status,
            started_at=self.started,
            ended_at=trio.current_time(),
            attempts=self.attempt,
            result=result,
            error=error,
            error_type=error_type,
        )
