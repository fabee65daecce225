"""examples/tracing.py runs and prints the span trees and run counts of its two runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("opentelemetry.sdk", reason="needs the otel extra: pip install -e '.[otel]'")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tracing.py"


def test_tracing_example_prints_each_run_s_span_tree() -> None:
    """A success's tree has every step and ask; a timeout's names the deadline; both count."""
    result = subprocess.run(
        [sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "project_initialization: success",
        "review: timeout",
        "workflow project_initialization: success",
        "  step generate_plan -> project_plan_agent: success",
        "  step assess_risks -> risk_assessment_agent: success",
        "  step generate_report -> status_reporter_agent: success",
        "workflow review: timeout (Workflow execution timed out after 0.2 seconds)"
        " [deadline_expired]",
        "  step review -> slow_review_agent: timeout"
        " (the run's deadline passed (its timeout of 0.2 seconds)) [deadline_expired]",
        "mira.runs project_initialization success: 1",
        "mira.runs review timeout: 1",
    ]
