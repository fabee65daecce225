"""Write a run's results: ``latest.json`` and the Markdown table ``latest.md``."""

from __future__ import annotations

import json
import math
import os
import platform
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import attrs

from ._results import CaseResult, Metric
from ._sizes import Sizes

SCHEMA = 1
CHART_NAME = "ratios.png"


def machine() -> dict[str, Any]:
    """Return what the run ran on: Python, OS, cores and the measured libraries."""
    versions: dict[str, str | None] = {}
    for package in ("trio", "pykka", "mira-actors"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "versions": versions,
    }


def targets(cases: Sequence[CaseResult]) -> list[Metric]:
    """Return every metric that carries a target, in case order."""
    return [m for case in cases for m in case.metrics if m.target is not None]


def as_json(
    cases: Sequence[CaseResult], *, sizes: Sizes, mode: str, started: str, seconds: float
) -> dict[str, Any]:
    """Return the whole run as a JSON-ready dict."""
    return {
        "schema": SCHEMA,
        "started": started,
        "mode": mode,
        "wall_seconds": seconds,
        "sizes": attrs.asdict(sizes),
        "machine": machine(),
        "targets": [
            {
                "key": m.key,
                "label": m.label,
                "unit": m.unit,
                "target": m.target.describe() if m.target else None,
                "median": m.median,
                "min": m.low,
                "max": m.high,
                "met": m.met,
            }
            for m in targets(cases)
        ],
        "cases": [case.as_json() for case in cases],
    }


def fmt(value: float, unit: str) -> str:
    """Format ``value`` for the table: ratios as ``1.23x``, rates with separators."""
    if math.isnan(value):
        return "nan"
    if unit == "x":
        return f"{value:.3g}x" if value < 10 else f"{value:.1f}x"
    if unit == "count":
        return f"{value:g}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _spread(metric: Metric) -> str:
    return f"{fmt(metric.low, metric.unit)} - {fmt(metric.high, metric.unit)}"


def _met(metric: Metric) -> str:
    if metric.met is None:
        return ""
    return "met" if metric.met else "**missed**"


def markdown(
    cases: Sequence[CaseResult],
    *,
    sizes: Sizes,
    mode: str,
    started: str,
    seconds: float,
    chart: str | None = CHART_NAME,
) -> str:
    """Return the Markdown report: targets first, then every ratio, then each case."""
    info = machine()
    lines = [
        "# mira-actors benchmark results",
        "",
        f"Run `{mode}` started {started}, {seconds:.0f} s in all; Python {info['python']} "
        f"on {info['platform']}, {info['cpus']} CPUs; trio {info['versions']['trio']}, "
        f"pykka {info['versions']['pykka']}. Each value is the median of "
        f"{sizes.repeats} repetitions after {sizes.warmup} warm-up, with the min - max "
        "over the repetitions. A ratio is ours / the reference, per repetition "
        "(measured side by side, interleaved), so `>= 2` means at least twice the "
        "reference's value.",
        "",
        "## Targets",
        "",
        "| case | what | median | min - max | target | |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    for case in cases:
        for m in case.metrics:
            if m.target is not None:
                lines.append(
                    f"| {case.number} | {m.label} | {fmt(m.median, m.unit)} "
                    f"{'' if m.unit == 'x' else m.unit} | {_spread(m)} | "
                    f"{m.target.describe()} | {_met(m)} |"
                )
    lines += [
        "",
        "## All ratios",
        "",
        "| case | ratio (ours / reference) | median | min - max | better | target |",
        "| --- | --- | ---: | ---: | --- | ---: |",
    ]
    for case in cases:
        for m in case.ratios:
            target = "" if m.target is None else m.target.describe()
            lines.append(
                f"| {case.number} | {m.label} | {fmt(m.median, 'x')} | {_spread(m)} | "
                f"{m.better} | {target} |"
            )
    if chart:
        lines += ["", f"![ratios, ours / reference]({chart})"]
    for case in cases:
        lines += [
            "",
            f"## Case {case.number}: {case.title}",
            "",
            "| metric | median | min - max | unit |",
            "| --- | ---: | ---: | --- |",
        ]
        for m in case.metrics:
            lines.append(f"| {m.label} | {fmt(m.median, m.unit)} | {_spread(m)} | {m.unit} |")
        lines += [
            "",
            *(f"- {note}" for note in case.notes),
            f"- Case wall time: {case.seconds:.1f} s.",
        ]
    return "\n".join(lines) + "\n"


def write(
    out: Path,
    cases: Sequence[CaseResult],
    *,
    sizes: Sizes,
    mode: str,
    started: str,
    seconds: float,
) -> tuple[Path, Path]:
    """Write ``latest.json`` and ``latest.md`` into ``out``; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / "latest.json", out / "latest.md"
    data = as_json(cases, sizes=sizes, mode=mode, started=started, seconds=seconds)
    json_path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    md_path.write_text(
        markdown(cases, sizes=sizes, mode=mode, started=started, seconds=seconds),
        encoding="utf-8",
    )
    return json_path, md_path
