"""Case 3's OpenTelemetry floor records what a traced run records, and the loop reports it."""

from __future__ import annotations

import pytest

pytest.importorskip("opentelemetry.sdk", reason="needs the otel extra: pip install -e '.[otel]'")

import re
from typing import Any

import trio

from bench._case_workflow import orchestrator
from bench._otel_floor import SdkFloor
from bench._otel_loop import main as otel_loop_main
from bench._workload import real_agents, workflow_message
from mira_actors.instrumentation import current, set_instrumentation
from tests.mira_actors.instrumentation.recorded import Recorded


def _one_run(instrumentation: Any, recorded: Recorded) -> list[tuple[str, list[str]]]:
    before = current()
    set_instrumentation(instrumentation)
    try:

        async def main() -> dict[str, Any]:
            orch = orchestrator(real_agents())
            async with orch.running():
                return await orch.process_async(workflow_message("P1"), timeout=30)

        response = trio.run(main)
    finally:
        set_instrumentation(before)
    assert "status" not in response
    return sorted((span.name, sorted(span.attributes or {})) for span in recorded.spans())


def test_the_floor_makes_the_spans_and_metrics_of_a_traced_run() -> None:
    """The floor's spans have the names and attribute keys ours have, and count the same."""
    ours, floor = Recorded(), Recorded()
    ours_spans = _one_run(ours.instrumentation, ours)
    floor_spans = _one_run(SdkFloor(floor.tracer_provider, floor.meter_provider), floor)
    assert [name for name, _ in ours_spans] == [
        "step assess_risks",
        "step generate_plan",
        "step generate_report",
        "workflow project_initialization",
    ]
    assert floor_spans == ours_spans
    for metric in ("mira.runs", "mira.step.duration"):
        assert floor.counts(metric) == ours.counts(metric)


def test_the_loop_prints_the_floor_ours_and_the_difference(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``python -m bench._otel_loop`` prints three figures in microseconds per run."""
    otel_loop_main(5)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert all(re.search(r": +-?\d+\.\d us/run$", line) for line in lines)
