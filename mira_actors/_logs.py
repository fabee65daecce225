"""The runtime's loggers, and the short, safe text that goes into a log line."""

from __future__ import annotations

import logging

from ._safe_repr import exception_text, safe_str

# A library adds no handler of its own but this one, so an application that configures no
# logging sees nothing from us (not even logging's last-resort stderr output).
logging.getLogger("mira_actors").addHandler(logging.NullHandler())

actor_logger = logging.getLogger("mira_actors.actors")


def short_text(value: str) -> str:
    """Return ``value`` cut to about 100 characters, with an ellipsis if cut."""
    return safe_str(value)


def describe_error(exc: BaseException) -> str:
    """Return ``"Type: message"`` for a log line, with the message cut short."""
    return f"{type(exc).__name__}: {exception_text(exc)}"
