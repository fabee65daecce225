"""The web view is the top layer: nothing below it imports it or its extra."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys
import mira_actors, supervisors, mira_actors.agents, mira_actors.agents._cli
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {"starlette", "hypercorn", "jinja2"}
                or m.startswith("mira_actors.web"))
print(loaded)
"""


def test_importing_the_packages_and_the_cli_loads_no_web_code() -> None:
    """import mira_actors, supervisors, the agents and the CLI loads neither web nor its extra."""
    result = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"
