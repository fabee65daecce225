"""Case 6: 100,000 idle actors vs 100,000 raw trio tasks, each kind in a fresh process."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

from ._harness import Sample, run_interleaved
from ._results import CaseResult, Metric, ratio_metric
from ._sizes import Sizes

KINDS = ("supervisor", "mailbox", "raw")
NAMES = {
    "supervisor": "Supervisor.spawn",
    "mailbox": "run_actor + Mailbox in a nursery",
    "raw": "raw trio task on its own memory channel",
}
BENCH_ROOT = Path(__file__).resolve().parent.parent


def run_worker(kind: str, n: int) -> Sample:
    """Measure ``n`` idle tasks of ``kind`` in a new Python process and return its sample."""
    env = dict(os.environ)
    # Appended, so an earlier PYTHONPATH entry (a patched runtime) still wins.
    env["PYTHONPATH"] = os.pathsep.join([p for p in (env.get("PYTHONPATH"), str(BENCH_ROOT)) if p])
    completed = subprocess.run(
        [sys.executable, "-m", "bench._scale_worker", "--kind", kind, "--n", str(n)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if completed.returncode != 0:
        msg = f"scale worker {kind} n={n} failed:\n{completed.stderr}"
        raise RuntimeError(msg)
    sample: Sample = json.loads(completed.stdout.strip().splitlines()[-1])
    return sample


def scale_case(sizes: Sizes) -> CaseResult:
    """Case 6: spawn rate, memory per idle actor and shutdown time, ours vs raw tasks."""
    n = sizes.idle_actors
    if sizes.scale_warmup:
        # Warms the file cache and the bytecode; a fresh process has nothing else to warm.
        for kind in KINDS:
            run_worker(kind, max(10, n // 100))
    samples = run_interleaved(
        {kind: functools.partial(run_worker, kind, n) for kind in KINDS},
        repeats=sizes.repeats,
        warmup=0,
    )
    metrics: list[Metric] = []
    for kind in KINDS:
        metrics += [
            Metric(
                key=f"scale.{kind}.spawn_rate",
                label=f"{NAMES[kind]}: spawn rate",
                unit="tasks/s",
                samples=samples[kind]["spawn_rate"],
                better="higher",
            ),
            Metric(
                key=f"scale.{kind}.bytes",
                label=f"{NAMES[kind]}: resident memory per task",
                unit="bytes",
                samples=samples[kind]["bytes_per_task"],
                better="lower",
            ),
            Metric(
                key=f"scale.{kind}.shutdown",
                label=f"{NAMES[kind]}: time to shut all down",
                unit="s",
                samples=samples[kind]["shutdown_seconds"],
                better="lower",
            ),
        ]
    ours, mailbox, raw = samples["supervisor"], samples["mailbox"], samples["raw"]
    metrics += [
        ratio_metric(
            "scale.ratio.memory",
            "memory per idle actor (supervised) / raw task",
            ours["bytes_per_task"],
            raw["bytes_per_task"],
            better="lower",
            target=1.3,
        ),
        ratio_metric(
            "scale.ratio.memory_mailbox",
            "memory per idle actor (run_actor) / raw task",
            mailbox["bytes_per_task"],
            raw["bytes_per_task"],
            better="lower",
        ),
        ratio_metric(
            "scale.ratio.spawn",
            "spawn rate (supervised) / raw tasks",
            ours["spawn_rate"],
            raw["spawn_rate"],
            better="higher",
        ),
        ratio_metric(
            "scale.ratio.spawn_mailbox",
            "spawn rate (run_actor) / raw tasks",
            mailbox["spawn_rate"],
            raw["spawn_rate"],
            better="higher",
        ),
        ratio_metric(
            "scale.ratio.shutdown",
            "shutdown time (supervised) / raw tasks",
            ours["shutdown_seconds"],
            raw["shutdown_seconds"],
            better="lower",
        ),
    ]
    return CaseResult(
        number=6,
        title=f"scale ({n:,} idle actors vs {n:,} raw trio tasks)",
        metrics=metrics,
        notes=[
            "Each measurement runs in a new Python process (python -m bench._scale_worker). "
            "Memory is the growth of VmRSS (/proc/self/status) from before the first spawn "
            "to when all are alive, after a gc.collect(), divided by the count.",
            "Shutdown: supervised actors by leaving open_supervisor (each stops in reverse "
            "start order); run_actor and raw tasks by closing every channel, until the "
            "nursery has exited.",
        ],
    )
