"""Run ids: uuid4-shaped, without the cost of ``uuid4()`` per run."""

from __future__ import annotations

import itertools
import os


class _RunIds:
    """Run ids: uuid4s (32 hex digits, version 4) from a random base and a count.

    The base is 74 random bits drawn per process (again after a fork), so ids stay
    unique across processes that share a store; a run costs a count, not ``uuid4()``.
    """

    def __init__(self) -> None:
        self._renew()
        os.register_at_fork(after_in_child=self._renew)

    def _renew(self) -> None:
        base = int.from_bytes(os.urandom(10)) << 48  # the count takes the low 48 bits
        base = (base & ~(0xF000 << 64)) | (0x4000 << 64)  # version 4
        self._base = (base & ~(0xC000 << 48)) | (0x8000 << 48)  # RFC 4122 variant
        self._count = itertools.count()

    def new(self) -> str:
        return f"{self._base | next(self._count):032x}"


new_run_id = _RunIds().new
"""Return a new run id: 32 lowercase hex digits, a version 4 uuid."""
