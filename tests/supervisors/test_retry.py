"""RetryPolicy: its checks, the backoff interval math, and which failures it retries."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import pytest

from supervisors import RetryPolicy, StepFailedError, StepTimeoutError


def fixed(*values: float) -> Callable[[], float]:
    """A stand-in for random.random that returns ``values`` in turn."""
    remaining = list(values)
    return lambda: remaining.pop(0)


def test_defaults() -> None:
    """By default: three attempts, 1 s doubling without cap or jitter, every Exception."""
    policy = RetryPolicy()
    assert (policy.max_attempts, policy.initial_interval, policy.backoff_coefficient) == (3, 1, 2)
    assert (policy.maximum_interval, policy.jitter) == (math.inf, 0)
    assert (policy.retry_on, policy.retry_if) == ((Exception,), None)


def test_interval_grows_by_the_backoff_coefficient() -> None:
    """The wait after attempt n is initial_interval * backoff_coefficient ** (n - 1)."""
    policy = RetryPolicy(initial_interval=0.5, backoff_coefficient=3)
    assert [policy.interval(n) for n in (1, 2, 3, 4)] == [0.5, 1.5, 4.5, 13.5]


def test_interval_is_capped_at_maximum_interval() -> None:
    """No wait is longer than maximum_interval."""
    policy = RetryPolicy(initial_interval=1, backoff_coefficient=2, maximum_interval=5)
    assert [policy.interval(n) for n in (1, 2, 3, 4, 5, 6)] == [1, 2, 4, 5, 5, 5]


def test_coefficient_one_is_a_constant_interval() -> None:
    """A backoff coefficient of 1 waits the initial interval every time."""
    policy = RetryPolicy(initial_interval=0.25, backoff_coefficient=1)
    assert [policy.interval(n) for n in (1, 2, 10)] == [0.25, 0.25, 0.25]


def test_interval_of_a_late_attempt_does_not_overflow() -> None:
    """Thousands of attempts in, the wait is the cap rather than an OverflowError."""
    policy = RetryPolicy(max_attempts=5000, initial_interval=1, maximum_interval=30)
    assert policy.interval(1100) == 30
    assert policy.interval(4999) == 30
    assert RetryPolicy(max_attempts=5000).interval(1100) == math.inf
    assert RetryPolicy(max_attempts=5000, initial_interval=0).interval(1100) == 0


def test_jitter_scales_the_wait_by_the_injected_random() -> None:
    """With jitter j, random r scales the wait by 1 - j + 2jr: from 1 - j up to 1 + j."""
    policy = RetryPolicy(initial_interval=2, jitter=0.5, random=fixed(0, 0.5, 0.75, 0.25))
    assert [policy.interval(1) for _ in range(4)] == [1.0, 2.0, 2.5, 1.5]


def test_jitter_applies_after_the_cap() -> None:
    """The capped wait is what jitter scales, so it may end up below or above the cap."""
    policy = RetryPolicy(
        initial_interval=1, maximum_interval=4, jitter=0.5, random=fixed(0.0, 0.75)
    )
    assert [policy.interval(4), policy.interval(4)] == [2.0, 5.0]


def test_no_jitter_never_calls_random() -> None:
    """Without jitter the random source is never consulted."""

    def broken() -> float:
        raise AssertionError("random was called")

    assert RetryPolicy(initial_interval=3, random=broken).interval(2) == 6


@pytest.mark.parametrize(
    ("field", "value", "error", "message"),
    [
        ("max_attempts", 0, ValueError, "max_attempts must be >= 1, got 0"),
        ("max_attempts", -2, ValueError, "max_attempts must be >= 1, got -2"),
        ("max_attempts", 1.5, TypeError, "max_attempts must be an int, got float"),
        ("max_attempts", True, TypeError, "max_attempts must be an int, got bool"),
        ("initial_interval", -1, ValueError, "initial_interval must be >= 0, got -1"),
        ("initial_interval", math.nan, ValueError, "initial_interval must be >= 0, got nan"),
        ("initial_interval", "1", TypeError, "initial_interval must be a number, got str"),
        ("backoff_coefficient", -0.5, ValueError, "backoff_coefficient must be >= 0, got -0.5"),
        ("maximum_interval", None, TypeError, "maximum_interval must be a number, got NoneType"),
        ("jitter", 1.5, ValueError, "jitter must be between 0 and 1, got 1.5"),
        ("jitter", -0.1, ValueError, "jitter must be >= 0, got -0.1"),
        ("jitter", False, TypeError, "jitter must be a number, got bool"),
    ],
)
def test_bad_fields_are_refused(
    field: str, value: Any, error: type[Exception], message: str
) -> None:
    """Each numeric field is checked when the policy is made, with a message naming it."""
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        RetryPolicy(**{field: value})


@pytest.mark.parametrize("retry_on", [(ValueError, "nope"), ["ValueError"], (int,), 42])
def test_retry_on_must_be_exception_types(retry_on: Any) -> None:
    """retry_on takes exception classes only, so a mistake shows when the policy is made."""
    with pytest.raises(TypeError, match=r"^retry_on must be exception types, got "):
        RetryPolicy(retry_on=retry_on)


def test_retry_on_takes_one_type_or_a_sequence() -> None:
    """A single exception class, or a list of them, is kept as a tuple."""
    assert RetryPolicy(retry_on=StepTimeoutError).retry_on == (StepTimeoutError,)
    assert RetryPolicy(retry_on=[KeyError, OSError]).retry_on == (KeyError, OSError)


def test_retry_if_must_be_callable() -> None:
    """A retry_if that cannot be called is refused when the policy is made."""
    with pytest.raises(TypeError, match="retry_if"):
        RetryPolicy(retry_if=True)  # type: ignore[arg-type]


def test_retries_every_exception_by_default() -> None:
    """The default policy retries agent errors, step timeouts and crashed handlers' errors."""
    policy = RetryPolicy()
    for failure in (
        StepFailedError("no", "agent_error"),
        StepTimeoutError("slow", "step_timeout"),
        KeyError("k"),
    ):
        assert policy.retries(failure)


def test_retry_on_picks_failures_by_type() -> None:
    """Only failures of a type in retry_on (subclasses included) are retried."""
    timeouts = RetryPolicy(retry_on=(StepTimeoutError,))
    assert timeouts.retries(StepTimeoutError("slow", "step_timeout"))
    assert not timeouts.retries(StepFailedError("no", "agent_error"))
    answers = RetryPolicy(retry_on=(StepFailedError,))
    assert answers.retries(StepTimeoutError("slow", "step_timeout"))
    assert not answers.retries(OSError("disk"))


def test_retry_if_replaces_retry_on() -> None:
    """Given a predicate, the policy asks it and ignores retry_on."""
    seen: list[BaseException] = []

    def transient(failure: BaseException) -> bool:
        seen.append(failure)
        return "transient" in str(failure)

    policy = RetryPolicy(retry_on=(KeyError,), retry_if=transient)
    flaky, broken = StepFailedError("transient glitch", "agent_error"), KeyError("k")
    assert policy.retries(flaky)
    assert not policy.retries(broken)
    assert seen == [flaky, broken]


def test_step_errors_carry_their_kind() -> None:
    """StepTimeoutError is a StepFailedError; both carry their error_type and message."""
    failure = StepTimeoutError("ran out", "step_timeout")
    assert isinstance(failure, StepFailedError)
    assert (str(failure), failure.error_type) == ("ran out", "step_timeout")


def test_policies_are_frozen_values() -> None:
    """A policy is immutable and compares by its settings, not its random source."""
    policy = RetryPolicy(max_attempts=2)
    with pytest.raises(AttributeError):
        policy.max_attempts = 5  # type: ignore[misc]
    assert policy == RetryPolicy(max_attempts=2, random=fixed(0.5))
