"""Freeing a big partial result without holding the GIL for the whole of it."""

from __future__ import annotations

import time
from typing import Any

SLICE = 1_000  # items freed by one C call, which holds the GIL throughout
YIELD_EVERY = 10_000  # items freed between explicit hand-overs of the GIL


def free_in_slices(items: list[Any]) -> None:
    """Empty ``items`` a slice at a time, handing the GIL over now and then.

    Freeing a list of a hundred thousand dicts is one C call that holds the GIL for
    tens of milliseconds; a step stopped at its deadline frees what it built while the
    trio thread answers its caller, which must not wait for it.
    """
    while items:
        del items[-SLICE:]
        if len(items) % YIELD_EVERY < SLICE:
            time.sleep(0)  # the trio thread, if it waits for the GIL, takes it now
