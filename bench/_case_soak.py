"""Case 11, 'soak': many mixed runs in one running() block; resources must stay flat.

Success, timeout, error and caller-cancelled runs, in batches that run at once, through
one OrchestratorAgent inside one ``running()`` block. Every ``soak_every`` runs it
samples the process: resident memory, live trio tasks, open file descriptors and
threads. After the warm-up (the first two samples) none of them may grow for good.
"""

from __future__ import annotations

import gc
import os
import threading
from typing import Any

import trio

from mira_actors.agents import (
    OrchestratorAgent,
    ProjectPlanAgent,
    RiskAssessmentAgent,
    StatusReporterAgent,
)
from supervisors import MemoryStore

from ._results import CaseResult, Metric, Target
from ._sizes import Sizes

NUMBER = 11
BATCH = 100  # runs at once
# Of each 10 runs: 7 succeed, 1 times out, 1 fails, 1 is cancelled by its caller.
MIX = ("success",) * 7 + ("timeout", "error", "cancelled")
SLOW = 0.05  # seconds the risk step takes for a run meant to time out or be cancelled
STORED_RUNS = 1_000  # the store keeps the newest finished runs, as a long-lived one would
FLAT = Target(bound=0, better="lower", judged_on="worst")
# Resident memory may move by an allocator's arena after warm-up; a run kept by mistake
# (a response, a ledger: kilobytes) would add megabytes over the soak.
RSS_FLAT = Target(bound=2.0, better="lower", judged_on="worst")
# The outcomes each kind of run may have.
EXPECTED = {
    "success": {"success"},
    "timeout": {"timeout"},
    "error": {"error"},
    "cancelled": {"cancelled"},
}


class _SoakRiskAgent(RiskAssessmentAgent):
    """The risk agent, slow for plans named 'slow'."""

    async def handle(self, message: Any) -> Any:
        if message["data"].get("name") == "slow":
            await trio.sleep(SLOW)
        return await super().handle(message)


def _message(kind: str) -> dict[str, Any]:
    data: dict[str, Any] = {"name": "slow" if kind in ("timeout", "cancelled") else "P"}
    data["goals"] = "not a list" if kind == "error" else ["Design", "Build"]
    return {"type": "workflow", "data": {"workflow_type": "project_initialization", "data": data}}


async def _one(
    orchestrator: OrchestratorAgent, kind: str, seen: dict[str, int], scope: trio.CancelScope
) -> None:
    """Run one run of ``kind`` in ``scope``; count its outcome under ``seen['kind/outcome']``."""
    outcome = "cancelled"
    with scope:
        timeout = SLOW / 5 if kind == "timeout" else 5
        response = await orchestrator.process_async(_message(kind), timeout=timeout)
        outcome = str(response.get("status", "success"))
    key = f"{kind}/{outcome}"
    seen[key] = seen.get(key, 0) + 1


async def _cancel_later(scope: trio.CancelScope) -> None:
    # A cancel, not a deadline: the run cannot see it coming, as with Ctrl-C.
    await trio.sleep(SLOW / 5)
    scope.cancel()


def _tasks() -> int:
    count, stack = 0, [trio.lowlevel.current_root_task()]
    while stack:
        task = stack.pop()
        count += 1
        for nursery in task.child_nurseries:
            stack.extend(nursery.child_tasks)
    return count


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _sample(runs: int) -> dict[str, float]:
    gc.collect()
    return {
        "runs": runs,
        "rss_mb": _rss_mb(),
        "tasks": _tasks(),
        "fds": len(os.listdir("/proc/self/fd")),
        "threads": threading.active_count(),
    }


async def _soak(sizes: Sizes) -> tuple[list[dict[str, float]], dict[str, int]]:
    orchestrator = OrchestratorAgent(store=MemoryStore(max_runs=STORED_RUNS))
    for agent in (ProjectPlanAgent(), _SoakRiskAgent(), StatusReporterAgent()):
        orchestrator.register_agent(agent)
    seen: dict[str, int] = {}
    samples = []
    async with orchestrator.running():
        done = 0
        while done < sizes.soak_runs:
            batch = min(BATCH, sizes.soak_every, sizes.soak_runs - done)
            async with trio.open_nursery() as nursery:
                for i in range(done, done + batch):
                    kind, scope = MIX[i % len(MIX)], trio.CancelScope()
                    nursery.start_soon(_one, orchestrator, kind, seen, scope)
                    if kind == "cancelled":
                        nursery.start_soon(_cancel_later, scope)
            done += batch
            if done % sizes.soak_every == 0 or done == sizes.soak_runs:
                samples.append(_sample(done))
    return samples, seen


def soak_case(sizes: Sizes) -> CaseResult:
    """Case 11: resident memory, tasks, fds and threads across many mixed runs."""
    samples, seen = trio.run(_soak, sizes)
    # Warmed up once the store is full and has been turned over (it keeps STORED_RUNS).
    warm_runs = max(sizes.soak_runs // 5, 2 * STORED_RUNS)
    warm = next((s for s in samples if s["runs"] >= warm_runs), samples[0])
    last = samples[-1]
    after = sizes.soak_runs - int(warm["runs"])
    peak_rss = max(s["rss_mb"] for s in samples[samples.index(warm) :])
    metrics = [
        Metric(
            key="soak.rss_growth",
            label=f"resident memory growth over the last {after:,} runs",
            unit="MB",
            samples=[last["rss_mb"] - warm["rss_mb"]],
            better="lower",
            target=RSS_FLAT,
        ),
        Metric(
            key="soak.rss_peak_over_warm",
            label="resident memory peak after warm-up, over the warm value",
            unit="MB",
            samples=[peak_rss - warm["rss_mb"]],
            better="lower",
        ),
    ]
    for name in ("tasks", "fds", "threads"):
        metrics.append(
            Metric(
                key=f"soak.{name}_growth",
                label=f"{name} growth over the last {after:,} runs",
                unit="count",
                samples=[last[name] - warm[name]],
                better="lower",
                target=FLAT,
            )
        )
    unexpected = 0
    for key, count in seen.items():
        kind, outcome = key.split("/")
        unexpected += 0 if outcome in EXPECTED[kind] else count
    metrics.append(
        Metric(
            key="soak.unexpected_outcomes",
            label="runs whose outcome was not one their kind is built for",
            unit="count",
            samples=[unexpected],
            better="lower",
            target=FLAT,
        )
    )
    table = "; ".join(
        f"{int(s['runs']):,}: {s['rss_mb']:.1f} MB, {int(s['tasks'])} tasks, "
        f"{int(s['fds'])} fds, {int(s['threads'])} threads"
        for s in samples
    )
    return CaseResult(
        number=NUMBER,
        title=(
            f"soak: {sizes.soak_runs:,} mixed runs (7 success : 1 timeout : 1 error : "
            f"1 caller-cancelled) in one running() block, {BATCH} at a time"
        ),
        metrics=metrics,
        notes=[
            f"Sampled every {sizes.soak_every:,} runs, after gc.collect(): {table}.",
            f"Outcomes (kind/outcome): {', '.join(f'{k} {v:,}' for k, v in sorted(seen.items()))}. "
            "The store is "
            f"a MemoryStore keeping the newest {STORED_RUNS:,} finished runs, as a "
            "long-lived process would; growth is measured from the sample at "
            f"{int(warm['runs']):,} runs (warm-up: the store fills and turns over, the latency "
            "history and the allocator's pools fill).",
        ],
    )
