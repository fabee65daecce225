"""Spans opened in worker threads and processes join the trace of the run they serve."""

from __future__ import annotations

import pytest

# CI installs the otel extra (.ci/run); a venv without it skips these tests.
pytest.importorskip("opentelemetry.sdk", reason="needs the otel extra: pip install -e '.[otel]'")

import functools
import json
import os
from pathlib import Path

import trio
import trio_parallel

from mira_actors.agents import ProcessBackend, ThreadBackend
from tests.mira_actors.agents.backend_agents import WorkerAgent, orchestrator_for, workflow
from tests.mira_actors.instrumentation.recorded import Recorded, export_spans_to


async def test_a_process_step_s_worker_span_is_in_the_run_s_trace(
    otel: Recorded, tmp_path: Path
) -> None:
    """The worker process's span has the run's trace id and the ask it serves as parent."""
    spans_file = tmp_path / "worker-spans.jsonl"
    async with trio_parallel.open_worker_context(
        init=functools.partial(export_spans_to, str(spans_file))
    ) as context:
        orchestrator = orchestrator_for(WorkerAgent(), ProcessBackend(context=context))
        response = await orchestrator.process_async(workflow("pid"), timeout=30)
    worker_pid = response["steps"][0]["result"]
    assert worker_pid != os.getpid()
    assert otel.tree() == [(0, "workflow pid"), (1, "step pid_step")]
    [ask] = otel.named("step pid_step")  # the attempt's span is its ask's
    [worker] = [json.loads(line) for line in spans_file.read_text().splitlines()]
    assert worker["name"] == "worker worker_agent"
    assert worker["context"]["trace_id"] == f"0x{ask.context.trace_id:032x}"
    assert worker["parent_id"] == f"0x{ask.context.span_id:016x}"
    assert worker["attributes"] == {
        "mira.agent": "worker_agent",
        "mira.worker.pid": worker_pid,
        "mira.message_type": "pid",
    }


async def test_a_thread_step_s_worker_span_is_a_child_of_its_ask(otel: Recorded) -> None:
    """A step run in a worker thread has its span under the ask it serves."""
    limiter = trio.CapacityLimiter(1)
    orchestrator = orchestrator_for(WorkerAgent(), ThreadBackend(limiter=limiter))
    response = await orchestrator.process_async(workflow("key"), timeout=30)
    assert "status" not in response
    assert otel.tree() == [
        (0, "workflow key"),
        (1, "step key_step"),
        (2, "worker worker_agent"),
    ]
    [worker] = otel.named("worker worker_agent")
    assert (worker.attributes or {})["mira.worker.pid"] == os.getpid()
