"""The real test: three worker processes on one ledger, one SIGKILLed mid-run; none lost.

300 runs of a four-step workflow are stored with no owner; three worker processes
recover them. Once some have finished, one worker is killed with SIGKILL while it holds
runs. Every run must end in success, none left 'running', and every step must have run
exactly once: the agent keeps each idempotency key it served in a side table, and does
a key's work only once.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import closing
from functools import partial
from pathlib import Path
from typing import Any

import trio

from supervisors import LedgerStore, open_store

WORKER = Path(__file__).with_name("recovery_worker.py")
ROOT = str(Path(__file__).resolve().parents[2])
RUNS = 300
STEPS = ("one", "two", "three", "four")
SIDE_SCHEMA = "CREATE TABLE served (key TEXT PRIMARY KEY, workflow_id TEXT, step TEXT)"


def postgres_side(url: str) -> Callable[[str], list[tuple[Any, ...]]]:
    """Make the side table in the database at ``url``; return a query function."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("DROP TABLE IF EXISTS served")
        connection.execute(SIDE_SCHEMA)

    def query(sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(url, autocommit=True) as connection:
            return connection.execute(sql).fetchall()  # type: ignore[arg-type]

    return query


def sqlite_side(path: Path) -> Callable[[str], list[tuple[Any, ...]]]:
    """Make the side table in a SQLite file; return a query function."""
    with closing(sqlite3.connect(path, isolation_level=None)) as connection:
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute(SIDE_SCHEMA)

    def query(sql: str) -> list[tuple[Any, ...]]:
        with closing(sqlite3.connect(path)) as connection:
            return connection.execute(sql).fetchall()

    return query


async def statuses(store: LedgerStore) -> dict[str, int]:
    """How many stored runs have each status."""
    counts: dict[str, int] = {}
    for run in await store.list_runs():
        counts[run.status] = counts.get(run.status, 0) + 1
    return counts


async def three_workers_one_killed(target: str, side: str) -> dict[str, Any]:
    """Run the scenario on the ledger ``target``; return what the test checks."""
    env = {**os.environ, "PYTHONPATH": ROOT}
    async with open_store(target) as store:
        for n in range(RUNS):
            await store.create_run(f"run-{n:03}", "four", {"n": n}, 600.0)
        async with trio.open_nursery() as nursery:
            workers = []
            owners = []
            for _ in range(3):
                process = await nursery.start(
                    partial(
                        trio.run_process,
                        [sys.executable, str(WORKER), target, side],
                        stdout=subprocess.PIPE,
                        env=env,
                        check=False,
                    )
                )
                workers.append(process)
            with trio.fail_after(60):  # real processes: bounded waits
                for process in workers:
                    line = b""
                    while not line.endswith(b"\n"):
                        chunk = await process.stdout.receive_some()
                        assert chunk, "a worker ended before it was ready"
                        line += chunk
                    owners.append(line.decode().split()[1])
            victim, victim_owner = workers[0], owners[0]
            with trio.fail_after(40):
                while True:
                    runs = await store.list_runs()
                    done = sum(run.status == "success" for run in runs)
                    held = [r for r in runs if r.status == "running" and r.owner == victim_owner]
                    if done >= RUNS // 5 and held:
                        break
                    await trio.sleep(0.05)
            orphans = {run.workflow_id for run in held}
            os.kill(victim.pid, signal.SIGKILL)
            killed_at = time.monotonic()
            with trio.fail_after(40):
                while True:
                    taken = {
                        run.workflow_id
                        for run in await store.list_runs()
                        if run.workflow_id in orphans and run.owner not in (victim_owner,)
                    }
                    if taken == orphans:
                        break
                    await trio.sleep(0.05)
            recovered_after = time.monotonic() - killed_at
            with trio.fail_after(60):
                # Other processes' runs: the store is all there is to watch.
                while (await statuses(store)).get("success", 0) < RUNS:  # noqa: ASYNC110
                    await trio.sleep(0.2)
            for process in workers[1:]:
                process.send_signal(signal.SIGTERM)
            with trio.fail_after(30):
                for process in workers[1:]:
                    await process.wait()
        runs = await store.list_runs()
    return {
        "statuses": {run.status for run in runs},
        "steps": {tuple(run.completed_steps) for run in runs},
        "orphans": orphans,
        "resumed": {run.workflow_id for run in runs if run.resumes >= 1},
        "exits": [process.returncode for process in workers],
        "recovered_after": recovered_after,
    }


def check(outcome: dict[str, Any], query: Callable[[str], list[tuple[Any, ...]]]) -> None:
    """Assert every run succeeded and every step ran exactly once."""
    assert outcome["statuses"] == {"success"}
    assert outcome["steps"] == {STEPS}
    assert outcome["orphans"] <= outcome["resumed"]
    assert outcome["exits"] == [-signal.SIGKILL, 0, 0]
    assert query("SELECT COUNT(*) FROM served") == [(RUNS * len(STEPS),)]
    per_step = query("SELECT workflow_id, step, COUNT(*) FROM served GROUP BY workflow_id, step")
    assert len(per_step) == RUNS * len(STEPS)
    assert {count for _, _, count in per_step} == {1}
    print(f"worker killed: its {len(outcome['orphans'])} runs were running again elsewhere "
          f"{outcome['recovered_after']:.2f} s later")  # fmt: skip


async def test_three_workers_on_postgres_one_killed(postgres_url: str) -> None:
    """On PostgreSQL: all 300 runs succeed after a SIGKILL, each step run exactly once."""
    query = postgres_side(postgres_url)
    outcome = await three_workers_one_killed(postgres_url, postgres_url)
    check(outcome, query)


async def test_three_workers_on_sqlite_one_killed(tmp_path: Path) -> None:
    """On one SQLite file: all 300 runs succeed after a SIGKILL, each step run exactly once."""
    side = tmp_path / "side.db"
    query = sqlite_side(side)
    ledger = str(tmp_path / "ledger.db")
    outcome = await three_workers_one_killed(ledger, str(side))
    check(outcome, query)
