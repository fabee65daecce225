"""The command line on a PostgreSQL store: --store postgresql://... wherever a store is taken."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PROJECT = ROOT / "examples" / "project.json"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the console script's entry point in a fresh interpreter."""
    code = "import sys; from mira_actors.agents._cli import main; sys.exit(main())"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_run_runs_and_resume_on_a_postgres_url(postgres_url: str) -> None:
    """run keeps a timed-out run in PostgreSQL; runs lists it; resume completes it."""
    first = run_cli("run", str(PROJECT), "--store", postgres_url, "--timeout", "0")
    assert first.returncode == 3, first.stderr
    workflow_id = json.loads(first.stdout)["workflow_id"]
    header, row = run_cli("runs", "--store", postgres_url).stdout.splitlines()
    assert header.split()[-2:] == ["OWNER", "LEASE"]
    assert row.split()[:3] == [workflow_id, "project_initialization", "timeout"]
    resumed = run_cli("resume", workflow_id, "--store", postgres_url)
    assert resumed.returncode == 0, resumed.stderr
    assert [s["status"] for s in json.loads(resumed.stdout)["steps"]] == ["success"] * 3
    row = run_cli("runs", "--store", postgres_url).stdout.splitlines()[1]
    assert row.split()[:5] == [workflow_id, "project_initialization", "success", "3", "1"]


def test_an_unreachable_database_is_a_clear_error(postgres_server: str) -> None:
    """A URL where no server listens exits 2 with one line naming the host, no traceback."""
    url = "postgresql://mira:s3cret@127.0.0.1:1/postgres"
    result = run_cli("runs", "--store", url)
    assert result.returncode == 2
    assert "cannot connect to the PostgreSQL store 'postgresql://mira@127.0.0.1:1/postgres'" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
    assert "s3cret" not in result.stderr
