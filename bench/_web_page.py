"""``python -m bench._web_page``: the web view's first runs page, with 100,000 stored runs.

Fills a fresh SQLite store (3 step records per run, a third of the runs failed) and
times the server's work for ``GET /`` (the HTML runs page), ``GET /?status=error`` and
``GET /api/runs``: the ASGI app called in process (no network, no client parsing).
Prints the median and the slowest of the repetitions. Target: under 200 ms.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import trio

from mira_actors.web import create_app
from supervisors import open_sqlite_store

PATHS = ("/", "/?status=error", "/api/runs")


async def fill(path: Path, runs: int) -> None:
    """Create the store, then insert ``runs`` finished runs in one transaction."""
    async with open_sqlite_store(path):
        pass  # the schema and its indexes
    connection = sqlite3.connect(path)
    try:
        now = time.time() - runs
        with connection:
            connection.executemany(
                "INSERT INTO runs (workflow_id, workflow_type, data, timeout, status, response,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    (
                        f"run-{i:06d}",
                        "project_initialization",
                        json.dumps({"name": f"project {i}", "goals": ["a", "b"]}),
                        30.0,
                        "error" if i % 3 == 0 else "success",
                        "{}",
                        now + i,
                        now + i + 0.5,
                    )
                    for i in range(runs)
                ),
            )
            connection.executemany(
                "INSERT INTO steps (workflow_id, step, agent, status, started_at, ended_at,"
                " attempts, result) VALUES (?, ?, ?, ?, ?, ?, 1, ?)",
                (
                    (f"run-{i:06d}", step, "agent", "success", 1.0, 2.0, '{"ok": true}')
                    for i in range(runs)
                    for step in ("generate_plan", "assess_risks", "generate_report")
                ),
            )
    finally:
        connection.close()


async def measure(path: Path, repetitions: int) -> dict[str, list[float]]:
    """Time each page ``repetitions`` times (after one warm-up), in milliseconds."""
    times: dict[str, list[float]] = {page: [] for page in PATHS}
    async with open_sqlite_store(path) as store:
        app = create_app(store)
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            for page in PATHS:
                (await http.get(page)).raise_for_status()  # warm-up
            for _ in range(repetitions):
                for page in PATHS:
                    start = time.perf_counter()
                    response = await http.get(page)
                    times[page].append((time.perf_counter() - start) * 1000)
                    response.raise_for_status()
    return times


def main(argv: list[str] | None = None) -> int:
    """Fill a store, time the pages, print a table; return 0."""
    parser = argparse.ArgumentParser(prog="python -m bench._web_page")
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repetitions", type=int, default=20)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "runs.db"
        trio.run(fill, path, args.runs)
        times = trio.run(measure, path, args.repetitions)
    print(f"first runs page with {args.runs:,} stored runs, {args.repetitions} repetitions:")
    print("| page | median (ms) | max (ms) |")
    print("| --- | --- | --- |")
    for page, samples in times.items():
        print(f"| `GET {page}` | {statistics.median(samples):.1f} | {max(samples):.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
