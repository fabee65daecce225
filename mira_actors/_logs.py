"""The runtime's loggers, and the short, safe text that goes into a log line."""

from __future__ import annotations

import logging

# A library adds no handler of its own but this one, so an application that configures no
# logging sees nothing from us (not even logging's last-resort stderr output).
logging.getLogger("mira_actors").addHandler(logging.NullHandler())

actor_logger = logging.getLogger("mira_actors.actors")


def short_text(value: object, limit: int = 100) -> str:
    """Return ``str(value)`` cut to about ``limit`` characters, with an ellipsis if cut.

    Never raises: a value whose ``str()`` fails is described by its type.
    """
    try:
        text = str(value)
    except Exception:  # a hostile __str__; its type is still worth logging
        return f"<unprintable {type(value).__name__}>"
    return text if len(text) <= limit else text[:limit] + "..."


def describe_error(exc: BaseException) -> str:
    """Return ``"Type: message"`` for a log line, with the message cut short."""
    return f"{type(exc).__name__}: {short_text(exc)}"
