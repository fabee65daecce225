"""examples/backends.py runs the workflow on every backend and stops a blocking step."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "backends.py"


def test_backends_example_runs() -> None:
    """Every backend gives the same response; a blocking step ends on time at its deadline."""
    result = subprocess.run(
        [sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    backends = ["inline", "thread", "process"]
    if importlib.util.find_spec("ray") is not None:
        backends.append("ray")
    steps = "generate_plan success, assess_risks success, generate_report success"
    assert lines[: len(backends)] == [f"{backend}: {steps}" for backend in backends]
    ended = "timeout on time, completed ['generate_plan']"
    assert f"blocking step on thread: {ended}" in lines
    assert "  abandoned threads still running: 1" in lines
    assert f"blocking step on process: {ended}" in lines
    assert ("ray" in backends) == (f"blocking step on ray: {ended}" in lines)
