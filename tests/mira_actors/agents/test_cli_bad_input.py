"""The command line's answer to bad input: exit 2 and one line naming the problem."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
import trio

from supervisors import open_sqlite_store
from supervisors.stores._sqlite_file import SCHEMA_VERSION
from tests.mira_actors.agents.test_cli import PROJECT, run_cli

WORKFLOW = json.loads(PROJECT.read_text())


def foreign(path: Path) -> None:
    """Another application's SQLite file, with a 'runs' table of its own."""
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("CREATE TABLE runs (id INTEGER, owner TEXT)")
        connection.commit()


def random_bytes(path: Path) -> None:
    path.write_bytes(os.urandom(8192))


def empty(path: Path) -> None:
    path.write_bytes(b"")


def ours(path: Path) -> None:
    """A ledger store with one run in it."""

    async def create() -> None:
        async with open_sqlite_store(path) as store:
            await store.create_run("r1", "project_initialization", {}, 1.0)

    trio.run(create)


def newer(path: Path) -> None:
    ours(path)
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA user_version = 99")


def steps_dropped(path: Path) -> None:
    ours(path)
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("DROP TABLE steps")


STORES: list[tuple[Callable[[Path], None], str]] = [
    (foreign, "is not a mira-actors ledger store: another application's SQLite database"),
    (random_bytes, "is not a ledger store: it is not a SQLite database"),
    (empty, "is empty, not a ledger store"),
    (newer, f"holds ledger schema version 99; this code reads {SCHEMA_VERSION}; upgrade mira"),
    (steps_dropped, "is damaged: its 'steps' table is missing"),
]


def one_line(stderr: str) -> str:
    """The single line of ``stderr``; fails when there are more (a traceback, say)."""
    [line] = stderr.splitlines()
    return line


@pytest.mark.parametrize("command", ["run", "runs", "resume"])
@pytest.mark.parametrize(("make", "problem"), STORES, ids=[m.__name__ for m, _ in STORES])
def test_a_store_file_that_is_not_ours_exits_2_untouched(
    tmp_path: Path, make: Callable[[Path], None], problem: str, command: str
) -> None:
    """A foreign, damaged, empty or newer --store exits 2 with one line; the file is unchanged."""
    path = tmp_path / "store.db"
    make(path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    args = {"run": ("run", str(PROJECT)), "runs": ("runs",), "resume": ("resume", "some-id")}
    result = run_cli(*args[command], "--store", str(path))
    assert result.returncode == 2
    assert one_line(result.stderr).startswith(f"mira-actors: {str(path)!r} {problem}")
    assert result.stdout == ""
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_a_store_that_cannot_be_created_names_its_path(tmp_path: Path) -> None:
    """A --store in a folder that does not exist exits 2 with one line naming the path."""
    path = tmp_path / "missing" / "store.db"
    result = run_cli("run", str(PROJECT), "--store", str(path))
    assert result.returncode == 2
    assert one_line(result.stderr) == (
        f"mira-actors: {str(path)!r} cannot be created: unable to open database file"
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[" * 100_000 + "]" * 100_000, "it is nested too deeply"),
        ('{"type": "generate_plan", "data": {"duration_weeks": NaN}}', "NaN is not a JSON value"),
        ('{"type": "workflow", "data": Infinity}', "Infinity is not a JSON value"),
        ('{"type": "workflow", "data": -Infinity}', "-Infinity is not a JSON value"),
        ("1" * 5000, "Exceeds the limit (4300 digits)"),
    ],
    ids=["100,000 deep", "NaN", "Infinity", "-Infinity", "5000 digits"],
)
def test_input_json_that_no_store_keeps_exits_2(tmp_path: Path, text: str, problem: str) -> None:
    """Input nested too deeply, or with NaN or Infinity, exits 2 with one line saying so."""
    path = tmp_path / "message.json"
    path.write_text(text)
    result = run_cli("run", str(path))
    assert result.returncode == 2
    assert one_line(result.stderr).startswith(
        f"mira-actors: cannot read a JSON message from {str(path)!r}: {problem}"
    )
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (("--retries", "2"), "--retries"),
        (("--step-timeout", "x=1"), "--step-timeout"),
        (("--store", "STORE"), "--store"),
        (("--progress", "--retries", "1"), "--retries, --progress"),
    ],
)
def test_workflow_options_with_an_agent_message_exit_2(
    tmp_path: Path, options: tuple[str, ...], named: str
) -> None:
    """An option only a workflow uses, given with a message for one agent, is an error."""
    options = tuple(str(tmp_path / "s.db") if o == "STORE" else o for o in options)
    message = json.dumps({"type": "generate_plan", "data": {"name": "P"}})
    result = run_cli("run", "-", *options, stdin=message)
    assert result.returncode == 2
    assert one_line(result.stderr) == (
        f"mira-actors: {named} apply to workflow messages only; "
        "this is a 'generate_plan' message for one agent"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_reader_that_goes_away_ends_it_quietly_with_141(tmp_path: Path) -> None:
    """Output to a pipe closed early (`| head`) ends with exit 141 and nothing on stderr."""
    message = {"type": "generate_plan", "data": {"goals": [f"goal {n}" for n in range(2_000)]}}
    path = tmp_path / "big.json"
    path.write_text(json.dumps(message))
    code = "import sys; from mira_actors.agents._cli import main; sys.exit(main())"
    with subprocess.Popen(
        [sys.executable, "-c", code, "run", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        assert process.stdout.read(10) == b'{\n  "agent'
        process.stdout.close()
        stderr = process.stderr.read()
        assert process.wait(timeout=60) == 141
    assert stderr == b""


def test_json_progress_keeps_every_line_json() -> None:
    """With --progress and --log-format json, every stderr line is JSON, progress included."""
    result = run_cli("run", str(PROJECT), "--progress", "--log-format", "json")
    assert result.returncode == 0, result.stderr
    entries = [json.loads(line) for line in result.stderr.splitlines()]
    progress = [e for e in entries if e.get("event_type") == "run_progress"]
    assert [(e["event"], e.get("step")) for e in progress] == [
        ("RunStarted", None),
        ("StepStarted", "generate_plan"),
        ("StepCompleted", "generate_plan"),
        ("StepStarted", "assess_risks"),
        ("StepCompleted", "assess_risks"),
        ("StepStarted", "generate_report"),
        ("StepCompleted", "generate_report"),
        ("RunFinished", None),
    ]
    assert progress[2]["message"].endswith("(1 attempt)")
    assert progress[2]["attempts"] == 1
    assert "Customer Portal" not in result.stderr  # names and counts, never the data


def test_json_log_format_writes_its_errors_as_json() -> None:
    """With --log-format json, the command line's own error is a JSON line too."""
    result = run_cli("run", "-", "--log-format", "json", stdin="{nope")
    assert result.returncode == 2
    entry = json.loads(one_line(result.stderr))
    assert (entry["level"], entry["logger"]) == ("ERROR", "mira_actors.cli")
    assert entry["message"].startswith("cannot read a JSON message from '-'")


def test_version() -> None:
    """--version prints the program's name and version."""
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("mira-actors ")
    assert result.stdout.split()[1][0].isdigit()


SLOW_RISK = """
import sys, trio
from mira_actors.agents import RiskAssessmentAgent, _cli

async def slow(self, message):
    print("risk step started", file=sys.stderr, flush=True)
    await trio.sleep(600)

RiskAssessmentAgent.handle = slow
sys.exit(_cli.main())
"""


def test_ctrl_c_exits_130_and_the_run_can_be_resumed(tmp_path: Path) -> None:
    """SIGINT mid-run exits 130 with one line; the run is stored as cancelled and resumes."""
    store = str(tmp_path / "store.db")
    with subprocess.Popen(
        [sys.executable, "-c", SLOW_RISK, "run", str(PROJECT), "--store", store],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stderr is not None
        assert process.stdout is not None
        deadline = threading.Timer(30, process.kill)  # real time: bounds every wait below
        deadline.start()
        try:
            assert process.stderr.readline() == "risk step started\n"
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=30) == 130
        finally:
            deadline.cancel()
            process.kill()
        stderr, stdout = process.stderr.read(), process.stdout.read()
    assert stdout == ""
    line = one_line(stderr)
    workflow_id = line.split()[3]
    assert line == (
        f"mira-actors: interrupted: run {workflow_id} is recorded as cancelled; continue it "
        f"with 'mira-actors resume {workflow_id} --store {store}'"
    )
    [row] = run_cli("runs", "--store", store).stdout.splitlines()[1:]
    assert row.split()[:4] == [workflow_id, "project_initialization", "cancelled", "1"]
    resumed = run_cli("resume", workflow_id, "--store", store)
    assert resumed.returncode == 0, resumed.stderr
    response = json.loads(resumed.stdout)
    assert [(s["step"], s["status"]) for s in response["steps"]] == [
        ("generate_plan", "success"),
        ("assess_risks", "success"),
        ("generate_report", "success"),
    ]
