"""How a run runs one step: its attempts, retries and refusals, until it ends for good."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import attrs
import trio

from mira_actors import ActorRef, MiraError, current_deadline, exception_text
from mira_actors.instrumentation import RunTrace

from ._attempt import Attempt, failed_ask, failed_reply, send_attempt
from ._events import Emitter, StepCompleted, StepRetried, StepStarted
from ._latency import AdaptiveTimeouts, LatencyHistory
from ._ledger import OUTCOME_UNKNOWN, ErrorType, Status, StepRecord
from ._options import RunOptions
from ._tracing import attempt_traced
from ._workflow import Step, read_agent_reply

Commit = Callable[[StepRecord], Awaitable[StepRecord]]
"""Writes a finished step (store, then ledger) and returns the record as written."""


@attrs.frozen
class StepOutcome:
    """How a step failed for good: its record as written, and why (a success has none).

    Attributes:
        record: The step's last record.
        error: The run's error text.
        exception: What the failed attempt raised (the handler's own exception), or
            the failure it answered, as an exception; None when there was no attempt.
    """

    record: StepRecord
    error: str
    exception: BaseException | None = None


class StepRunner:
    """Runs the steps of one run, one call per step; the run decides what an outcome means.

    Args:
        workflow_type: The workflow's name (latency keys).
        workflow_id: The run's id (idempotency keys).
        data: The workflow data, from which each step's input is built.
        routes: The actor serving each message type.
        options: The run's options.
        history: Step latencies, observed and read (None: no admission by history).
        adaptive: Timeouts from ``history`` for steps with none of their own.
        emitter: Where the run's events go.
        first_attempts: The attempt number each step starts at (a resume numbers on).
        deadline: The run's own deadline (trio time): a step cancelled at or after it
            was cut short by the deadline, any other cancellation is the caller's.
        commit: Writes a finished step.
        note_attempt: Keeps a failed attempt that will be retried in the store only.
        cut: Told of each step cut short, with its record, before the cancellation
            goes on.
        trace: The run's trace span, when something records it.
    """

    def __init__(
        self,
        *,
        workflow_type: str,
        workflow_id: str,
        data: Any,
        routes: Mapping[str, ActorRef],
        options: RunOptions,
        history: LatencyHistory | None,
        adaptive: AdaptiveTimeouts | None,
        emitter: Emitter,
        first_attempts: Mapping[str, int],
        deadline: float,
        commit: Commit,
        note_attempt: Callable[[StepRecord], Awaitable[None]],
        cut: Callable[[StepRecord], None],
        trace: RunTrace | None = None,
    ) -> None:
        self._workflow_type = workflow_type
        self._workflow_id = workflow_id
        self._data = data
        self._routes = routes
        self._options = options
        self._history = history
        self._adaptive = adaptive
        self._emitter = emitter
        self._first_attempts = first_attempts
        self._deadline = deadline
        self._commit = commit
        self._note_attempt = note_attempt
        self._cut = cut
        self._trace = trace

    async def run(self, step: Step, results: Mapping[str, Any]) -> StepOutcome | None:
        """Run ``step`` with its retries, its input built from ``results``.

        Returns None when the step succeeded (and was committed), else how it failed. A
        step cut short by a cancellation is told to ``cut``, then the cancellation goes on.
        """
        started = trio.current_time()
        ref = self._routes.get(step.message_type)
        # Attempts are numbered on from an earlier run's; the policy counts this run's.
        attempt = self._first_attempts.get(step.name, 1)
        if ref is None:
            error = f"no agent is registered for message type {step.message_type!r}"
            failed = _Tally.of(step, "", started, attempt).record(
                Status.ERROR, error=error, error_type=ErrorType.NO_AGENT
            )
            return await self._fail(failed, f"Step {step.name!r} failed: {error}")
        try:
            data = step.build_input(self._data, results)
        except Exception as exc:  # a builder fails on data of the wrong shape: a step error
            error = f"could not build its input: {type(exc).__name__}: {exception_text(exc)}"
            failed = _Tally.of(step, ref.name, started, attempt).record(
                Status.ERROR, error=error, error_type=ErrorType.BAD_INPUT
            )
            return await self._fail(failed, f"Step {step.name!r} failed: {error}", exc)
        message = {"type": step.message_type, "data": data}
        key = LatencyHistory.key(self._workflow_type, step.name)
        tally = None  # made only for a step that needs one: it would cost every step
        try:
            if self._lean(step, key):
                # The common step: one ask, with no scope, span or event of its own, and no
                # Attempt or tally made when it succeeds. Anything else goes on below.
                began = trio.current_time()
                try:
                    reply = await ref.ask(message, headers=self._headers(step, attempt))
                except (MiraError, trio.TooSlowError) as exc:
                    sent: Attempt | None = await failed_ask(exc)
                else:
                    status, result, why = read_agent_reply(reply)
                    seconds = trio.current_time() - began
                    sent = None if why is None else failed_reply(status, result, why, seconds)
                if sent is not None:
                    tally = _Tally.of(step, ref.name, started, attempt, sent=1)
            else:
                tally, sent = _Tally.of(step, ref.name, started, attempt), None
            if tally is not None:
                done = await self._attempt_until_done(step, ref, message, tally, key, sent)
                if isinstance(done, StepOutcome):
                    return done
                result, seconds, attempt = done.result, done.seconds, tally.attempt
            record = StepRecord(
                step=step.name,
                agent=ref.name,
                status=Status.SUCCESS,
                started_at=started,
                ended_at=trio.current_time(),
                attempts=attempt,
                result=result,
            )
            committed = await self._commit(record)
            if not committed.completed:  # its result could not be stored
                return StepOutcome(committed, f"Step {step.name!r} failed: {committed.error}")
            if self._history is not None:
                self._history.observe(key, seconds)
            if self._emitter.listening:  # the event is made only for someone who listens
                self._emitter.emit(StepCompleted, step=step.name, attempts=attempt, seconds=seconds)
        except trio.Cancelled:
            if tally is None:  # cut short in the lean way's attempt
                tally = _Tally.of(step, ref.name, started, attempt, sent=1)
            # Recorded at the moment of cancellation, so the ledger shows where time ran out.
            if self._deadline <= trio.current_time():
                self._cut(tally.record(Status.TIMEOUT, error_type=ErrorType.DEADLINE))
            else:
                self._cut(tally.record(Status.CANCELLED, error_type=ErrorType.CANCELLED))
            raise
        return None

    def _lean(self, step: Step, key: str) -> bool:
        """Whether ``step``'s first attempt may go the lean way (:meth:`run`).

        It may with no timeout of its own, no trace, no listener, and the history's leave.
        """
        return (
            self._trace is None
            and not self._emitter.listening
            and self._timeout_for(step, key) == math.inf
            and self._refusal(step, key) is None
        )

    async def _attempt_until_done(
        self,
        step: Step,
        ref: ActorRef,
        message: dict[str, Any],
        tally: _Tally,
        key: str,
        first: Attempt | None,
    ) -> StepOutcome | Attempt:
        """Send attempts until one succeeds (returned) or the policy or the time says stop.

        ``first``: how an attempt already sent (and counted in ``tally``) went.
        """
        policy = step.retry or self._options.retry
        outcome = first
        while True:
            if outcome is None:
                refusal = self._refusal(step, key)
                if refusal is not None and self._caller_cancelled():
                    # The caller cancelled while nothing checkpointed (between two steps):
                    # that is a cancellation, not a lack of time. Let it end the step as one.
                    await trio.lowlevel.checkpoint()
                if refusal is not None:
                    failed = tally.record(
                        Status.TIMEOUT, error=refusal, error_type=ErrorType.NOT_ENOUGH_TIME
                    )
                    return await self._fail(failed, self._out_of_time(refusal))
                tally.start_attempt()
                outcome = await self._attempt(step, ref, message, tally.attempt, key)
            if outcome.completed:
                return outcome
            failed = tally.record(
                outcome.status,
                result=outcome.result,
                error=outcome.error,
                error_type=outcome.error_type,
            )
            tally.outcome_known = outcome.error_type not in OUTCOME_UNKNOWN
            retryable = (
                tally.sent < policy.max_attempts
                and outcome.failure is not None
                and policy.retries(outcome.failure)
            )
            if not retryable:
                return await self._fail(failed, _failure_text(step, outcome), outcome.failure)
            # Kept in the store before the retry, so a resume after a crash knows which
            # attempt the crash cut short (and so which key to send again).
            await self._note_attempt(attrs.evolve(failed, result=None))
            delay = policy.interval(tally.before + tally.sent)  # grows with every send
            if self._caller_cancelled():
                await trio.lowlevel.checkpoint()  # a cancellation, as above
            if not self._can_start_at(key, trio.current_time() + delay):
                # The next attempt would be refused after the wait (no time left, or less
                # than its usual duration): fail now instead of waiting for that.
                reason = f"no time is left to retry step {step.name!r}"
                late = attrs.evolve(
                    failed,
                    status=Status.TIMEOUT,
                    error=reason,
                    error_type=ErrorType.NO_TIME_TO_RETRY,
                )
                return await self._fail(late, self._out_of_time(reason), outcome.failure)
            self._emitter.emit(
                StepRetried,
                step=step.name,
                attempt=tally.attempt,
                delay=delay,
                error_type=str(outcome.error_type),
            )
            await trio.sleep(delay)
            outcome = None

    async def _fail(
        self, failed: StepRecord, error: str, exception: BaseException | None = None
    ) -> StepOutcome:
        return StepOutcome(await self._commit(failed), error, exception)

    def _out_of_time(self, reason: str) -> str:
        return f"Workflow execution timed out after {self._options.timeout} seconds: {reason}"

    def _refusal(self, step: Step, key: str) -> str | None:
        """Why an attempt should not start now (by its history it cannot finish), or None.

        The time left is the caller's as well as the run's: the effective deadline.
        """
        if self._history is None:
            return None
        expected = self._history.expected(key)
        if expected is None:
            return None  # nothing to judge by yet
        left = current_deadline() - trio.current_time()
        if expected <= left:
            return None
        return (
            f"step {step.name!r} usually takes {expected:g} seconds and {max(left, 0.0):g} are left"
        )

    def _caller_cancelled(self) -> bool:
        """Whether a cancellation other than the run's own deadline is pending."""
        cancelled = current_deadline() == -math.inf
        return cancelled and self._deadline > trio.current_time()

    def _can_start_at(self, key: str, start: float) -> bool:
        """Whether an attempt starting at ``start`` has time left to finish, by the history."""
        left = current_deadline() - start
        if left <= 0:
            return False
        expected = None if self._history is None else self._history.expected(key)
        return expected is None or expected <= left

    def _timeout_for(self, step: Step, key: str) -> float:
        timeout = self._options.step_timeouts.get(step.name)
        if timeout is not None:
            return timeout
        if step.timeout is not None:
            return step.timeout
        if self._adaptive is not None and self._history is not None:
            return self._adaptive.timeout_for(self._history, key)
        return math.inf

    def _headers(self, step: Step, attempt: int) -> dict[str, Any]:
        """What the handler learns of an attempt; the key is the same on a resume."""
        workflow_id = self._workflow_id
        return {
            "workflow_id": workflow_id,
            "step": step.name,
            "attempt": attempt,
            "idempotency_key": f"{workflow_id}:{step.name}:{attempt}",
        }

    def _attempt(
        self, step: Step, ref: ActorRef, message: dict[str, Any], attempt: int, key: str
    ) -> Awaitable[Attempt]:
        """Send one attempt of ``step``; awaited, it says how it went.

        Not a coroutine itself: the one it hands back is the attempt's, a frame less.
        """
        timeout = self._timeout_for(step, key)
        traced = self._trace is not None
        budget = math.inf
        if traced or self._emitter.listening:  # read only for someone who will see it
            budget = min(timeout, current_deadline() - trio.current_time())
            self._emitter.emit(StepStarted, step=step.name, attempt=attempt, budget=budget)
        headers = self._headers(step, attempt)
        sending = send_attempt(ref, message, headers=headers, timeout=timeout)
        if not traced or self._trace is None:
            return sending
        return attempt_traced(
            self._trace,
            self._deadline,
            step=step.name,
            attempt=attempt,
            headers=headers,
            budget=budget,
            sending=sending,
        )


def _failure_text(step: Step, outcome: Attempt) -> str:
    if outcome.error_type == ErrorType.STEP_TIMEOUT:
        return f"Step {step.name!r} timed out: {outcome.error}"
    return f"Step {step.name!r} failed: {outcome.error}"


@attrs.define
class _Tally:
    """A step's attempts so far, and the records that describe it.

    ``attempt`` numbers attempts across runs, and so idempotency keys: an attempt whose
    outcome is unknown (its own timeout cut it) is sent again under the same number.
    ``sent`` counts this run's sends, which the retry policy bounds.
    """

    step: str
    agent: str
    started: float
    before: int  # the number of the last attempt an earlier run made
    attempt: int
    sent: int = 0
    outcome_known: bool = True  # of the last attempt sent

    @classmethod
    def of(cls, step: Step, agent: str, started: float, first: int, *, sent: int = 0) -> _Tally:
        """The tally of ``step``, whose first attempt in this run is number ``first``.

        ``sent``: 1 when that attempt was sent already (the lean way), 0 when not.
        """
        before = first - 1
        return cls(step.name, agent, started, before, before + sent, sent)

    def start_attempt(self) -> None:
        """Count a send: a new attempt, or the last one again when its outcome is unknown."""
        if self.outcome_known or self.sent == 0:
            self.attempt += 1
        self.sent += 1

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
