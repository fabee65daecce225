"""Draw every ratio of a run as one PNG: bars on a log scale, targets marked."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ._results import CaseResult, Metric

MET, MISSED, NO_TARGET = "#2e7d32", "#c62828", "#78909c"


def _colour(metric: Metric) -> str:
    if metric.met is None:
        return NO_TARGET
    return MET if metric.met else MISSED


def draw(cases: Sequence[CaseResult], path: Path, *, title: str) -> Path:
    """Draw the ratios of ``cases`` into the PNG at ``path`` and return it.

    One horizontal bar per ratio (median, with a min-max whisker) on a log axis, so
    2x and 0.5x are equally far from the 1x line; a black tick marks each target. Bar
    colour: green met, red missed, grey no target. The label says which way is better.
    """
    # Imported here: matplotlib takes a third of a second to import, and the scale
    # case's worker processes import this package but never draw.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    ratios = [(case.number, m) for case in cases for m in case.ratios]
    figure = Figure(figsize=(11, 0.42 * len(ratios) + 1.6), layout="constrained")
    FigureCanvasAgg(figure)  # the Agg canvas: no display, no pyplot state
    axes = figure.subplots()
    rows = list(range(len(ratios)))[::-1]
    for row, (_, metric) in zip(rows, ratios, strict=True):
        median = metric.median
        axes.barh(row, median, color=_colour(metric), height=0.6, left=0)
        axes.plot([metric.low, metric.high], [row, row], color="black", linewidth=1)
        if metric.target is not None:
            axes.plot(
                [metric.target.bound] * 2, [row - 0.38, row + 0.38], color="black", linewidth=2.5
            )
        axes.annotate(
            f" {median:.3g}x",
            (max(median, metric.high), row),
            va="center",
            fontsize=8,
        )
    axes.set_xscale("log")
    axes.axvline(1.0, color="black", linewidth=0.8, linestyle="--")
    axes.set_yticks(
        rows,
        [
            f"{number}. {m.label}  ({'higher' if m.better == 'higher' else 'lower'} is better)"
            for number, m in ratios
        ],
        fontsize=8,
    )
    axes.set_xlabel("ours / reference (log scale; dashed line = parity; black tick = target)")
    axes.set_title(title, fontsize=10)
    values = [
        v for _, m in ratios for v in (m.low, m.high, *([m.target.bound] if m.target else []))
    ]
    if values:
        axes.set_xlim(min(values) / 2, max(values) * 3)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    return path
