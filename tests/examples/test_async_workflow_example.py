"""examples/async_workflow_example.py runs and shows each case."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "async_workflow_example.py"


def test_async_workflow_example_runs() -> None:
    """The example exits 0 and prints each of its five cases with the right outcome."""
    result = subprocess.run(
        [sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert (
        "1. default timeout: [('generate_plan', 'success'), ('assess_risks', 'success'), "
        "('generate_report', 'success')]" in out
    )
    assert "2. custom timeout: 'status' in response = False" in out
    assert "(the slow risk assessment was cancelled at the deadline)" in out
    assert "error: Workflow execution timed out after 0.2 seconds" in out
    assert (
        "partial progress: {'completed_steps': ['generate_plan'], "
        "'total_steps_completed': 1, 'timeout_seconds': 0.2, "
        "'timed_out_steps': ['assess_risks']}" in out
    )
    assert "4. non-workflow message: project_plan_agent success 3 tasks" in out
    assert (
        "5. several at once: {'alpha': 'success', 'beta': 'success', "
        "'delta': 'success', 'gamma': 'success'}" in out
    )
