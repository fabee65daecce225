"""The command line's --otel: each run's span tree on stderr, or a clear error."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("opentelemetry.sdk", reason="needs the otel extra: pip install -e '.[otel]'")

PROJECT = Path(__file__).resolve().parents[3] / "examples" / "project.json"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the console script's entry point in a fresh interpreter."""
    code = "import sys; from mira_actors.agents._cli import main; sys.exit(main())"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_otel_console_prints_the_span_tree_of_a_timed_out_run() -> None:
    """A run cut by its deadline shows the run, its steps and asks, and the cut step's error."""
    result = run_cli("run", str(PROJECT), "--otel", "console", "--timeout", "0")
    assert result.returncode == 3, result.stderr
    assert json.loads(result.stdout)["status"] == "timeout"
    tree = [line for line in result.stderr.splitlines() if line.startswith("  ")]
    shape = [re.sub(r"  [\d.]+ ms.*", "", line) for line in tree]
    assert shape == [
        "  workflow project_initialization",
        "    ! Workflow execution timed out after 0.0 seconds",
        "    * deadline_expired",
        "    step generate_plan",
        "      ! the run's deadline passed (its timeout of 0 seconds)",
        "      * deadline_expired",
    ]
    assert "status=timeout" in tree[0]
    assert "attempt=1 " in tree[3]
    assert "outcome=timeout" in tree[3]
    assert "actor=project_plan_agent" in tree[3]


def test_otel_console_on_a_success_has_every_step() -> None:
    """A successful run's tree has each step, naming the agent it asked, and no error."""
    result = run_cli("run", str(PROJECT), "--otel", "console")
    assert result.returncode == 0, result.stderr
    names = re.findall(r"^ +(\S+ \S+)  [\d.]+ ms", result.stderr, flags=re.M)
    assert names == [
        "workflow project_initialization",
        "step generate_plan",
        "step assess_risks",
        "step generate_report",
    ]
    for agent in ("project_plan_agent", "risk_assessment_agent", "status_reporter_agent"):
        assert f"actor={agent} " in result.stderr
    assert " ! " not in result.stderr


def test_otel_otlp_without_the_exporter_exits_2_saying_what_to_install() -> None:
    """--otel otlp with no OTLP exporter installed is bad input, with the pip command."""
    try:
        import opentelemetry.exporter.otlp  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("the OTLP exporter is installed here")
    result = run_cli("run", str(PROJECT), "--otel", "otlp")
    assert result.returncode == 2
    assert "pip install opentelemetry-exporter-otlp" in result.stderr
