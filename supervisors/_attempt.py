"""One attempt of a step: an ask under the step's own timeout, and how it went."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import attrs
import trio

from mira_actors import (
    ActorCrashedError,
    ActorRef,
    MiraError,
    current_deadline,
    exception_text,
    safe_str,
)

from ._ledger import ErrorType, Status
from ._report import ERROR_TEXT_LIMIT
from ._retry import StepFailedError, StepTimeoutError
from ._workflow import read_agent_reply


@attrs.frozen(kw_only=True)
class Attempt:
    """How one attempt went.

    Attributes:
        status: 'success', or the failure's status ('error', 'timeout', or what the
            agent answered).
        result: The agent's data.
        error: Why it failed.
        error_type: The kind of failure: 'agent_error', 'step_timeout', or the class
            name of what the ask raised.
        failure: The failure as an exception, for retry policies to judge: the
            handler's own exception when it raised.
        seconds: How long a successful attempt took.
    """

    status: str
    result: Any = None
    error: str | None = None
    error_type: str | None = None
    failure: BaseException | None = None
    seconds: float = 0.0

    @property
    def completed(self) -> bool:
        """Whether the attempt succeeded."""
        return self.status == Status.SUCCESS

    @classmethod
    def failed(cls, error: str, error_type: str, failure: BaseException) -> Attempt:
        """An attempt whose ask raised ``failure``."""
        return cls(status=Status.ERROR, error=error, error_type=error_type, failure=failure)


async def send_attempt(
    ref: ActorRef, message: Any, *, headers: Mapping[str, Any], timeout: float
) -> Attempt:
    """Ask ``ref`` with ``message`` under ``timeout`` (and the caller's deadline)."""
    began = trio.current_time()
    # A scope costs more than the rest of an ask: open one only for a step's own timeout.
    if timeout == math.inf:
        try:
            reply = await ref.ask(message, headers=headers)
        except (MiraError, trio.TooSlowError) as exc:
            return await failed_ask(exc)
        return _answered(reply, began)
    with trio.move_on_after(timeout) as scope:
        try:
            reply = await ref.ask(message, headers=headers)
        except (MiraError, trio.TooSlowError) as exc:
            return await failed_ask(exc)
    if scope.cancelled_caught:
        error = f"the attempt ran out of its {timeout:g} seconds"
        return Attempt(
            status=Status.TIMEOUT,
            error=error,
            error_type=ErrorType.STEP_TIMEOUT,
            failure=StepTimeoutError(error, ErrorType.STEP_TIMEOUT),
        )
    return _answered(reply, began)


async def failed_ask(exc: MiraError | trio.TooSlowError) -> Attempt:
    """The attempt whose ask raised ``exc``."""
    if isinstance(exc, ActorCrashedError):
        # The handler's own exception is the failure and names its kind; the wrapper's
        # text names the actor too.
        cause = exc.__cause__ if exc.__cause__ is not None else exc
        return Attempt.failed(exception_text(exc, ERROR_TEXT_LIMIT), type(cause).__name__, cause)
    if isinstance(exc, trio.TooSlowError) and (current_deadline() <= trio.current_time()):
        # The actor dropped the ask at its deadline, which is ours (the step's or the
        # run's): the cancellation that says so comes at the next deadline check, and
        # decides whether the step or the run ran out of time.
        await trio.sleep_forever()
    return Attempt.failed(exception_text(exc, ERROR_TEXT_LIMIT), type(exc).__name__, exc)


def _answered(reply: Any, began: float) -> Attempt:
    """The attempt whose ask got ``reply``, sent at ``began``."""
    status, result, failure = read_agent_reply(reply)
    seconds = trio.current_time() - began
    if failure is None:
        return Attempt(status=status, result=result, seconds=seconds)
    return failed_reply(status, result, failure, seconds)


def failed_reply(status: str, result: Any, failure: str, seconds: float) -> Attempt:
    """The attempt whose agent answered ``failure`` (read by :func:`read_agent_reply`)."""
    failure = safe_str(failure, ERROR_TEXT_LIMIT)  # the agent's text may quote its input
    return Attempt(
        status=status,
        result=result,
        error=failure,
        error_type=ErrorType.AGENT_ERROR,
        failure=StepFailedError(failure, ErrorType.AGENT_ERROR),
        seconds=seconds,
    )
