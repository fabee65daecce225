"""Runs of a workflow that cannot finish in time, in each design, measured at the caller.

Every function here returns a :data:`~bench._harness.Sample` with the caller's
lateness (how long after its own deadline its response came), the agent work that
outlived the response (from the step's :class:`~bench._workload.StepLog`) and, for
bursts, how long a new one-step request took right after the last timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import trio
import trio_parallel

from . import _asyncio_refs, _raw_trio
from ._case_workflow import orchestrator
from ._harness import Sample, lateness_summary, now
from ._workload import (
    Agents,
    BlockingRiskAgent,
    FileStepLog,
    NeverFinishingRiskAgent,
    StepLog,
    plan_message,
    real_agents,
    requirements,
    worker_ready,
    workflow_message,
)

NEW_REQUEST_TIMEOUT = 30.0


def check_timed_out(response: dict[str, Any]) -> None:
    """Raise AssertionError unless ``response`` is a MIRA timeout response."""
    progress = response.get("partial_progress", {})
    if response.get("status") != "timeout" or not isinstance(progress.get("completed_steps"), list):
        msg = f"expected a timeout response, got status={response.get('status')!r}"
        raise AssertionError(msg)


def _sample(
    lateness: list[float],
    log: StepLog | FileStepLog,
    responded: dict[str, float],
    **extra: float,
) -> Sample:
    started_after, running_after = log.work_after(responded)
    executions = log.executions() if isinstance(log, FileStepLog) else log.executions
    return {
        **lateness_summary(lateness),
        "executions": float(len(executions)),
        "started_after": float(started_after),
        "running_after": float(running_after),
        "work_after": float(started_after + running_after),
        **extra,
    }


@contextlib.contextmanager
def file_log() -> Iterator[FileStepLog]:
    """Yield a :class:`FileStepLog` in a temporary file, removed afterwards."""
    handle, path = tempfile.mkstemp(prefix="mira-bench-", suffix=".log")
    os.close(handle)
    try:
        yield FileStepLog(path)
    finally:
        os.unlink(path)


# --- ours: OrchestratorAgent.process_async inside running() -------------------------


async def ours_timeouts(
    risk: NeverFinishingRiskAgent | BlockingRiskAgent,
    runs: int,
    concurrent: int,
    timeout: float,
) -> tuple[list[float], dict[str, float], float]:
    """Run ``runs`` sequential bursts of ``concurrent`` timed-out workflows through ours.

    Returns the lateness of each call, when each caller had its response, and the
    seconds a new plan request took right after the last burst.
    """
    orch = orchestrator(real_agents(risk))
    lateness: list[float] = []
    responded: dict[str, float] = {}

    async def one(key: str) -> None:
        start = now()
        response = await orch.process_async(workflow_message(key), timeout=timeout)
        end = now()
        responded[key] = end
        lateness.append(end - start - timeout)
        check_timed_out(response)

    warm_worker = getattr(risk, "backend", None) == "process"
    async with trio_parallel.cache_scope(), orch.running():
        for run in range(runs):
            if warm_worker:
                # A killed worker is replaced on the next call, and a new one imports the
                # agent's modules: longer than the deadline. A service keeps one warm, so
                # start it (imports included) before timing.
                await trio_parallel.run_sync(worker_ready)
            async with trio.open_nursery() as nursery:
                for i in range(concurrent):
                    nursery.start_soon(one, f"R{run}-{i}")
        start = now()
        reply = await orch.process_async(plan_message("new"), timeout=NEW_REQUEST_TIMEOUT)
        new_request = now() - start
        if reply.get("status") != "success":
            msg = f"the new request failed: {reply.get('error')!r}"
            raise AssertionError(msg)
        # Late starts would show now, while the actors still live.
        await trio.sleep(2 * timeout)
    return lateness, responded, new_request


def ours_never_finishing(runs: int, concurrent: int, timeout: float) -> Sample:
    """Ours, with a risk step that never finishes (an async agent)."""
    log = StepLog()
    lateness, responded, new_request = trio.run(
        ours_timeouts, NeverFinishingRiskAgent(log), runs, concurrent, timeout
    )
    return _sample(lateness, log, responded, new_request_ms=new_request * 1000)


def ours_blocking(
    runs: int, concurrent: int, timeout: float, block: float, backend: str = "thread"
) -> Sample:
    """Ours, with a risk step that blocks ``block`` seconds on ``backend``.

    'thread' and 'process' are the runtime's backends for blocking agents (what
    ``blocking = True`` became): a worker thread, abandoned at the deadline, or a worker
    process, killed at the deadline (trio-parallel, its pool kept to this run).
    """
    with file_log() as log:
        agent = BlockingRiskAgent(log, block, backend)
        lateness, responded, new_request = trio.run(ours_timeouts, agent, runs, concurrent, timeout)
        time.sleep(block + 0.05)  # an abandoned thread finishes its step on its own
        return _sample(lateness, log, responded, new_request_ms=new_request * 1000)


# --- references: bare move_on_after, asyncio.timeout, the thread-pool design ---------


async def _raw_trio_timeouts(
    agents: Agents, log: StepLog, runs: int, concurrent: int, timeout: float
) -> tuple[list[float], dict[str, float], float]:
    lateness: list[float] = []
    responded: dict[str, float] = {}

    async def one(key: str) -> None:
        start = now()
        cut = await _raw_trio.timeout_workflow(agents, log, key, timeout)
        end = now()
        responded[key] = end
        lateness.append(end - start - timeout)
        if not cut:
            msg = "the raw trio run finished before its deadline"
            raise AssertionError(msg)

    for run in range(runs):
        async with trio.open_nursery() as nursery:
            for i in range(concurrent):
                nursery.start_soon(one, f"R{run}-{i}")
    start = now()
    await _raw_trio.plan_request(agents, "new")
    return lateness, responded, now() - start


def raw_trio_never_finishing(runs: int, concurrent: int, timeout: float) -> Sample:
    """Bare ``trio.move_on_after`` around raw trio tasks, the same step never finishing."""
    log = StepLog()
    lateness, responded, new_request = trio.run(
        _raw_trio_timeouts, real_agents(), log, runs, concurrent, timeout
    )
    return _sample(lateness, log, responded, new_request_ms=new_request * 1000)


async def _asyncio_bursts(
    run_one: Callable[[str], Awaitable[bool]],
    new_request: Callable[[], Awaitable[None]],
    runs: int,
    concurrent: int,
    timeout: float,
) -> tuple[list[float], dict[str, float], float]:
    lateness: list[float] = []
    responded: dict[str, float] = {}

    async def one(key: str) -> None:
        start = now()
        cut = await run_one(key)
        end = now()
        responded[key] = end
        lateness.append(end - start - timeout)
        if not cut:
            msg = "the asyncio run finished before its deadline"
            raise AssertionError(msg)

    for run in range(runs):
        await asyncio.gather(*(one(f"R{run}-{i}") for i in range(concurrent)))
    start = now()
    await new_request()
    return lateness, responded, now() - start


def asyncio_never_finishing(runs: int, concurrent: int, timeout: float) -> Sample:
    """``asyncio.timeout`` around raw asyncio tasks, the same step never finishing."""
    log = StepLog()
    agents = real_agents()

    async def main() -> tuple[list[float], dict[str, float], float]:
        return await _asyncio_bursts(
            lambda key: _asyncio_refs.timeout_workflow(agents, log, key, timeout),
            lambda: _asyncio_refs.plan_request(agents, "new"),
            runs,
            concurrent,
            timeout,
        )

    lateness, responded, new_request = asyncio.run(main())
    return _sample(lateness, log, responded, new_request_ms=new_request * 1000)


def threadpool_blocking(runs: int, concurrent: int, timeout: float, block: float) -> Sample:
    """The re-created thread-pool design, its risk step blocking ``block`` seconds."""
    with file_log() as log:
        return _threadpool_blocking(log, runs, concurrent, timeout, block)


def _threadpool_blocking(
    log: FileStepLog, runs: int, concurrent: int, timeout: float, block: float
) -> Sample:
    agents = real_agents(BlockingRiskAgent(log, block))

    async def run_one(key: str) -> bool:
        response = await _asyncio_refs.threadpool_workflow(agents, requirements(key), timeout)
        return response.get("status") == "timeout"

    async def main() -> tuple[list[float], dict[str, float], float]:
        await _asyncio_refs.prime_executor(agents)
        return await _asyncio_bursts(
            run_one,
            lambda: _asyncio_refs.threadpool_plan_request(agents, "new"),
            runs,
            concurrent,
            timeout,
        )

    # asyncio.run waits for the executor's threads, so every execution has ended after it.
    lateness, responded, new_request = asyncio.run(main())
    return _sample(lateness, log, responded, new_request_ms=new_request * 1000)
