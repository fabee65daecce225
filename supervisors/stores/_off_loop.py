"""A big value's JSON made in a worker thread, within the time a write has.

For a store with no thread of its own (MemoryStore): the value is encoded a piece at a
time (``encode_json_in_pieces``), so the trio thread takes the GIL back between pieces,
in a thread under the store's own limiter (never trio's shared one).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import trio

from ._json_pieces import is_small, looks_small
from ._json_values import encode_json, encode_json_in_pieces
from ._protocol import StoreUnavailableError

T = TypeVar("T")

FLOOR = 0.025
"""The least time an encoding gets, even past its deadline (as a SQLite commit does)."""


class Encoders:
    """The worker threads one store encodes big values in: one at a time, its own."""

    def __init__(self, store: str) -> None:
        self._store = store
        # One limiter per trio run: a limiter belongs to the run that made it.
        self._limiter: trio.lowlevel.RunVar[trio.CapacityLimiter] = trio.lowlevel.RunVar(
            "mira_store_encoders"
        )

    async def encode(
        self, value: Any, what: str, *, allow_nan: bool = False, budget: float = math.inf
    ) -> str:
        """Return ``value`` as JSON text (see ``encode_json``); a big one off the trio thread.

        Raises:
            TypeError, ValueError: ``value`` is not JSON.
            StoreUnavailableError: a big value was not encoded in the time left (at least
                :data:`FLOOR`, at most ``budget``); its thread stops at its next piece.
        """
        if looks_small(value) or is_small(value):
            return encode_json(value, what, allow_nan=allow_nan)
        return await self.run(
            partial(encode_json_in_pieces, value, what, allow_nan=allow_nan), budget=budget
        )

    async def run(self, encode: Callable[..., T], *, budget: float = math.inf) -> T:
        """Run ``encode(stopped=...)`` in a worker thread within the time left."""
        left = trio.current_effective_deadline() - trio.current_time()
        budget = max(min(budget, left), FLOOR)
        stop = threading.Event()
        # Shielded: the caller's cancellation does not interrupt a write; its time does.
        with trio.move_on_after(budget, shield=True):
            return await trio.to_thread.run_sync(
                partial(encode, stopped=stop.is_set),
                abandon_on_cancel=True,
                limiter=self._limiter_now(),
            )
        stop.set()
        raise StoreUnavailableError(self._store, budget)

    def _limiter_now(self) -> trio.CapacityLimiter:
        try:
            return self._limiter.get()
        except LookupError:
            limiter = trio.CapacityLimiter(1)
            self._limiter.set(limiter)
            return limiter
