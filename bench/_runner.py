"""Run the chosen cases and write the results: JSON, Markdown table and chart."""

from __future__ import annotations

import contextlib
import datetime
import functools
import logging
import sys
from collections.abc import Callable, Collection, Iterator
from pathlib import Path

import attrs

from mira_actors.instrumentation import set_instrumentation

from ._case_adversity import adversity_case
from ._case_deadline import blocking_case, lateness_case, measure_deadlines, work_after_case
from ._case_leases import leases_case
from ._case_messages import ask_case, tell_case
from ._case_scale import scale_case
from ._case_soak import soak_case
from ._case_store import store_case
from ._case_workflow import workflow_case
from ._chart import draw
from ._harness import now
from ._report import CHART_NAME, write
from ._results import CaseResult
from ._sizes import Sizes

ALL_CASES = (1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12)
CASE_NAMES = {"adversity": 10, "soak": 11, "leases": 12}
"""Cases that --cases also takes by name."""
DEFAULT_OUT = Path(__file__).resolve().parent / "results"


@attrs.frozen(kw_only=True)
class RunResult:
    """What :func:`run` produced.

    Attributes:
        cases: The results, in case order.
        seconds: Wall time of the whole run.
        json_path: The JSON file written.
        markdown_path: The Markdown table written.
        chart_path: The PNG chart written.
    """

    cases: tuple[CaseResult, ...]
    seconds: float
    json_path: Path
    markdown_path: Path
    chart_path: Path


@contextlib.contextmanager
def quiet_logs() -> Iterator[None]:
    """Send log records to a handler that drops them, for the run.

    The runtime logs every timed-out workflow; without a handler Python would print
    each one to stderr. The records are still created, so their cost stays measured.
    """
    root = logging.getLogger()
    handler = logging.NullHandler()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)


def _timed(build: Callable[[], CaseResult]) -> CaseResult:
    start = now()
    case = build()
    return attrs.evolve(case, seconds=now() - start)


def run_cases(
    sizes: Sizes, numbers: Collection[int], progress: Callable[[str], None]
) -> list[CaseResult]:
    """Run the cases in ``numbers`` (see ALL_CASES) at ``sizes`` and return their results."""
    unknown = set(numbers) - set(ALL_CASES)
    if unknown:
        msg = f"unknown case numbers {sorted(unknown)}; cases are {ALL_CASES}"
        raise ValueError(msg)
    simple: dict[int, Callable[[Sizes], CaseResult]] = {
        1: tell_case,
        2: ask_case,
        3: workflow_case,
        6: scale_case,
        7: blocking_case,
        8: store_case,
        10: adversity_case,
        11: soak_case,
        12: leases_case,
    }
    results: list[CaseResult] = []
    for number in sorted(set(numbers)):
        if number == 5 and 4 in numbers:
            continue  # measured together with case 4
        progress(f"case {number} ...")
        if number in simple:
            results.append(_timed(functools.partial(simple[number], sizes)))
            continue
        start = now()
        sequential, bursts = measure_deadlines(sizes)
        seconds = now() - start
        if 4 in numbers:
            results.append(attrs.evolve(lateness_case(sizes, sequential, bursts), seconds=seconds))
        if 5 in numbers:
            results.append(
                attrs.evolve(work_after_case(sizes, sequential, bursts), seconds=seconds)
            )
    return results


def run(
    sizes: Sizes,
    *,
    numbers: Collection[int] = ALL_CASES,
    out: Path = DEFAULT_OUT,
    mode: str = "full",
    progress: Callable[[str], None] | None = None,
) -> RunResult:
    """Run the benchmark and write ``latest.json``, ``latest.md`` and the chart into ``out``."""
    report = progress or (lambda line: print(line, file=sys.stderr, flush=True))
    started = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    start = now()
    # 'ours' is measured as a user without OpenTelemetry runs it, whatever a case (or
    # find_spec) imported before; case 3's variants set each OpenTelemetry setting in turn.
    set_instrumentation(None)
    with quiet_logs():
        cases = run_cases(sizes, numbers, report)
    seconds = now() - start
    json_path, markdown_path = write(
        out, cases, sizes=sizes, mode=mode, started=started, seconds=seconds
    )
    chart_path = draw(
        cases, out / CHART_NAME, title=f"mira-actors, {mode} run {started}: ours / reference"
    )
    return RunResult(
        cases=tuple(cases),
        seconds=seconds,
        json_path=json_path,
        markdown_path=markdown_path,
        chart_path=chart_path,
    )
