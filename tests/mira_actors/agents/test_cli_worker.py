"""mira-actors worker and cancel: recovery until SIGTERM, and cancel from another process."""

from __future__ import annotations

import signal
import subprocess
import sys
from functools import partial
from pathlib import Path

import trio

from supervisors import open_store
from tests.mira_actors.agents.crash_child import PROJECT
from tests.mira_actors.agents.test_cli import run_cli

CODE = "import sys; from mira_actors.agents._cli import main; sys.exit(main())"


async def test_worker_recovers_an_abandoned_run_and_stops_on_sigterm(tmp_path: Path) -> None:
    """A worker resumes a run nobody holds to success; SIGTERM ends it with exit 0."""
    db = str(tmp_path / "ledger.db")
    async with open_store(db) as store:
        await store.create_run("orphan", "project_initialization", PROJECT, 300.0)
    with trio.fail_after(60):  # real time: the worker is a real process
        async with trio.open_nursery() as nursery:
            worker = await nursery.start(
                partial(
                    trio.run_process,
                    [sys.executable, "-c", CODE, "worker", "--store", db, "--interval", "0.1"],
                    stderr=subprocess.PIPE,
                    check=False,
                )
            )
            async with open_store(db) as store:
                # Another process's run: the store is all there is to watch.
                while (await store.load_run("orphan")).status != "success":  # type: ignore[union-attr]  # noqa: ASYNC110
                    await trio.sleep(0.1)
                run = await store.load_run("orphan")
            worker.send_signal(signal.SIGTERM)
    assert worker.returncode == 0
    assert run is not None
    assert (run.resumes, run.completed_steps) == (
        1,
        ["generate_plan", "assess_risks", "generate_report"],
    )


def test_cancel_of_a_finished_or_unknown_run(tmp_path: Path) -> None:
    """cancel exits 1 for a run that is not running and 2 for an id the store lacks."""
    db = str(tmp_path / "ledger.db")
    done = run_cli(
        "run", str(Path(__file__).parents[3] / "examples" / "project.json"), "--store", db
    )
    assert done.returncode == 0
    [line] = [x for x in run_cli("runs", "--store", db).stdout.splitlines()[1:]]
    finished = run_cli("cancel", line.split()[0], "--store", db)
    assert finished.returncode == 1
    assert "is not running" in finished.stderr
    unknown = run_cli("cancel", "nope", "--store", db)
    assert unknown.returncode == 2
    assert "no run with workflow_id 'nope'" in unknown.stderr


async def test_cancel_marks_a_running_run(tmp_path: Path) -> None:
    """cancel marks a running run for its owner, and says so."""
    db = str(tmp_path / "ledger.db")
    async with open_store(db) as store:
        await store.create_run("live", "project_initialization", PROJECT, 30.0, owner="o")
    result = await trio.to_thread.run_sync(
        partial(run_cli, "cancel", "live", "--store", db), limiter=trio.CapacityLimiter(1)
    )
    assert result.returncode == 0, result.stderr
    assert "asked the owner of run live to cancel it" in result.stdout
    async with open_store(db) as store:
        run = await store.load_run("live")
    assert run is not None
    assert run.cancel_requested
