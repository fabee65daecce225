"""examples/step_policies.py runs and shows each policy at work."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "step_policies.py"


def test_step_policies_example_runs() -> None:
    """The example exits 0: a retry on the third attempt, a step timeout, a parallel group."""
    result = subprocess.run(
        [sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert (
        "1. retry with backoff: [('generate_plan', 1), ('assess_risks', 3), "
        "('generate_report', 1)]" in out
    )
    assert "assess_risks: attempt 1 failed (agent_error), retrying in 0.050s" in out
    assert "assess_risks: attempt 2 failed (agent_error), retrying in 0.100s" in out
    assert "assess_risks: completed in" in out
    assert "reporter: 0.20 s left when it started" in out
    assert (
        "2. step timeout: timeout - Step 'generate_report' timed out: "
        "the attempt ran out of its 0.2 seconds" in out
    )
    assert "'timed_out_steps': ['generate_report']" in out
    assert "3. parallel group: ['plan', 'risks', 'schedule']" in out
