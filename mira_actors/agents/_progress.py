"""A progress display built on a run's events: a live line on a terminal, else a log."""

from __future__ import annotations

import math
from typing import TextIO

from supervisors import (
    RunEvent,
    RunFinished,
    RunStarted,
    StepCompleted,
    StepFailed,
    StepRetried,
    StepStarted,
)


def describe(event: RunEvent, since: float = 0.0) -> str:
    """Say in a few words what ``event`` means, timed from ``since``; never any data."""
    at = f"[{event.time - since:7.3f}s]"
    if isinstance(event, RunStarted):
        return f"{at} {event.workflow_type} started, timeout {_seconds(event.timeout)}"
    if isinstance(event, StepStarted):
        return (
            f"{at} {event.step}: attempt {event.attempt} started, {_seconds(event.budget)} budget"
        )
    if isinstance(event, StepCompleted):
        return f"{at} {event.step}: completed in {event.seconds:.3f}s ({_attempts(event.attempts)})"
    if isinstance(event, StepRetried):
        return (
            f"{at} {event.step}: attempt {event.attempt} failed ({event.error_type}), "
            f"retrying in {event.delay:.3f}s"
        )
    if isinstance(event, StepFailed):
        return f"{at} {event.step}: {event.status} after {_attempts(event.attempts)}"
    if isinstance(event, RunFinished):
        return f"{at} {event.workflow_type} finished: {event.outcome}"
    return f"{at} {type(event).__name__}"


def _attempts(count: int) -> str:
    return "1 attempt" if count == 1 else f"{count} attempts"


def _seconds(value: float) -> str:
    return "none" if math.isinf(value) else f"{value:.3g}s"


class ProgressDisplay:
    """An event sink that shows a run's progress on ``stream``.

    On a terminal, one line is rewritten in place and finished steps stay on screen;
    elsewhere (a pipe, a file) every event is a line of its own.

    Usage::

        await orchestrator.process_async(message, on_event=ProgressDisplay(sys.stderr))
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._live = stream.isatty()
        self._started: dict[str, float] = {}  # run id -> its start, to time events from

    def __call__(self, event: RunEvent) -> None:
        if isinstance(event, RunStarted):
            self._started[event.workflow_id] = event.time
        since = self._started.get(event.workflow_id, event.time)
        if isinstance(event, RunFinished):
            self._started.pop(event.workflow_id, None)
        text = describe(event, since)
        if not self._live:
            self._stream.write(text + "\n")
        elif isinstance(event, StepCompleted | StepFailed | RunFinished):
            self._stream.write("\r\x1b[K" + text + "\n")  # a finished line stays
        else:
            self._stream.write("\r\x1b[K" + text)  # replaced by the next event
        self._stream.flush()
