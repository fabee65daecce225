"""Restart strategies and restart kinds, as in OTP."""

from __future__ import annotations

import enum


class Strategy(enum.Enum):
    """Which children restart when one of them crashes."""

    ONE_FOR_ONE = "one_for_one"
    """Only the child that crashed."""
    ONE_FOR_ALL = "one_for_all"
    """Every child: the others are stopped, then all start again in order."""
    REST_FOR_ONE = "rest_for_one"
    """The child that crashed and every child started after it."""


class Restart(enum.Enum):
    """When a child that exited is started again."""

    PERMANENT = "permanent"
    """Always, whether it crashed or stopped itself."""
    TRANSIENT = "transient"
    """Only when it crashed."""
    TEMPORARY = "temporary"
    """Never."""

    def applies(self, crashed: bool) -> bool:
        """Whether a child of this kind restarts after exiting (crashed or not)."""
        return self is Restart.PERMANENT or (self is Restart.TRANSIENT and crashed)
