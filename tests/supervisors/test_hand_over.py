"""A worker stopped with SIGTERM hands its runs over: released, not cancelled (real processes)."""

from __future__ import annotations

import os
import subprocess
import sys
from functools import partial
from pathlib import Path

import trio

from supervisors import open_store

WORKER = Path(__file__).with_name("handover_worker.py")
ROOT = str(Path(__file__).resolve().parents[2])


async def test_a_stopped_worker_hands_its_runs_over(tmp_path: Path) -> None:
    """After SIGTERM the run is still 'running', with no owner, and the next recoverer
    takes it at once (no wait for a lease to lapse); nothing is stored as 'cancelled'."""
    ledger = str(tmp_path / "ledger.db")
    async with open_store(ledger) as store:
        await store.create_run("r1", "two", {}, 600.0)
    env = {**os.environ, "PYTHONPATH": ROOT}
    async with trio.open_nursery() as nursery:
        worker = await nursery.start(
            partial(
                trio.run_process,
                [sys.executable, str(WORKER), ledger],
                stdout=subprocess.PIPE,
                env=env,
                check=False,
            )
        )
        with trio.fail_after(60):  # a real process: bounded waits
            line = b""
            while not line.endswith(b"\n"):
                chunk = await worker.stdout.receive_some()
                assert chunk, "the worker ended before it was ready"
                line += chunk
            assert line.startswith(b"ready")
            async with open_store(ledger) as store:
                # Another process's run: the store is all there is to watch.
                while (await store.load_run("r1")).resumes == 0:  # type: ignore[union-attr]  # noqa: ASYNC110
                    await trio.sleep(0.05)
            worker.terminate()
            await worker.wait()
    assert worker.returncode == 0
    async with open_store(ledger) as store:
        run = await store.load_run("r1")
        assert run is not None
        assert (run.status, run.owner, run.resumes, run.records) == ("running", None, 1, ())
        assert await store.claim_expired("next") == ["r1"]  # at once: no lease to wait out
