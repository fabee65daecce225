"""examples/long_lived_system.py runs, tells its story and exits 0."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).parents[2] / "examples" / "long_lived_system.py"


def test_long_lived_system_runs_and_exits_0() -> None:
    """The example restarts the crashed actor, bounds an ask, and shuts down cleanly."""
    done = subprocess.run(
        [sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines.count("squarer: started") == 2  # once at spawn, once after the crash
    assert "crash: actor 'squarer' crashed handling the request: TypeError" in done.stdout
    assert "squarer: 4 squared is 16" in lines
    assert "tally: total is 30" in lines
    assert "slowpoke: no answer within 0.05 s" in lines
    assert "slowpoke: jobs cancelled with their asker: 1" in lines
    assert "child squarer: 1 restart(s)" in lines
    shutdown = lines[lines.index("shutting down") :]
    assert shutdown == [
        "shutting down",
        "squarer: stopped",
        "tally: stopped with total 30",
        "shut down cleanly",
    ]
    assert "actor 'squarer' crashed: TypeError: can't multiply sequence" in done.stderr
