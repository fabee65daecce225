"""The mira-actors command line: output, exit codes and JSON logs."""

from __future__ import annotations

import json
import re
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
    """A zero timeout prints the timeout response, naming the first step as cut, and exits 3."""
    result = run_cli("run", str(PROJECT), "--timeout", "0")
    assert result.returncode == 3, result.stderr
    response = json.loads(result.stdout)
    assert response["status"] == "timeout"
    assert response["partial_progress"] == {
        "completed_steps": [],
        "total_steps_completed": 0,
        "timeout_seconds": 0.0,
        "timed_out_steps": ["generate_plan"],
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


def test_step_timeout_and_progress_flags() -> None:
    """--step-timeout reaches the step and --progress writes each event as a line on stderr."""
    result = run_cli(
        "run", str(PROJECT), "--step-timeout", "assess_risks=2.5", "--progress", "--retries", "1"
    )
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("[")]
    # Steps take real time here: their seconds are whatever they took.
    shown = [re.sub(r"in \d+\.\d{3}s", "in Ns", line.split("] ", 1)[1]) for line in lines]
    assert [line.split(",")[0] for line in shown] == [
        "project_initialization started",
        "generate_plan: attempt 1 started",
        "generate_plan: completed in Ns (1 attempt)",
        "assess_risks: attempt 1 started",
        "assess_risks: completed in Ns (1 attempt)",
        "generate_report: attempt 1 started",
        "generate_report: completed in Ns (1 attempt)",
        "project_initialization finished: success",
    ]
    assert "assess_risks: attempt 1 started, 2.5s budget" in result.stderr


@pytest.mark.parametrize(
    ("args", "stderr"),
    [
        (("--step-timeout", "assess_risks"), "expected NAME=SECONDS"),
        (("--step-timeout", "assess_risks=-1"), "expected NAME=SECONDS"),
        (("--step-timeout", "nope=1"), "does not have: 'nope'"),
        (("--retries", "-1"), "expected a whole number of retries"),
    ],
)
def test_bad_policy_flags_exit_2(args: tuple[str, ...], stderr: str) -> None:
    """A malformed or unknown --step-timeout, or a negative --retries, exits 2 saying why."""
    result = run_cli("run", str(PROJECT), *args)
    assert result.returncode == 2
    assert stderr in result.stderr


@pytest.mark.parametrize("backend", ["inline", "thread", "process"])
def test_backend_runs_the_built_in_agents_there(backend: str) -> None:
    """--backend NAME runs the workflow's steps on that backend, with the same response."""
    result = run_cli("run", str(PROJECT), "--backend", backend)
    assert result.returncode == 0, result.stderr
    response = json.loads(result.stdout)
    assert [(s["step"], s["status"]) for s in response["steps"]] == [
        ("generate_plan", "success"),
        ("assess_risks", "success"),
        ("generate_report", "success"),
    ]


def test_backend_ray_runs_on_a_local_ray_instance() -> None:
    """--backend ray starts a local Ray instance (no MIRA_RAY_ADDRESS) and runs there."""
    pytest.importorskip("ray")
    result = run_cli("run", str(PROJECT), "--backend", "ray")
    assert result.returncode == 0, result.stderr
    assert [s["status"] for s in json.loads(result.stdout)["steps"]] == ["success"] * 3


def test_unknown_backend_exits_2() -> None:
    """An unknown --backend exits 2, listing the backends."""
    result = run_cli("run", str(PROJECT), "--backend", "gpu")
    assert result.returncode == 2
    assert "argument --backend: invalid choice: 'gpu'" in result.stderr
    for name in ("inline", "thread", "process", "ray"):
        assert name in result.stderr.rsplit("choose from", 1)[1]


def test_backend_ray_without_the_extra_exits_2_saying_how_to_install_it() -> None:
    """--backend ray without Ray installed exits 2, naming the extra to install."""
    code = (
        "import sys; sys.modules['ray'] = None; "
        "from mira_actors.agents._cli import main; sys.exit(main())"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, "run", str(PROJECT), "--backend", "ray"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "mira-actors: the 'ray' backend needs Ray: pip install 'mira-actors[ray]'" in (
        result.stderr
    )
    assert result.stdout == ""


def test_store_resume_and_runs(tmp_path: Path) -> None:
    """run --store keeps a timed-out run; runs lists it; resume completes it; runs shows so."""
    store = str(tmp_path / "ledger.db")
    first = run_cli("run", str(PROJECT), "--store", store, "--timeout", "0")
    assert first.returncode == 3, first.stderr
    workflow_id = json.loads(first.stdout)["workflow_id"]
    listed = run_cli("runs", "--store", store)
    assert listed.returncode == 0, listed.stderr
    header, row = listed.stdout.splitlines()
    assert header.split() == [
        "WORKFLOW_ID", "WORKFLOW", "STATUS", "STEPS_DONE", "RESUMES", "AGE", "OWNER", "LEASE"
    ]  # fmt: skip
    assert row.split()[:5] == [workflow_id, "project_initialization", "timeout", "0", "0"]
    assert row.split()[-2:] == ["-", "-"]  # a finished run holds no lease
    resumed = run_cli("resume", workflow_id, "--store", store)
    assert resumed.returncode == 0, resumed.stderr
    response = json.loads(resumed.stdout)
    assert response["workflow_id"] == workflow_id
    assert [(s["step"], s["status"]) for s in response["steps"]] == [
        ("generate_plan", "success"),
        ("assess_risks", "success"),
        ("generate_report", "success"),
    ]
    again = run_cli("resume", workflow_id, "--store", store)
    assert json.loads(again.stdout) == response  # a finished run gives back its response
    row = run_cli("runs", "--store", store).stdout.splitlines()[1]
    assert row.split()[:5] == [workflow_id, "project_initialization", "success", "3", "1"]


@pytest.mark.parametrize("command", ["resume", "runs"])
def test_missing_store_exits_2(tmp_path: Path, command: str) -> None:
    """resume and runs on a path with no store exit 2 and create nothing."""
    path = tmp_path / "absent.db"
    args = ("resume", "some-id") if command == "resume" else ("runs",)
    result = run_cli(*args, "--store", str(path))
    assert result.returncode == 2
    assert f"no ledger store at {str(path)!r}" in result.stderr
    assert not path.exists()


def test_resume_of_an_unknown_id_exits_2(tmp_path: Path) -> None:
    """resume of an id the store does not hold exits 2 and says so."""
    store = str(tmp_path / "ledger.db")
    assert run_cli("run", str(PROJECT), "--store", store).returncode == 0
    result = run_cli("resume", "nope", "--store", store)
    assert result.returncode == 2
    assert "no run with workflow_id 'nope' is stored" in result.stderr
