"""Python's cyclic garbage collector, held off while a built-in agent builds a big result.

A plan for 200,000 goals is hundreds of thousands of new dicts and lists. Each time the
live heap grows by a quarter, CPython runs a full collection over all of it, holding the
GIL for tens of milliseconds, in whichever thread allocates; one that falls on a
deadline makes every answer late by that much. The built-in agents make no reference
cycles (their results are trees, freed by reference counting), so there is nothing for
those passes to find: automatic collection waits until the step ends instead.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

SLICE = 1_000  # items freed by one C call, which holds the GIL throughout
YIELD_EVERY = 10_000  # items freed between explicit hand-overs of the GIL
PAUSE_FROM_ITEMS = 1_000
"""A step that builds fewer items than this leaves the collector alone: a pass is short."""

_lock = threading.Lock()
_holders = 0  # steps (in any thread) holding the collector off now
_enable_after = False  # whether automatic collection was on when the first one began


@contextmanager
def collection_paused(items: int) -> Iterator[None]:
    """Hold off automatic cyclic collection for a step that builds about ``items`` objects.

    Process-wide, as the collector is, and counted: it resumes when the last step
    holding it off ends, and only when it was on before the first one began (code that
    turned it off keeps it off). For code that makes no reference cycles, so that
    nothing is left for the collector meanwhile; explicit ``gc.collect()`` still works.
    """
    if items < PAUSE_FROM_ITEMS:
        yield
        return
    global _holders, _enable_after
    with _lock:
        if _holders == 0:
            _enable_after = gc.isenabled()
            gc.disable()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _enable_after:
                gc.enable()


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
