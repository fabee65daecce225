"""Case 8: durable step commit: ``record_step`` and whole workflows on SqliteStore vs memory."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import trio

from mira_actors.agents.orchestrator_agent import OrchestratorAgent
from supervisors import LedgerStore, MemoryStore, StepRecord, open_sqlite_store

from ._case_workflow import WORKFLOW_TIMEOUT, check_success
from ._harness import Sample, now, run_interleaved
from ._results import CaseResult, Metric, percentile, ratio_metric
from ._sizes import Sizes
from ._workload import WORKFLOW_TYPE, plan_message, real_agents, workflow_message

RUN_ID = "bench-store"
KINDS = ("sqlite", "memory")


def plan_result() -> dict[str, Any]:
    """Return a real ``generate_plan`` response: 3 milestones and 9 tasks, a dozen small dicts."""
    response = real_agents().plan.respond(plan_message("Store bench"))
    if response.get("status") != "success":
        msg = f"the plan agent failed: {response!r}"
        raise AssertionError(msg)
    return dict(response)


@asynccontextmanager
async def open_store(kind: str) -> AsyncIterator[LedgerStore]:
    """Open a fresh store of ``kind`` ('sqlite': defaults, a new file; 'memory'); close it."""
    if kind == "memory":
        store = MemoryStore()
        try:
            yield store
        finally:
            await store.aclose()
        return
    with tempfile.TemporaryDirectory(prefix="mira-bench-") as folder:
        async with open_sqlite_store(Path(folder) / "ledger.db") as sqlite:
            yield sqlite


async def commit_times(kind: str, n: int) -> list[float]:
    """Commit ``n`` step records to one run in a fresh store; return each call's seconds."""
    result = plan_result()
    async with open_store(kind) as store:
        await store.create_run(RUN_ID, WORKFLOW_TYPE, {"name": "Store bench"}, 60.0)
        times: list[float] = []
        for i in range(n):
            record = StepRecord(
                step=f"step-{i}",
                agent="project_plan_agent",
                status="success",
                started_at=0.0,
                ended_at=0.0,
                result=result,
            )
            start = now()
            await store.record_step(RUN_ID, record)
            times.append(now() - start)
        stored = await store.load_run(RUN_ID)
    if stored is None or len(stored.records) != n:
        msg = f"{kind} store did not keep the {n} records"
        raise AssertionError(msg)
    return times


def commit_sample(kind: str, n: int) -> Sample:
    """Run :func:`commit_times` in its own event loop; return p50 and p99 in microseconds."""
    micros = [t * 1e6 for t in trio.run(commit_times, kind, n)]
    return {"p50_us": percentile(micros, 50), "p99_us": percentile(micros, 99)}


@asynccontextmanager
async def orchestrator_on(kind: str) -> AsyncIterator[OrchestratorAgent]:
    """Yield an orchestrator with the real agents on a fresh store of ``kind``; close it."""
    if kind == "sqlite":
        async with open_store(kind) as store:
            yield _with_agents(OrchestratorAgent(store=store))
        return
    orch = _with_agents(OrchestratorAgent())  # its default store, a MemoryStore
    try:
        yield orch
    finally:
        await orch.store.aclose()


def _with_agents(orch: OrchestratorAgent) -> OrchestratorAgent:
    for agent in real_agents().all():
        orch.register_agent(agent)
    return orch


async def store_workflows(kind: str, n: int) -> float:
    """Run ``n`` sequential workflows inside ``running()`` on a store of ``kind``; seconds."""
    async with orchestrator_on(kind) as orch, orch.running():
        check_success(await orch.process_async(workflow_message("warm"), timeout=WORKFLOW_TIMEOUT))
        start = now()
        for i in range(n):
            message = workflow_message(f"P{i}")
            check_success(await orch.process_async(message, timeout=WORKFLOW_TIMEOUT))
        return now() - start


def workflow_sample(kind: str, n: int) -> Sample:
    """Run :func:`store_workflows` in its own event loop; return the runs per second."""
    return {"rate": n / trio.run(store_workflows, kind, n)}


def store_case(sizes: Sizes) -> CaseResult:
    """Case 8: per-commit cost of record_step, and workflow throughput, SQLite vs memory."""
    n, runs = sizes.store_commits, sizes.store_workflows
    commits = run_interleaved(
        {kind: partial(commit_sample, kind, n) for kind in KINDS},
        repeats=sizes.repeats,
        warmup=sizes.warmup,
    )
    flows = run_interleaved(
        {kind: partial(workflow_sample, kind, runs) for kind in KINDS},
        repeats=sizes.repeats,
        warmup=sizes.warmup,
    )
    sqlite, memory = commits["sqlite"], commits["memory"]
    rate = {kind: quantities["rate"] for kind, quantities in flows.items()}

    def micros(kind: str, quantity: str, samples: list[float], what: str) -> Metric:
        return Metric(
            key=f"store.commit.{kind}.{quantity}",
            label=what,
            unit="µs",
            samples=samples,
            better="lower",
        )

    return CaseResult(
        number=8,
        title=f"durable step commit ({n:,} record_step calls; {runs:,} sequential workflows)",
        metrics=[
            micros("sqlite", "p50", sqlite["p50_us"], "SqliteStore record_step, median"),
            micros("sqlite", "p99", sqlite["p99_us"], "SqliteStore record_step, p99"),
            micros("memory", "p50", memory["p50_us"], "MemoryStore record_step, median"),
            micros("memory", "p99", memory["p99_us"], "MemoryStore record_step, p99"),
            ratio_metric(
                "store.commit.ratio.p50",
                "record_step median: SqliteStore / MemoryStore",
                sqlite["p50_us"],
                memory["p50_us"],
                better="lower",
            ),
            ratio_metric(
                "store.commit.ratio.p99",
                "record_step p99: SqliteStore / MemoryStore",
                sqlite["p99_us"],
                memory["p99_us"],
                better="lower",
            ),
            Metric(
                key="store.workflow.sqlite",
                label="sequential workflows, store=SqliteStore",
                unit="runs/s",
                samples=rate["sqlite"],
                better="higher",
            ),
            Metric(
                key="store.workflow.memory",
                label="sequential workflows, default MemoryStore",
                unit="runs/s",
                samples=rate["memory"],
                better="higher",
            ),
            ratio_metric(
                "store.workflow.ratio",
                "sequential workflows: SqliteStore / MemoryStore",
                rate["sqlite"],
                rate["memory"],
                better="higher",
            ),
        ],
        notes=[
            "Each repetition commits to one run in a fresh store: SqliteStore with its "
            "defaults (WAL, synchronous=NORMAL, SQL in a worker thread) on a new file in a "
            "temporary folder, or a new MemoryStore. The record's result is a real "
            "generate_plan response (3 milestones, 9 tasks; about 1.9 kB of JSON).",
            "A commit is timed from the call to record_step until it returns: JSON "
            "encoding, the thread hop and the SQLite transaction. No target: the ratio "
            "is the price of durability, and lower is better.",
            f"Workflows run one after another through process_async inside running(), "
            f"with a {WORKFLOW_TIMEOUT:g} s timeout, after one unmeasured run; each "
            "writes its run, three step records and its outcome to the store.",
        ],
    )
