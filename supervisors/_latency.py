"""Observed step latencies, and timeouts that adapt to them."""

from __future__ import annotations

import bisect
import json
import math
from collections import deque
from pathlib import Path
from typing import Any

import attrs

DEFAULT_SAMPLES = 200


class LatencyHistory:
    """How long each step's successful attempts took, most recent last.

    Keyed by ``"<workflow>/<step>"``. It decides whether an attempt can finish in the
    time left (by the median), and feeds adaptive timeouts (by a percentile).
    """

    def __init__(self, *, samples: int = DEFAULT_SAMPLES) -> None:
        if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
            msg = f"samples must be an int >= 1, got {samples!r}"
            raise ValueError(msg)
        self._samples = samples
        self._seconds: dict[str, deque[float]] = {}
        # The same samples, kept sorted as they come and go: the median in O(1), read
        # before every attempt, instead of a sort of up to ``samples`` values.
        self._sorted: dict[str, list[float]] = {}

    @staticmethod
    def key(workflow: str, step: str) -> str:
        """The key of one step of one workflow."""
        return f"{workflow}/{step}"

    def observe(self, key: str, seconds: float) -> None:
        """Record one successful attempt's duration."""
        if not _is_seconds(seconds):  # else the history would save but not load again
            msg = f"a duration must be a number of seconds >= 0, got {seconds!r}"
            raise ValueError(msg)
        recent = self._seconds.get(key)
        if recent is None:
            recent = self._seconds[key] = deque(maxlen=self._samples)
            self._sorted[key] = []
        ordered = self._sorted[key]
        if len(recent) == self._samples:  # the oldest leaves the window
            del ordered[bisect.bisect_left(ordered, recent[0])]
        recent.append(seconds)
        bisect.insort(ordered, seconds)

    def count(self, key: str) -> int:
        """How many durations are recorded for ``key``."""
        return len(self._seconds.get(key, ()))

    def expected(self, key: str) -> float | None:
        """The median duration, or None before the first observation."""
        ordered = self._sorted.get(key)
        if not ordered:
            return None
        middle = len(ordered) // 2
        if len(ordered) % 2:
            return ordered[middle]
        return (ordered[middle - 1] + ordered[middle]) / 2

    def percentile(self, key: str, fraction: float) -> float | None:
        """The duration below which ``fraction`` of the observations lie (nearest rank)."""
        ordered = self._sorted.get(key)
        if not ordered:
            return None
        # Rounded first: 0.07 * 100 is 7.000000000000001 in binary, which ceil() would
        # push up to rank 8.
        rank = math.ceil(round(fraction * len(ordered), 9))
        return ordered[max(0, rank - 1)]

    def to_json(self) -> str:
        """Return the history as JSON: ``{"samples": n, "steps": {key: [seconds...]}}``."""
        steps = {key: list(values) for key, values in self._seconds.items()}
        return json.dumps({"samples": self._samples, "steps": steps})

    @classmethod
    def from_json(cls, text: str) -> LatencyHistory:
        """Rebuild a history saved by :meth:`to_json`.

        Raises:
            ValueError: the text is not such a history.
        """
        try:
            raw: Any = json.loads(text)
            samples, steps = raw["samples"], dict(raw["steps"])
        except (KeyError, TypeError, ValueError) as exc:
            msg = f"not a saved latency history: {type(exc).__name__}: {exc}"
            raise ValueError(msg) from exc
        history = cls(samples=samples)
        for key, values in steps.items():
            if not isinstance(values, list) or not all(_is_seconds(v) for v in values):
                msg = f"not a saved latency history: step {key!r} holds something but seconds"
                raise ValueError(msg)
            for value in values:
                history.observe(str(key), float(value))
        return history

    def save(self, path: str | Path) -> None:
        """Write the history to ``path`` as JSON."""
        Path(path).write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> LatencyHistory:
        """Read a history written by :meth:`save`."""
        return cls.from_json(Path(path).read_text(encoding="utf-8"))


def _is_seconds(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and value >= 0


@attrs.frozen(kw_only=True)
class AdaptiveTimeouts:
    """Step timeouts drawn from observed latency: a percentile times a safety factor.

    Until a step has ``min_samples`` observations it gets ``default``. The result is
    clamped between ``floor`` and ``ceiling``. A step's own timeout, or a per-call one,
    takes precedence.

    Attributes:
        percentile: Which percentile of the observed durations, 0 to 1.
        factor: The safety factor it is multiplied by.
        floor: The shortest timeout given.
        ceiling: The longest timeout given.
        default: The timeout before enough samples exist.
        min_samples: Observations needed before the percentile is trusted.
    """

    percentile: float = 0.95
    factor: float = 2.0
    floor: float = 0.05
    ceiling: float = 30.0
    default: float = 10.0
    min_samples: int = 20

    def __attrs_post_init__(self) -> None:
        if not 0 < self.percentile <= 1:
            msg = f"percentile must be in (0, 1], got {self.percentile}"
            raise ValueError(msg)
        # Written so that NaN fails every test: "not x > 0" rather than "x <= 0".
        if not (0 < self.floor <= self.ceiling and self.factor > 0 and self.min_samples >= 1):
            msg = (
                f"need 0 < floor <= ceiling, factor > 0 and min_samples >= 1; got floor "
                f"{self.floor}, ceiling {self.ceiling}, factor {self.factor}, "
                f"min_samples {self.min_samples}"
            )
            raise ValueError(msg)
        if not self.default >= 0:  # a negative one would fail the step's move_on_after()
            msg = f"default must be >= 0 seconds, got {self.default}"
            raise ValueError(msg)

    def timeout_for(self, history: LatencyHistory, key: str) -> float:
        """The timeout for the step ``key``, from its history."""
        if history.count(key) < self.min_samples:
            return self.default
        observed = history.percentile(key, self.percentile)
        assert observed is not None
        return min(self.ceiling, max(self.floor, observed * self.factor))
