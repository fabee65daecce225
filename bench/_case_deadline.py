"""Cases 4, 5 and 7: lateness at the deadline, and agent work that outlives it."""

from __future__ import annotations

from ._deadline_runs import (
    asyncio_never_finishing,
    ours_blocking,
    ours_never_finishing,
    raw_trio_never_finishing,
    threadpool_blocking,
)
from ._harness import Samples, run_interleaved
from ._results import CaseResult, Metric, Target, ratio_metric
from ._sizes import Sizes

ZERO_WORK = Target(bound=0, better="lower", judged_on="worst")
_COUNTS = {
    "executions": "step executions started",
    "started_after": "started after the response",
    "running_after": "still running at the response",
    "early": "responses before the deadline (the step was not started)",
}
NAMES = {
    "ours": "mira-actors (async agent)",
    "raw": "bare move_on_after, raw trio tasks",
    "asyncio": "asyncio.timeout, raw asyncio tasks",
    "threadpool": "thread-pool design (blocking step)",
    "ours_thread": "mira-actors, blocking step on backend 'thread'",
    "ours_process": "mira-actors, blocking step on backend 'process'",
}


def _lateness_metrics(prefix: str, samples: Samples, names: list[str]) -> list[Metric]:
    metrics = []
    for name in names:
        for quantity in ("p50_ms", "p99_ms", "max_ms"):
            metrics.append(
                Metric(
                    key=f"{prefix}.{name}.{quantity.removesuffix('_ms')}",
                    label=f"{NAMES[name]}: lateness {quantity.removesuffix('_ms')}",
                    unit="ms",
                    samples=samples[name][quantity],
                    better="lower",
                )
            )
        metrics.append(
            Metric(
                key=f"{prefix}.{name}.early",
                label=f"{NAMES[name]}: {_COUNTS['early']}",
                unit="count",
                samples=samples[name]["early"],
            )
        )
    return metrics


def _work_metric(key: str, label: str, values: list[float], target: Target | None) -> Metric:
    return Metric(key=key, label=label, unit="count", samples=values, better="lower", target=target)


def measure_deadlines(sizes: Sizes) -> tuple[Samples, Samples]:
    """Run case 4a (sequential) and case 4b/5 (a burst); return both sets of samples."""
    runs, burst, timeout, block = (
        sizes.deadline_runs,
        sizes.concurrent_timeouts,
        sizes.timeout,
        sizes.block_seconds,
    )
    sequential = run_interleaved(
        {
            "ours": lambda: ours_never_finishing(runs, 1, timeout),
            "raw": lambda: raw_trio_never_finishing(runs, 1, timeout),
            "asyncio": lambda: asyncio_never_finishing(runs, 1, timeout),
        },
        repeats=sizes.repeats,
        warmup=sizes.warmup,
    )
    bursts = run_interleaved(
        {
            "ours": lambda: ours_never_finishing(1, burst, timeout),
            "raw": lambda: raw_trio_never_finishing(1, burst, timeout),
            "asyncio": lambda: asyncio_never_finishing(1, burst, timeout),
            "threadpool": lambda: threadpool_blocking(1, burst, timeout, block),
            "ours_thread": lambda: ours_blocking(1, burst, timeout, block, "thread"),
        },
        repeats=sizes.repeats,
        warmup=sizes.warmup,
    )
    return sequential, bursts


def lateness_case(sizes: Sizes, sequential: Samples, bursts: Samples) -> CaseResult:
    """Case 4: how late the timeout response comes, one workflow and a burst."""
    ms = sizes.timeout * 1000
    one = _lateness_metrics("lateness.one", sequential, ["ours", "raw", "asyncio"])
    many = _lateness_metrics("lateness.burst", bursts, ["ours", "raw", "asyncio", "threadpool"])
    p99_one = sequential["ours"]["p99_ms"]
    p99_burst = bursts["ours"]["p99_ms"]
    return CaseResult(
        number=4,
        title=f"deadline lateness ({ms:g} ms deadline, second step never finishes)",
        metrics=[
            *one,
            Metric(
                key="lateness.one.target",
                label="one workflow: our lateness p99",
                unit="ms",
                samples=p99_one,
                better="lower",
                target=Target(bound=2.0, better="lower"),
            ),
            ratio_metric(
                "lateness.one.ratio.raw",
                "lateness p99, one: / bare move_on_after",
                p99_one,
                sequential["raw"]["p99_ms"],
                better="lower",
            ),
            ratio_metric(
                "lateness.one.ratio.asyncio",
                "lateness p99, one: / asyncio.timeout",
                p99_one,
                sequential["asyncio"]["p99_ms"],
                better="lower",
            ),
            *many,
            ratio_metric(
                "lateness.burst.ratio.raw",
                f"lateness p99, {sizes.concurrent_timeouts:,} concurrent: / bare move_on_after",
                p99_burst,
                bursts["raw"]["p99_ms"],
                better="lower",
                target=1.0,
            ),
            ratio_metric(
                "lateness.burst.ratio.asyncio",
                f"lateness p99, {sizes.concurrent_timeouts:,} concurrent: / asyncio.timeout",
                p99_burst,
                bursts["asyncio"]["p99_ms"],
                better="lower",
            ),
        ],
        notes=[
            f"(a) {sizes.deadline_runs} sequential runs per repetition; (b) "
            f"{sizes.concurrent_timeouts:,} concurrent runs, each measured against its own "
            "deadline (start + timeout, taken by the caller just before the call).",
            "Lateness below 1 us counts as 1 us. Ours runs inside orch.running(), "
            "one actor per agent.",
        ],
    )


def work_after_case(sizes: Sizes, sequential: Samples, bursts: Samples) -> CaseResult:
    """Case 5: agent work after each caller's timeout, and a new request's delay after."""
    metrics = [
        _work_metric(
            "work_after.one.ours",
            "one workflow at a time: our step executions after the response",
            sequential["ours"]["work_after"],
            ZERO_WORK,
        ),
        _work_metric(
            "work_after.one.raw",
            "one at a time: bare move_on_after",
            sequential["raw"]["work_after"],
            None,
        ),
        _work_metric(
            "work_after.one.asyncio",
            "one at a time: asyncio.timeout",
            sequential["asyncio"]["work_after"],
            None,
        ),
        _work_metric(
            "work_after.burst.ours",
            "burst: our step executions after the response",
            bursts["ours"]["work_after"],
            ZERO_WORK,
        ),
    ]
    for name in ("raw", "asyncio", "threadpool", "ours_thread"):
        metrics.append(
            _work_metric(
                f"work_after.burst.{name}",
                f"burst: {NAMES[name]}",
                bursts[name]["work_after"],
                None,
            )
        )
    for name in ("threadpool", "ours_thread"):
        for quantity in ("executions", "started_after", "running_after"):
            metrics.append(
                _work_metric(
                    f"work_after.burst.{name}.{quantity}",
                    f"burst: {NAMES[name]}: {_COUNTS[quantity]}",
                    bursts[name][quantity],
                    None,
                )
            )
    for name in ("ours", "raw", "asyncio", "threadpool", "ours_thread"):
        metrics.append(
            Metric(
                key=f"new_request.{name}",
                label=f"{NAMES[name]}: a new plan request right after the burst",
                unit="ms",
                samples=bursts[name]["new_request_ms"],
                better="lower",
            )
        )
    metrics.append(
        ratio_metric(
            "new_request.ratio.threadpool",
            "new request after a burst: / thread-pool design",
            bursts["ours"]["new_request_ms"],
            bursts["threadpool"]["new_request_ms"],
            better="lower",
        )
    )
    return CaseResult(
        number=5,
        title="work after the deadline, and a new request right after a burst of timeouts",
        metrics=metrics,
        notes=[
            "A step execution counts when it started after its caller had the timeout "
            "response, or had not yet stopped (completed, or unwound from its cancellation) "
            "by then. Counts are per repetition: sequential runs summed, or one burst.",
            f"The thread-pool design cannot run a never-finishing async step, so its risk "
            f"step blocks {sizes.block_seconds * 1000:g} ms in an executor thread; "
            "ours_thread is the same step as an agent on the runtime's 'thread' backend.",
        ],
    )


def blocking_case(sizes: Sizes) -> CaseResult:
    """Case 7: a step that blocks past the deadline, on the runtime's blocking backends."""
    runs, timeout, block = sizes.blocking_runs, sizes.timeout, sizes.block_seconds
    names = ["ours_thread", "ours_process", "threadpool"]
    samples = run_interleaved(
        {
            "ours_thread": lambda: ours_blocking(runs, 1, timeout, block, "thread"),
            "ours_process": lambda: ours_blocking(runs, 1, timeout, block, "process"),
            "threadpool": lambda: threadpool_blocking(runs, 1, timeout, block),
        },
        repeats=sizes.repeats,
        warmup=sizes.warmup,
    )
    metrics = _lateness_metrics("blocking", samples, names)
    for backend in ("thread", "process"):
        metrics.append(
            ratio_metric(
                f"blocking.ratio.{backend}",
                f"blocking step on '{backend}', lateness p99: / thread-pool design",
                samples[f"ours_{backend}"]["p99_ms"],
                samples["threadpool"]["p99_ms"],
                better="lower",
            )
        )
    for name in names:
        ours = name != "threadpool"
        metrics.append(
            _work_metric(
                f"blocking.work_after.{name.removeprefix('ours_')}",
                f"{NAMES[name]}: step executions after the response",
                samples[name]["work_after"],
                ZERO_WORK if ours else None,
            )
        )
        metrics.append(
            _work_metric(
                f"blocking.executions.{name.removeprefix('ours_')}",
                f"{NAMES[name]}: {_COUNTS['executions']}",
                samples[name]["executions"],
                None,
            )
        )
    return CaseResult(
        number=7,
        title=(
            f"blocking agents ({block * 1000:g} ms blocking step, "
            f"{timeout * 1000:g} ms deadline, {runs} sequential runs)"
        ),
        metrics=metrics,
        notes=[
            "The runtime runs a blocking agent's respond() on a backend (the issue's "
            "'blocking = True' is now backend = 'thread' or 'process'). 'thread': a "
            "thread of the backend's own (never trio's shared limiter); the caller is "
            "answered at the deadline but a thread cannot be stopped, so this step, which "
            "sleeps without calling check_deadline(), runs on to its end (case 10 shows "
            "the built-in agents, which check, stopping). 'process': a trio-parallel "
            "worker, killed (SIGKILL) at the deadline.",
            "The step logs a tick every 5 ms while it works (to a file, so that worker "
            "processes can write it); an execution counts as work after the deadline if "
            "it started, or ticked, after its caller had the response.",
        ],
    )
