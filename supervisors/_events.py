"""Progress events of a workflow run: names, statuses, attempts and times, never payloads."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import attrs
import trio


@attrs.frozen(kw_only=True)
class RunEvent:
    """Something that happened in a run, at trio time ``time``."""

    workflow_id: str
    workflow_type: str
    time: float


@attrs.frozen(kw_only=True)
class RunStarted(RunEvent):
    """The run started, with this timeout."""

    timeout: float


@attrs.frozen(kw_only=True)
class StepStarted(RunEvent):
    """An attempt of a step was sent to its agent, with ``budget`` seconds to finish.

    The budget is the earlier of the step's own timeout and the run's deadline.
    """

    step: str
    attempt: int
    budget: float


@attrs.frozen(kw_only=True)
class StepCompleted(RunEvent):
    """A step succeeded, after this many attempts."""

    step: str
    attempts: int
    seconds: float


@attrs.frozen(kw_only=True)
class StepRetried(RunEvent):
    """An attempt failed and the step will be tried again after ``delay`` seconds."""

    step: str
    attempt: int
    error_type: str
    delay: float


@attrs.frozen(kw_only=True)
class StepFailed(RunEvent):
    """A step failed for good (status 'error', 'timeout' or 'cancelled')."""

    step: str
    attempts: int
    status: str
    error_type: str | None


@attrs.frozen(kw_only=True)
class RunFinished(RunEvent):
    """The run ended with ``outcome``.

    The outcome is 'success', 'timeout' or 'error', or 'cancelled' when the run's caller
    cancelled it (the run then returns no report).
    """

    outcome: str
    completed_steps: tuple[str, ...]


EventSink = Callable[[RunEvent], object] | trio.MemorySendChannel[RunEvent]
"""Where a run's events go: a callback, or a memory channel with an unbounded buffer."""


def check_sink(sink: object) -> None:
    """Raise unless ``sink`` is None, a callable, or a memory channel with an unbounded buffer.

    Raises:
        TypeError: neither a callable nor a memory channel.
        ValueError: a memory channel whose buffer is bounded (a slow reader would stall
            the run).
    """
    if isinstance(sink, trio.MemorySendChannel):
        if sink.statistics().max_buffer_size != math.inf:
            msg = "an events channel needs an unbounded buffer: trio.open_memory_channel(math.inf)"
            raise ValueError(msg)
    elif sink is not None and not callable(sink):
        msg = f"on_event must be a callable or a trio memory channel, got {type(sink).__name__}"
        raise TypeError(msg)


class Emitter:
    """Delivers one run's events to its sink, if it has one, without ever waiting.

    Events are built only when there is a sink: a run nobody listens to pays nothing.
    """

    def __init__(self, sink: EventSink | None, *, workflow_id: str, workflow_type: str) -> None:
        self._sink = sink
        self._workflow_id = workflow_id
        self._workflow_type = workflow_type

    @property
    def listening(self) -> bool:
        """Whether anyone receives the events."""
        return self._sink is not None

    def emit(self, kind: type[RunEvent], **fields: Any) -> None:
        """Deliver a ``kind`` event of this run, now; a channel whose reader has gone stops."""
        sink = self._sink
        if sink is None:
            return
        event = kind(
            workflow_id=self._workflow_id,
            workflow_type=self._workflow_type,
            time=trio.current_time(),
            **fields,
        )
        if isinstance(sink, trio.MemorySendChannel):
            try:
                sink.send_nowait(event)  # unbounded: checked when the run starts
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self._sink = None
        else:
            sink(event)
