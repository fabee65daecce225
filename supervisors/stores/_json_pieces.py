"""JSON text of a big value, made a piece at a time, so that its encoding can be stopped.

The C encoder makes a value's whole text in one call, holding the GIL throughout: 190 ms
for a plan of 20,000 goals (80,000 dicts, 10 MB) on the machines this project runs on,
in whichever thread it runs. Made in pieces of a few thousand items, the encoding lets
the interpreter switch threads between them, and its waiter can give up between two.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

SMALL = 20_000
"""A value with at most this many items (see :func:`is_small`) is encoded in one call."""
SLICE = 1_000  # the items of a big list encoded by one call


SHALLOW = 1_000  # see looks_small
_SEQUENCES = (list, tuple, dict)


def looks_small(value: Any) -> bool:
    """Return whether ``value`` and its values hold at most 1,000 items, one level down.

    The check every write makes, in a few hundred nanoseconds for a usual result: only
    a value that fails it is counted through (:func:`is_small`).
    """
    kind = type(value)
    if kind is dict:
        total = len(value)
        for item in value.values():
            if type(item) in _SEQUENCES:
                total += len(item)
        return total <= SHALLOW
    if kind is list or kind is tuple:
        return len(value) <= SHALLOW
    return True


def is_small(value: Any, limit: int = SMALL) -> bool:
    """Return whether ``value`` holds at most ``limit`` items, all levels counted.

    It stops counting past the limit, so it costs at most ``limit`` steps.
    """
    budget = limit
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            budget -= len(item)
            stack.extend(item.values())
        elif kind is list or kind is tuple:
            budget -= len(item)
            stack.extend(item)
        if budget < 0:
            return False
    return True


def json_pieces(value: Any, encode: Callable[[Any], str]) -> Iterator[str]:
    """Yield the JSON text of ``value`` in pieces, each one call of ``encode``.

    Joined, the pieces are ``encode(value)`` exactly, for an ``encode`` with the
    separators ``(',', ':')``; whatever ``encode`` raises for a part, this raises too.
    """
    kind = type(value)
    if is_small(value):
        yield encode(value)
    elif kind is list or kind is tuple:
        yield "["
        for start in range(0, len(value), SLICE):
            if start:
                yield ","
            part = value[start : start + SLICE]
            if is_small(part):
                yield encode(list(part))[1:-1]
            else:
                for index, item in enumerate(part):
                    if index:
                        yield ","
                    yield from json_pieces(item, encode)
        yield "]"
    elif kind is dict and all(type(key) is str for key in value):
        yield "{"
        for index, (key, item) in enumerate(value.items()):
            yield ("," if index else "") + encode(key) + ":"
            yield from json_pieces(item, encode)
        yield "}"
    else:  # a dict with keys JSON turns into text: as the encoder does it, in one call
        yield encode(value)
