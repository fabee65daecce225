"""How big a message is, measured cheaply: where it runs, and whether it is taken at all."""

from __future__ import annotations

from collections.abc import Mapping, Sized
from typing import Any

DEFAULT_MAX_MESSAGE_ITEMS = 1_000_000
"""The most items a message's data may hold (see :func:`message_items`) by default."""

MAX_INPUT_CHARS = 16 * 1024 * 1024
"""The largest input file (or standard input) the command line reads, in characters."""

DEFAULT_MAX_RESULT_ITEMS = 100_000
"""The most items a step's result may hold by default; more is an 'error' response."""

DEFAULT_INLINE_MAX_ITEMS = 10_000
"""Past this many items, an inline agent's step runs in a worker thread instead."""

_CHARS_PER_ITEM = 100  # a long string counts as one item per this many characters


def message_items(message: Any) -> int:
    """Return about how many items ``message['data']`` holds, looking one level deep.

    A response has its result under ``'data'`` too, so this measures results as well.

    The length of each list or dict in the data (and of the data itself), and a long
    string as one item per 100 characters: enough to tell a 200,000-goal project from
    a normal one, at a cost that grows with the number of keys, not with the items.
    """
    data = message.get("data") if type(message) is dict or isinstance(message, Mapping) else None
    if type(data) is dict or isinstance(data, Mapping):
        total = len(data)
        for value in data.values():
            # _size inlined for the common kinds: this runs twice on every step.
            kind = type(value)
            if kind is str:
                total += len(value) // _CHARS_PER_ITEM
            elif kind in _CONTAINERS:
                total += len(value)
            elif kind not in _ATOMS:
                total += _size(value)
        return total
    return _size(data)


_CONTAINERS = frozenset((list, dict, tuple, set, frozenset))
_ATOMS = frozenset((int, float, bool, type(None)))


def _size(value: Any) -> int:
    kind = type(value)  # exact types first: this runs on every step
    if kind in _CONTAINERS:
        return len(value)
    if kind is str or kind is bytes:
        return len(value) // _CHARS_PER_ITEM
    if kind in _ATOMS:
        return 0
    if isinstance(value, str | bytes):
        return len(value) // _CHARS_PER_ITEM
    if isinstance(value, Sized):
        return len(value)
    return 0
