"""Short, safe text of any value for error messages and logs: bounded, never raising."""

from __future__ import annotations

import reprlib
from typing import Any

# About this many characters of a value reach a message; the rest becomes "...".
SAFE_REPR_LIMIT = 100
# An int with more bits than this is described by its size, not written out: turning a
# huge int into digits is slow, and past 4300 digits Python refuses (ValueError).
_MAX_INT_BITS = 1024


class _ShortRepr(reprlib.Repr):
    """reprlib's bounded repr, made safe for huge ints; nesting stops at a few levels."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 3
        self.maxstring = self.maxother = self.maxlong = SAFE_REPR_LIMIT + 10

    def repr_str(self, x: str, level: int) -> str:
        # Only the start: the final cut in safe_repr adds the one "...".
        return repr(x[: SAFE_REPR_LIMIT + 1])

    def repr_int(self, x: int, level: int) -> str:
        if x.bit_length() > _MAX_INT_BITS:
            return f"<int of {x.bit_length()} bits>"
        return super().repr_int(x, level)


_short = _ShortRepr()


def safe_repr(value: object, limit: int = SAFE_REPR_LIMIT) -> str:
    """Return a repr of ``value`` cut to about ``limit`` characters; it never raises.

    For values that come from users (a message type, a workflow name, a timeout) on
    their way into an error or a log: a 5 MB string, a 5,000-digit int, a list nested
    1,000 deep or an object whose ``__repr__`` raises each give a short line.

    Usage::

        msg = f"Unknown message type: {safe_repr(message_type)}"
    """
    try:
        text = _short.repr(value)
    except Exception:  # a __repr__, __len__ or __iter__ of the user's that raised
        text = f"<{_type_name(value)} object>"
    if len(text) > limit:
        text = text[:limit] + "..."
    return text


def safe_str(value: object, limit: int = SAFE_REPR_LIMIT) -> str:
    """Return ``value`` as text for a message: a str as it is, other values as :func:`safe_repr`.

    Either way cut to about ``limit`` characters, and it never raises.
    """
    if type(value) is str:  # a subclass may override __str__; it gets safe_repr
        return value if len(value) <= limit else value[:limit] + "..."
    return safe_repr(value, limit)


def exception_text(exc: BaseException, limit: int = SAFE_REPR_LIMIT) -> str:
    """Return ``str(exc)`` in at most ``limit`` characters ("..." ends a cut one).

    An exception with no text gives its class name. It never raises, even for an
    exception whose ``__str__`` does.
    """
    try:
        text = str(exc)
    except Exception:  # an exception of the user's whose __str__ raised
        text = ""
    if type(text) is not str or not text:  # a __str__ may return a str subclass
        text = _type_name(exc)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _type_name(value: object) -> str:
    name: Any = getattr(type(value), "__name__", "?")
    return name[:SAFE_REPR_LIMIT] if isinstance(name, str) else "?"
