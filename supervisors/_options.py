"""A run's options, checked once where the run is asked for, then passed down as one value."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from mira_actors import safe_repr, safe_str

from ._events import EventSink, check_sink
from ._ledger import StepRecord
from ._report import check_timeout
from ._retry import NO_RETRY, RetryPolicy
from ._workflow import Workflow

DEFAULT_TIMEOUT = 30.0

StepListener = Callable[[StepRecord], None]
"""Sees each ledger record of a run as it is written."""


def _step_timeouts(value: Mapping[str, Any] | None) -> Mapping[str, float]:
    if not value:
        return {}
    if not isinstance(value, Mapping):
        msg = f"step_timeouts must be a mapping of step name to seconds, got {type(value).__name__}"
        raise TypeError(msg)
    return {name: check_timeout(seconds) for name, seconds in value.items()}


def _retry(value: Any) -> RetryPolicy:
    if value is None:
        return NO_RETRY
    if type(value) is not RetryPolicy and not isinstance(value, RetryPolicy):
        msg = f"retry must be a RetryPolicy, got {type(value).__name__}"
        raise TypeError(msg)
    return value


def _sink(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None:  # the usual case, checked first: a run is made per call
        check_sink(value)


def _listener(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not callable(value):
        msg = f"on_step must be a callable, got {type(value).__name__}"
        raise TypeError(msg)


@attrs.frozen(kw_only=True)
class RunOptions:
    """How one run goes, beside its workflow and its data; checked when it is made.

    Made where a run is asked for, so that the caller gets a bad option's error itself,
    not from the middle of a run; the run engine takes it as it is.

    Attributes:
        timeout: The run's deadline, in seconds from its start (``math.inf``: none).
        step_timeouts: Seconds per attempt by step name, over the steps' own.
        retry: The policy of steps that have none of their own (default: no retry).
        on_event: Where progress events go: a callback, or a memory channel with an
            unbounded buffer (so a slow reader never stalls the run).
        on_step: Sees each ledger record as it is written.

    Raises:
        TypeError: a timeout that is not a number, a ``retry`` that is not a
            RetryPolicy, an ``on_event`` that is neither a callable nor a channel.
        ValueError: a negative or NaN timeout, or an events channel with a bounded buffer.
    """

    timeout: float = attrs.field(default=DEFAULT_TIMEOUT, converter=check_timeout)
    step_timeouts: Mapping[str, float] = attrs.field(factory=dict, converter=_step_timeouts)
    retry: RetryPolicy = attrs.field(default=None, converter=_retry)
    on_event: EventSink | None = attrs.field(default=None, validator=_sink)
    on_step: StepListener | None = attrs.field(default=None, validator=_listener)

    @classmethod
    def of(
        cls,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        step_timeouts: Mapping[str, float] | None = None,
        retry: RetryPolicy | None = None,
        on_event: EventSink | None = None,
        on_step: StepListener | None = None,
    ) -> RunOptions:
        """``RunOptions(...)`` for one call: options that are a timeout alone are shared.

        They are frozen, and a run is asked for on every call: checking a plain timeout
        once saves each call the checks.
        """
        if (
            (type(timeout) is float or type(timeout) is int)
            and step_timeouts is None
            and retry is None
            and on_event is None
            and on_step is None
        ):
            return _timeout_only(timeout)
        return cls(
            timeout=timeout,
            step_timeouts=step_timeouts,
            retry=retry,
            on_event=on_event,
            on_step=on_step,
        )

    def check_steps(self, workflow: Workflow) -> None:
        """Raise ValueError when ``step_timeouts`` names a step ``workflow`` does not have."""
        if not self.step_timeouts:
            return
        unknown = sorted(set(self.step_timeouts) - set(workflow.step_names))
        if unknown:
            msg = (
                f"step_timeouts names steps that workflow {workflow.name!r} does not have: "
                f"{safe_str(', '.join(map(safe_repr, unknown)))}; "
                f"its steps are {workflow.step_names}"
            )
            raise ValueError(msg)


@functools.lru_cache(maxsize=64)
def _timeout_only(timeout: float) -> RunOptions:
    return RunOptions(timeout=timeout)  # raises for a bad one, and nothing is cached
