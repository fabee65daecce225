"""The values a benchmark run produces: metrics, ratios, targets and case results."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import attrs

Better = Literal["higher", "lower"]


def _floats(values: Iterable[float]) -> tuple[float, ...]:
    return tuple(float(value) for value in values)


def _strings(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


def percentile(values: Sequence[float], q: float) -> float:
    """Return the ``q``-th percentile (0-100) of ``values``, interpolating linearly."""
    if not values:
        msg = "percentile() needs at least one value"
        raise ValueError(msg)
    if not 0 <= q <= 100:
        msg = f"percentile q must lie in [0, 100], got {q}"
        raise ValueError(msg)
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


@attrs.frozen(kw_only=True)
class Target:
    """A bound a value must meet: ``value >= bound`` (higher) or ``value <= bound`` (lower).

    Attributes:
        bound: The bound.
        better: Which side of the bound is good.
        judged_on: ``median`` for speed and lateness, ``worst`` for counts that must
            hold in every repetition (work after the deadline).
    """

    bound: float
    better: Better
    judged_on: Literal["median", "worst"] = "median"

    def met(self, samples: Sequence[float]) -> bool:
        """Whether ``samples`` meet this target."""
        if self.judged_on == "median":
            value = statistics.median(samples)
        else:
            value = min(samples) if self.better == "higher" else max(samples)
        return value >= self.bound if self.better == "higher" else value <= self.bound

    def describe(self) -> str:
        """Return the target as the table prints it, e.g. ``>= 2`` or ``<= 1.5``."""
        sign = ">=" if self.better == "higher" else "<="
        return f"{sign} {self.bound:g}"


@attrs.frozen(kw_only=True)
class Metric:
    """One measured quantity: its samples, one per repetition.

    A ratio is a metric whose unit is ``x``: ours divided by a reference, per
    repetition, in the direction the issue states its target.

    Attributes:
        key: A stable dotted name, e.g. ``tell.ratio.raw``.
        label: What it is, in words.
        unit: ``msg/s``, ``ms``, ``bytes``, ``count``, ``x`` (a ratio) ...
        samples: One value per repetition.
        better: Which direction is good, when that is meaningful.
        target: The bound the issue sets, if any.
    """

    key: str
    label: str
    unit: str
    samples: tuple[float, ...] = attrs.field(converter=_floats)
    better: Better | None = None
    target: Target | None = None

    def __attrs_post_init__(self) -> None:
        if not self.samples:
            msg = f"metric {self.key!r} has no samples"
            raise ValueError(msg)

    @property
    def is_ratio(self) -> bool:
        """Whether this metric is a ratio of ours to a reference."""
        return self.unit == "x"

    @property
    def median(self) -> float:
        """The median of the samples."""
        return statistics.median(self.samples)

    @property
    def low(self) -> float:
        """The smallest sample."""
        return min(self.samples)

    @property
    def high(self) -> float:
        """The largest sample."""
        return max(self.samples)

    @property
    def met(self) -> bool | None:
        """Whether the target is met; None without a target."""
        return None if self.target is None else self.target.met(self.samples)

    def as_json(self) -> dict[str, Any]:
        """Return the metric as a JSON-ready dict."""
        return {
            "key": self.key,
            "label": self.label,
            "unit": self.unit,
            "median": self.median,
            "min": self.low,
            "max": self.high,
            "samples": list(self.samples),
            "better": self.better,
            "target": None
            if self.target is None
            else {
                "bound": self.target.bound,
                "better": self.target.better,
                "judged_on": self.target.judged_on,
                "text": self.target.describe(),
            },
            "met": self.met,
        }


def _metrics(values: Iterable[Metric]) -> tuple[Metric, ...]:
    return tuple(values)


@attrs.frozen(kw_only=True)
class CaseResult:
    """What one case measured.

    Attributes:
        number: The case number (1-8 and 10; 1-7 are the issue's, 10 is 'adversity').
        title: A short title.
        metrics: Every metric and ratio, in report order.
        notes: Sentences the report prints under the case.
        seconds: Wall time the case took, warm-up included.
    """

    number: int
    title: str
    metrics: tuple[Metric, ...] = attrs.field(converter=_metrics)
    notes: tuple[str, ...] = attrs.field(converter=_strings, default=())
    seconds: float = 0.0

    @property
    def ratios(self) -> tuple[Metric, ...]:
        """The metrics that are ratios."""
        return tuple(m for m in self.metrics if m.is_ratio)

    def as_json(self) -> dict[str, Any]:
        """Return the case as a JSON-ready dict."""
        return {
            "number": self.number,
            "title": self.title,
            "seconds": self.seconds,
            "metrics": [m.as_json() for m in self.metrics],
            "notes": list(self.notes),
        }


def ratio_samples(ours: Sequence[float], reference: Sequence[float]) -> list[float]:
    """Return ``ours[i] / reference[i]`` per repetition (the pairs were measured together)."""
    if len(ours) != len(reference):
        msg = f"ratio needs paired samples, got {len(ours)} and {len(reference)}"
        raise ValueError(msg)
    return [a / b for a, b in zip(ours, reference, strict=True)]


def ratio_metric(
    key: str,
    label: str,
    ours: Sequence[float],
    reference: Sequence[float],
    *,
    better: Better,
    target: float | None = None,
) -> Metric:
    """Return the ratio ours / reference, per repetition, with an optional target bound."""
    return Metric(
        key=key,
        label=label,
        unit="x",
        samples=ratio_samples(ours, reference),
        better=better,
        target=None if target is None else Target(bound=target, better=better),
    )
