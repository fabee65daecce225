"""The mira-actors command line: output, exit codes and JSON logs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PROJECT = ROOT / "examples" / "project.json"


def run_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the console script's entry point in a fresh interpreter."""
    code = "import sys; from mira_actors.agents._cli import main; sys.exit(main())"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_run_prints_the_workflow_response_and_exits_0() -> None:
    """`run examples/project.json` prints the three completed steps as JSON, exit 0."""
    result = run_cli("run", str(PROJECT))
    assert result.returncode == 0, result.stderr
    response = json.loads(result.stdout)
    assert "status" not in response
    assert [s["step"] for s in response["steps"]] == [
        "generate_plan",
        "assess_risks",
        "generate_report",
    ]
    assert [s["status"] for s in response["steps"]] == ["success"] * 3


def test_run_reads_standard_input() -> None:
    """`run -` reads the message from standard input."""
    message = {"type": "generate_plan", "data": {"name": "P", "goals": ["a"]}}
    result = run_cli("run", "-", stdin=json.dumps(message))
    assert result.returncode == 0, result.stderr
    response = json.loads(result.stdout)
    assert (response["agent_id"], response["status"]) == ("project_plan_agent", "success")


def test_zero_timeout_exits_3_with_the_timeout_response() -> None:
    """A zero timeout prints the timeout response and exits 3."""
    result = run_cli("run", str(PROJECT), "--timeout", "0")
    assert result.returncode == 3, result.stderr
    response = json.loads(result.stdout)
    assert response["status"] == "timeout"
    assert response["partial_progress"] == {
        "completed_steps": [],
        "total_steps_completed": 0,
        "timeout_seconds": 0.0,
    }


def test_failed_step_exits_1() -> None:
    """A workflow whose data the plan agent rejects prints an error response, exit 1."""
    message = {
        "type": "workflow",
        "data": {"workflow_type": "project_initialization", "data": {"goals": "x"}},
    }
    result = run_cli("run", "-", stdin=json.dumps(message))
    assert result.returncode == 1, result.stderr
    response = json.loads(result.stdout)
    assert response["status"] == "error"
    assert response["error"].startswith("Step 'generate_plan' failed")


@pytest.mark.parametrize(
    ("args", "stdin", "stderr"),
    [
        (("run", "-"), "{not json", "cannot read a JSON message"),
        (("run", "/nonexistent/message.json"), None, "cannot read a JSON message"),
        (("run", "-", "--timeout", "-1"), "{}", "Timeout must be non-negative, got -1.0"),
        (("run", "-", "--timeout", "nan"), "{}", "Timeout must be non-negative, got nan"),
    ],
)
def test_bad_input_exits_2_with_a_message(
    args: tuple[str, ...], stdin: str | None, stderr: str
) -> None:
    """Unreadable input or a bad timeout exits 2 and says why on stderr."""
    result = run_cli(*args, stdin=stdin)
    assert result.returncode == 2
    assert stderr in result.stderr
    assert result.stdout == ""


def test_invalid_message_exits_2() -> None:
    """A message without type and data prints 'Invalid message format', exit 2."""
    result = run_cli("run", "-", stdin=json.dumps({"kind": "workflow"}))
    assert result.returncode == 2
    assert json.loads(result.stdout)["error"] == "Invalid message format"


def test_json_logs_are_one_object_a_line_with_the_event_fields() -> None:
    """--log-format json writes each log record as a JSON line with its extra fields."""
    result = run_cli("run", str(PROJECT), "--log-format", "json", "--timeout", "0.5")
    assert result.returncode == 0, result.stderr
    entries = [json.loads(line) for line in result.stderr.splitlines()]
    by_kind = {e.get("event_type") or e.get("warning_type"): e for e in entries}
    assert by_kind["sub_second_timeout"]["timeout_seconds"] == 0.5
    completed = by_kind["workflow_completed"]
    assert completed["completed_steps"] == ["generate_plan", "assess_risks", "generate_report"]
    assert completed["completed_steps_count"] == 3
    assert completed["message_type"] == "workflow"
    assert "Customer Portal" not in result.stderr
