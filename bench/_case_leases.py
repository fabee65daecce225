"""Case 12: shared ledgers: workflows on each store, and how soon a dead worker's runs go on.

Sequential workflows through an orchestrator on MemoryStore, SqliteStore and the
PostgreSQL store (a throwaway local server, as the tests start one; its rows are left
out, with the reason in the notes, when the server binaries or psycopg are missing).
Then a worker process that holds runs mid-step is SIGKILLed, and this process, which
serves recovery on the same SQLite ledger, times how long until they run again here.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import trio

from mira_actors import Actor
from mira_actors.agents.orchestrator_agent import OrchestratorAgent
from supervisors import (
    LedgerStore,
    MemoryStore,
    Recovery,
    Step,
    Workflow,
    open_store,
    open_workflow_supervisor,
    serve_recovery,
)

from ._case_workflow import WORKFLOW_TIMEOUT, check_success
from ._harness import Sample, now, run_interleaved
from ._results import CaseResult, Metric, ratio_metric
from ._sizes import Sizes
from ._workload import real_agents, workflow_message

# The workflow of the runs the dead worker holds (bench._recovery_victim).
STEPS = ("first", "second")
TWO = Workflow(name="two", steps=[Step(name=name, message_type=name) for name in STEPS])
RUN_TIMEOUT = 120.0
# The dead worker's lease, and how often the survivor looks for abandoned runs.
LEASE_TIME = 1.0
RECOVERY_INTERVAL = 0.05
RECOVERED_RUNS = 20
# Real time: a worker process starts, and the survivor waits for it (bounded).
RECOVERY_BOUND = 60.0
ROOT = Path(__file__).resolve().parent.parent  # where ``-m bench...`` imports from


def postgres_missing() -> str | None:
    """Why the PostgreSQL rows cannot be measured here, or None when they can."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install -e '.[postgres]')"
    from tests.postgres_server import missing

    return missing()


@contextlib.contextmanager
def postgres_url() -> Iterator[str]:
    """A throwaway durable PostgreSQL server for the case (fsync on, as a real one)."""
    from tests.postgres_server import postgres_server

    with postgres_server(durable=True) as url:
        yield url


@asynccontextmanager
async def store_of(kind: str, url: str | None) -> AsyncIterator[LedgerStore]:
    """A fresh, empty store of ``kind``: memory, a new SQLite file, or an emptied database."""
    if kind == "memory":
        memory = MemoryStore()
        try:
            yield memory
        finally:
            await memory.aclose()
        return
    if kind == "postgres":
        from tests.postgres_server import emptied

        assert url is not None
        async with open_store(emptied(url)) as postgres:
            yield postgres
        return
    with tempfile.TemporaryDirectory(prefix="mira-bench-") as folder:
        async with open_store(str(Path(folder) / "ledger.db")) as sqlite:
            yield sqlite


async def sequential_runs(kind: str, n: int, url: str | None) -> float:
    """Run ``n`` workflows one after another on a fresh store of ``kind``; seconds."""
    async with store_of(kind, url) as store:
        orch = OrchestratorAgent(store=store)
        for agent in real_agents().all():
            orch.register_agent(agent)
        async with orch.running():
            warm = workflow_message("warm")
            check_success(await orch.process_async(warm, timeout=WORKFLOW_TIMEOUT))
            start = now()
            for i in range(n):
                message = workflow_message(f"P{i}")
                check_success(await orch.process_async(message, timeout=WORKFLOW_TIMEOUT))
            return now() - start


def rate_sample(kind: str, n: int, url: str | None) -> Sample:
    """Run :func:`sequential_runs` in its own event loop; return runs per second."""
    return {"rate": n / trio.run(sequential_runs, kind, n, url)}


class Answers(Actor):
    """Answers each step at once, noting when each run's first step reached it."""

    def __init__(self, reached: dict[str, float]) -> None:
        self.reached = reached

    async def handle(self, message: Any) -> Any:
        from mira_actors import request_headers

        self.reached.setdefault(request_headers()["workflow_id"], now())
        return {"status": "success", "data": None}


async def recovery_times(runs: int) -> Sample:
    """SIGKILL a worker holding ``runs`` runs mid-step; time until they run again here."""
    reached: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="mira-bench-") as folder:
        ledger = str(Path(folder) / "ledger.db")
        argv = [sys.executable, "-m", "bench._recovery_victim", ledger, str(runs), str(LEASE_TIME)]
        victim = await trio.lowlevel.open_process(argv, stdout=subprocess.PIPE, cwd=ROOT)
        try:
            with trio.fail_after(RECOVERY_BOUND):
                assert victim.stdout is not None
                said = b""
                while b"\n" not in said and (chunk := await victim.stdout.receive_some()):
                    said += chunk
                if said.strip() != b"ready":
                    msg = f"the worker to kill did not start its runs: {said[:100]!r}"
                    raise RuntimeError(msg)
                async with (
                    open_store(ledger) as store,
                    open_workflow_supervisor(workflows=[TWO], store=store) as survivor,
                ):
                    await survivor.spawn(partial(Answers, reached), name="answers", handles=STEPS)
                    killed = now()
                    victim.send_signal(signal.SIGKILL)
                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(
                            serve_recovery, survivor, Recovery(interval=RECOVERY_INTERVAL)
                        )
                        while len(reached) < runs:  # noqa: ASYNC110
                            await trio.sleep(0.005)
                        nursery.cancel_scope.cancel()
        finally:
            with trio.CancelScope(shield=True):
                victim.kill()
                await victim.wait()
    return {
        "first_s": min(reached.values()) - killed,
        "all_s": max(reached.values()) - killed,
    }


def recovery_sample(runs: int) -> Sample:
    """Run :func:`recovery_times` in its own event loop."""
    return trio.run(recovery_times, runs)


def leases_case(sizes: Sizes) -> CaseResult:
    """Case 12: runs/s on each store against MemoryStore; a dead worker's runs recovered."""
    n = sizes.store_workflows
    reason = postgres_missing()
    kinds = ("memory", "sqlite") if reason else ("memory", "sqlite", "postgres")
    with contextlib.ExitStack() as stack:
        url = None if reason else stack.enter_context(postgres_url())
        flows = run_interleaved(
            {kind: partial(rate_sample, kind, n, url) for kind in kinds},
            repeats=sizes.repeats,
            warmup=sizes.warmup,
        )
    rate = {kind: quantities["rate"] for kind, quantities in flows.items()}
    recovered = run_interleaved(
        {"recovery": partial(recovery_sample, RECOVERED_RUNS)}, repeats=sizes.repeats, warmup=0
    )["recovery"]
    names = {"memory": "MemoryStore", "sqlite": "SqliteStore", "postgres": "PostgreSQL store"}
    metrics = [
        Metric(
            key=f"leases.workflow.{kind}",
            label=f"sequential workflows, {names[kind]}",
            unit="runs/s",
            samples=rate[kind],
            better="higher",
        )
        for kind in kinds
    ]
    metrics += [
        ratio_metric(
            f"leases.workflow.ratio.{kind}",
            f"sequential workflows: {names[kind]} / MemoryStore",
            rate[kind],
            rate["memory"],
            better="higher",
        )
        for kind in kinds
        if kind != "memory"
    ]
    metrics += [
        Metric(
            key="leases.recovery.first",
            label=f"worker SIGKILLed -> first of its runs running here (lease {LEASE_TIME:g} s)",
            unit="s",
            samples=recovered["first_s"],
            better="lower",
        ),
        Metric(
            key="leases.recovery.all",
            label=f"worker SIGKILLed -> all {RECOVERED_RUNS} of its runs running here",
            unit="s",
            samples=recovered["all_s"],
            better="lower",
        ),
    ]
    notes = [
        f"Workflows run one after another through process_async inside running(), with a "
        f"{WORKFLOW_TIMEOUT:g} s timeout, after one unmeasured run, on a fresh store each "
        "repetition: a new MemoryStore, a new SQLite file, or an emptied PostgreSQL "
        "database (a local throwaway server with fsync on, over TCP on 127.0.0.1).",
        f"Recovery: a worker process starts {RECOVERED_RUNS} runs on a SQLite ledger with a "
        f"{LEASE_TIME:g} s lease, all stuck in their first step, and is SIGKILLed; this "
        f"process recovers from the same file every {RECOVERY_INTERVAL:g} s and times, from "
        "the kill, when each run's step reaches its agent again. The lease lapses "
        f"{LEASE_TIME:g} s after the dead worker's last beat (beats come every third of it), "
        "so expect between two thirds of the lease and the lease, plus one look.",
    ]
    if reason:
        notes.append(f"No PostgreSQL rows: {reason}.")
    return CaseResult(
        number=12,
        title=f"shared ledgers ({n:,} sequential workflows per store) and recovery",
        metrics=metrics,
        notes=notes,
    )
