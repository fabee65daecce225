"""The OpenTelemetry hooks of one traced run, called in a loop with nothing else around.

``python -m bench._otel_loop [runs]`` prints, in microseconds per run (CPU time, the
median of 7 repetitions), what the hooks of one traced ``project_initialization`` run
cost when nothing else runs: the SDK's calls alone (the floor of
:mod:`bench._otel_floor`), and our instrumentation with the same SDK. No actors, no trio
scheduling: the difference is our own code's cost in the best case, and the floor is the
least the SDK takes per run, to set against a run's own cost in case 3 (1e6 / the rate of
its 'none' variant). The SDK is configured as case 3's SDK variant configures it.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import trio

from mira_actors.instrumentation.otel import OpenTelemetry

from ._otel_floor import SdkFloor
from ._otel_variants import sdk_providers

STEPS = ("generate_plan", "assess_risks", "generate_report")
AGENTS = ("project_plan_agent", "risk_assessment_agent", "status_reporter_agent")
REPEATS = 7


def floor_run(floor: SdkFloor, i: int) -> None:
    """The hooks of one run that the floor answers: the SDK's calls only."""
    workflow_id = f"wf-{i}"
    run = floor.run_started(
        workflow_id=workflow_id, workflow_type="project_initialization", timeout=30.0
    )
    for step in STEPS:
        attempt = run.attempt_started(
            step=step, attempt=1, idempotency_key=f"{workflow_id}:{step}:1", budget=29.0
        )
        attempt.finished("success", None)
    run.finished("success")


def traced_run(otel: OpenTelemetry, i: int) -> None:
    """Every hook of one run, as the engine and the runtime call them."""
    workflow_id = f"wf-{i}"
    run = otel.run_started(
        workflow_id=workflow_id, workflow_type="project_initialization", timeout=30.0
    )
    assert run is not None
    for step, agent in zip(STEPS, AGENTS, strict=True):
        key = f"{workflow_id}:{step}:1"
        headers = {"workflow_id": workflow_id, "step": step, "attempt": 1, "idempotency_key": key}
        attempt = run.attempt_started(step=step, attempt=1, idempotency_key=key, budget=29.0)
        ask = otel.ask_sent(agent, headers)
        assert ask is not None
        ask.handling()
        ask.handled()
        otel.ask_ended(ask, None)
        attempt.finished("success", None)
    run.finished("success")


async def per_run(one: Callable[[Any, int], None], hooks: Any, runs: int) -> float:
    """CPU microseconds per call of ``one(hooks, i)``, over ``runs`` calls."""
    started = time.process_time()
    for i in range(runs):
        one(hooks, i)
    return (time.process_time() - started) / runs * 1e6


def main(runs: int) -> None:
    """Print the floor's and our hooks' microseconds per run."""
    tracer_provider, meter_provider = sdk_providers()
    floor = SdkFloor(tracer_provider, meter_provider)
    otel = OpenTelemetry(tracer_provider=tracer_provider, meter_provider=meter_provider)
    samples: dict[str, list[float]] = {"floor": [], "ours": []}
    try:
        for repeat in range(REPEATS + 1):  # the first is a warm-up
            floor_us = trio.run(per_run, floor_run, floor, runs)
            ours_us = trio.run(per_run, traced_run, otel, runs)
            if repeat:
                samples["floor"].append(floor_us)
                samples["ours"].append(ours_us)
    finally:
        tracer_provider.shutdown()
        meter_provider.shutdown()
    floor_us, ours_us = (statistics.median(samples[k]) for k in ("floor", "ours"))
    print(f"SDK calls of one traced run alone (the floor): {floor_us:.1f} us/run")
    print(f"our instrumentation with the same SDK:         {ours_us:.1f} us/run")
    print(f"our own code's share:                          {ours_us - floor_us:.1f} us/run")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2_000)
