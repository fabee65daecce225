"""The time a task has left before its effective deadline."""

from __future__ import annotations

import trio


def time_left() -> float:
    """Return the seconds left before the current task's effective deadline.

    Inside a handler serving an ``ask`` this is the asker's remaining budget (or less,
    when the handler set an earlier deadline of its own); ``math.inf`` when there is no
    deadline, and never below zero.
    """
    return max(0.0, trio.current_effective_deadline() - trio.current_time())
