"""Retry policies for steps: how many attempts, how long between them, and for what."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable
from typing import Any

import attrs


class StepFailedError(Exception):
    """Raised (to retry predicates, never to callers) for a step whose agent answered a failure.

    Attributes:
        error_type: The kind of failure: 'agent_error', 'step_timeout', or the class name
            of what the ask raised.
    """

    def __init__(self, message: str, error_type: str) -> None:
        super().__init__(message)
        self.error_type = error_type


class StepTimeoutError(StepFailedError):
    """Raised (to retry predicates) for an attempt that ran out of its step's own time."""


def _exception_types(
    value: type[BaseException] | Iterable[type[BaseException]],
) -> tuple[type[BaseException], ...]:
    # Checked here rather than at the first failure, where isinstance() would raise mid-run.
    if isinstance(value, type | str) or not isinstance(value, Iterable):
        types: tuple[Any, ...] = (value,)
    else:
        types = tuple(value)
    if not all(isinstance(t, type) and issubclass(t, BaseException) for t in types):
        msg = f"retry_on must be exception types, got {types!r}"
        raise TypeError(msg)
    return types


def _positive(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        msg = f"{attribute.name} must be a number, got {type(value).__name__}"
        raise TypeError(msg)
    if math.isnan(value) or value < 0:
        msg = f"{attribute.name} must be >= 0, got {value}"
        raise ValueError(msg)


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """When and how often a failed step is tried again.

    The wait before attempt ``n + 1`` is ``initial_interval * backoff_coefficient **
    (n - 1)``, capped at ``maximum_interval``, then scaled by a random factor in
    ``[1 - jitter, 1 + jitter]``. The run's deadline bounds it all: a wait that would
    end past the deadline is not started, and the run returns its timeout at once.

    Attributes:
        max_attempts: Attempts in all, the first included (1: no retry).
        initial_interval: Seconds before the second attempt.
        backoff_coefficient: Growth of the interval from one attempt to the next.
        maximum_interval: The longest wait between attempts, before jitter.
        jitter: Relative randomness of each wait, 0 to 1.
        retry_on: Failures retried, by type (one class or several): an agent 'error' answer is a
            StepFailedError, a step timeout a StepTimeoutError, and a crashed handler
            its original exception.
        retry_if: Instead of ``retry_on`` when given: a predicate on the failure.
        random: Source of jitter in [0, 1); tests pass a fixed one.

    Usage::

        Step(name="assess_risks", message_type="assess_risks",
             retry=RetryPolicy(max_attempts=3, initial_interval=0.5))
    """

    max_attempts: int = attrs.field(default=3)
    initial_interval: float = attrs.field(default=1.0, validator=_positive)
    backoff_coefficient: float = attrs.field(default=2.0, validator=_positive)
    maximum_interval: float = attrs.field(default=math.inf, validator=_positive)
    jitter: float = attrs.field(default=0.0, validator=_positive)
    retry_on: tuple[type[BaseException], ...] = attrs.field(
        default=(Exception,), converter=_exception_types
    )
    retry_if: Callable[[BaseException], bool] | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.is_callable())
    )
    random: Callable[[], float] = attrs.field(default=random.random, eq=False)

    @max_attempts.validator
    def _check_attempts(self, attribute: attrs.Attribute[int], value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            msg = f"max_attempts must be an int, got {type(value).__name__}"
            raise TypeError(msg)
        if value < 1:
            msg = f"max_attempts must be >= 1, got {value}"
            raise ValueError(msg)

    @jitter.validator
    def _check_jitter(self, attribute: attrs.Attribute[float], value: float) -> None:
        if value > 1:
            msg = f"jitter must be between 0 and 1, got {value}"
            raise ValueError(msg)

    def retries(self, failure: BaseException) -> bool:
        """Whether ``failure`` is one this policy retries."""
        if self.retry_if is not None:
            return self.retry_if(failure)
        return isinstance(failure, self.retry_on)

    def interval(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (counting from 1)."""
        try:
            grown = self.initial_interval * self.backoff_coefficient ** (attempt - 1)
        except OverflowError:  # float ** int raises past 1.8e308 instead of giving inf
            grown = math.inf if self.initial_interval else 0.0
        base = min(grown, self.maximum_interval)
        if self.jitter:
            base *= 1 - self.jitter + 2 * self.jitter * self.random()
        return base


NO_RETRY = RetryPolicy(max_attempts=1)
