"""Repeat measurements, interleaving ours with its references, and summarise lateness."""

from __future__ import annotations

import gc
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence

import trio

from ._results import percentile

Sample = dict[str, float]
"""What one run of a variant measured, by quantity name (e.g. ``{"seconds": 0.12}``)."""

Variant = Callable[[], Sample]
Samples = dict[str, dict[str, list[float]]]
"""Per variant, per quantity: one value per measured repetition."""

now = time.perf_counter


async def timed_batch(one: Callable[[str], Awaitable[None]], n: int) -> float:
    """Run ``one("warm")``, then ``n`` calls of ``one(f"P{i}")`` at once; return their seconds."""
    await one("warm")
    start = now()
    async with trio.open_nursery() as nursery:
        for i in range(n):
            nursery.start_soon(one, f"P{i}")
    return now() - start


def run_interleaved(variants: Mapping[str, Variant], *, repeats: int, warmup: int) -> Samples:
    """Run every variant ``warmup`` times unmeasured, then ``repeats`` times measured.

    Each repetition runs every variant once, in an order rotated by one per repetition,
    so a drift in the machine's speed (another process, a thermal limit) falls on
    ours and on the references alike. The garbage collector runs before each run so
    that one variant's garbage is not collected on another's time.
    """
    if repeats < 1:
        msg = f"repeats must be >= 1, got {repeats}"
        raise ValueError(msg)
    names = list(variants)
    for _ in range(warmup):
        for name in names:
            gc.collect()
            variants[name]()
    samples: Samples = {name: {} for name in names}
    for repetition in range(repeats):
        shift = repetition % len(names)
        for name in names[shift:] + names[:shift]:
            gc.collect()
            for quantity, value in variants[name]().items():
                samples[name].setdefault(quantity, []).append(value)
    return samples


def lateness_summary(lateness: Sequence[float], prefix: str = "") -> Sample:
    """Return p50, p99 and max of ``lateness`` (seconds) in milliseconds, and ``early``.

    A response that came before its deadline (the runtime can give up early, when a
    step's usual duration exceeds the time left) counts as 1 us late, and ``early``
    says how many did. Lateness below one microsecond is counted as one microsecond too:
    the clocks involved do not resolve less, and it keeps every ratio finite.
    """
    floored = [max(value, 1e-6) * 1000 for value in lateness]
    return {
        f"{prefix}p50_ms": percentile(floored, 50),
        f"{prefix}p99_ms": percentile(floored, 99),
        f"{prefix}max_ms": max(floored),
        f"{prefix}early": float(sum(1 for value in lateness if value < 0)),
    }
