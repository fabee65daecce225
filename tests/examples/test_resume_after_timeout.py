"""examples/resume_after_timeout.py runs: a timeout, then a resume that skips the plan."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "resume_after_timeout.py"


def test_resume_after_timeout_example_runs() -> None:
    """The example exits 0; the resume completes the run with the plan made only once."""
    result = subprocess.run(
        [sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines == [
        "1. first run: timeout after 0.5 s",
        "   completed: ['generate_plan']",
        "   timed out: ['assess_risks']",
        "2. the ledger holds it: 'timeout', completed ['generate_plan']",
        "3. resumed: success, same workflow_id: True",
        "   steps (attempts; 0: carried over): "
        "[('generate_plan', 0), ('assess_risks', 1), ('generate_report', 1)]",
        "4. calls: generate_plan 1, assess_risks 2, generate_report 1",
        "   assess_risks was sent with the same idempotency key both times: True",
    ]
    assert "log: ERROR workflow timed out (timeout)" in result.stderr
