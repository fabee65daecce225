"""run_workflow's budgets: refusing attempts, adaptive timeouts, budgets in nested asks."""

from __future__ import annotations

import math
from typing import Any

import pytest
import trio

from mira_actors import Actor, ActorRef, open_actor, time_left
from supervisors import (
    AdaptiveTimeouts,
    LatencyHistory,
    RetryPolicy,
    RunEvent,
    StepStarted,
)
from tests.supervisors.scripted import (
    OK,
    Journal,
    Scripted,
    actors,
    fails,
    flow,
    go,
    ledger,
    step,
)

# Refusing attempts that cannot finish in time


def seeded(step_name: str, *seconds: float) -> LatencyHistory:
    history = LatencyHistory()
    for value in seconds:
        history.observe(LatencyHistory.key("w", step_name), value)
    return history


async def test_attempt_refused_when_history_says_it_cannot_finish(
    autojump_clock: trio.abc.Clock,
) -> None:
    """With less time left than the step's median, it is not started: the run times out now."""
    journal: Journal = []
    history = seeded("b", 3, 4, 9)
    async with actors(journal, a=[(2, OK)], b=[(1, OK)]) as routes:
        report = await go(flow(step("a"), step("b")), routes, timeout=5, history=history)
        assert trio.current_time() == 2
    assert [j[1] for j in journal] == ["a", "a"]
    assert ledger(report) == [
        ("a", "success", 0, 2, 1, None),
        ("b", "timeout", 2, 2, 0, "not_enough_time"),
    ]
    assert report.response() == {
        "workflow_id": "run-1",
        "workflow_type": "w",
        "status": "timeout",
        "error": (
            "Workflow execution timed out after 5.0 seconds: "
            "step 'b' usually takes 4 seconds and 3 are left"
        ),
        "steps": [{"step": "a", "status": "success", "result": "done", "attempts": 1}],
        "partial_progress": {
            "completed_steps": ["a"],
            "total_steps_completed": 1,
            "timeout_seconds": 5.0,
            "timed_out_steps": ["b"],
        },
    }


async def test_attempt_that_just_fits_is_started(autojump_clock: trio.abc.Clock) -> None:
    """A median equal to the time left is not refused; the history learns each success."""
    history = seeded("b", 3)
    async with actors([], a=[(2, OK)], b=[(2, OK)]) as routes:
        report = await go(flow(step("a"), step("b")), routes, timeout=5, history=history)
    assert report.outcome == "success"
    assert (history.count("w/a"), history.expected("w/a")) == (1, 2)
    assert (history.count("w/b"), history.expected("w/b")) == (2, 2.5)


async def test_retry_refused_before_its_wait(autojump_clock: trio.abc.Clock) -> None:
    """When the wait plus the median would pass the deadline, the run times out before waiting."""
    journal: Journal = []
    history = seeded("a", 3)
    policy = RetryPolicy(initial_interval=7)
    async with actors(journal, a=[(1, fails())]) as routes:
        report = await go(flow(step("a", retry=policy)), routes, timeout=10, history=history)
        assert trio.current_time() == 1
    assert ledger(report) == [("a", "timeout", 0, 1, 1, "no_time_to_retry")]
    assert report.outcome == "timeout"


# Adaptive timeouts


async def test_adaptive_timeouts_follow_observed_latency(autojump_clock: trio.abc.Clock) -> None:
    """Steps without a timeout get the default, then p * factor of their history.

    Step a takes 1 s three times; from then on its timeout is 2 s, so a 5 s outlier is
    cut at 2 s. Step b keeps the timeout it was defined with.
    """
    adaptive = AdaptiveTimeouts(percentile=1, factor=2, default=6, min_samples=3)
    history = LatencyHistory()
    budgets: list[tuple[str, float]] = []

    def listen(event: RunEvent) -> None:
        if isinstance(event, StepStarted):
            budgets.append((event.step, event.budget))

    script = [(1, OK), (1, OK), (1, OK), (5, OK)]
    async with actors([], a=script, b=[(4, OK)]) as routes:
        workflow = flow(step("a"), step("b", timeout=4.5))
        reports = []
        for _ in range(4):
            options = {"history": history, "adaptive": adaptive, "on_event": listen}
            reports.append(await go(workflow, routes, timeout=math.inf, **options))
    assert [r.outcome for r in reports] == ["success"] * 3 + ["timeout"]
    assert budgets == [("a", 6), ("b", 4.5)] * 3 + [("a", 2)]
    assert ledger(reports[3]) == [("a", "timeout", 15, 17, 1, "step_timeout")]
    assert reports[3].error == "Step 'a' timed out: the attempt ran out of its 2 seconds"
    assert (history.count("w/a"), history.count("w/b")) == (3, 3)


async def test_per_call_timeout_wins_over_adaptive(autojump_clock: trio.abc.Clock) -> None:
    """A step named in step_timeouts uses that, not the adaptive default."""
    adaptive = AdaptiveTimeouts(default=1)
    async with actors([], a=[(3, OK)]) as routes:
        report = await go(
            flow(step("a")),
            routes,
            history=LatencyHistory(),
            adaptive=adaptive,
            step_timeouts={"a": 4},
        )
    assert report.outcome == "success"


async def test_adaptive_without_a_history_is_refused() -> None:
    """Adaptive timeouts with no history to adapt to are a ValueError, not silently ignored."""
    async with actors([], a=[(3, OK)]) as routes:
        with pytest.raises(ValueError, match=r"^adaptive timeouts need a history"):
            await go(flow(step("a")), routes, adaptive=AdaptiveTimeouts())


# Nested budgets


class Asker(Actor):
    """Asks ``inner`` with the message it was sent, and answers with the inner reply."""

    def __init__(self, inner: ActorRef) -> None:
        self.inner = inner

    async def handle(self, message: Any) -> Any:
        return await self.inner.ask(message)


class Budget(Actor):
    """Answers with its effective deadline and time left, after ``delay`` seconds."""

    def __init__(self, delay: float = 0) -> None:
        self.delay = delay

    async def handle(self, message: Any) -> Any:
        seen = (trio.current_effective_deadline(), time_left())
        await trio.sleep(self.delay)
        return {"status": "success", "data": seen}


@pytest.mark.parametrize(("step_timeout", "seen"), [(3, (4, 3)), (30, (11, 10))])
async def test_budget_passes_through_a_nested_ask(
    autojump_clock: trio.abc.Clock, step_timeout: float, seen: tuple[float, float]
) -> None:
    """An actor asked by a step's agent runs under the step's budget: its timeout or the run's."""
    async with open_actor(Budget()) as inner, open_actor(Asker(inner)) as outer:
        await trio.sleep(1)
        workflow = flow(step("a", timeout=step_timeout))
        report = await go(workflow, {"ta": outer}, timeout=10)
    assert report.records[0].result == seen


async def test_nested_actor_is_cancelled_at_the_steps_timeout(
    autojump_clock: trio.abc.Clock,
) -> None:
    """When a step's time runs out, the actor its agent asked is cancelled too."""
    journal: Journal = []
    async with (
        open_actor(Scripted("inner", [(10, OK)], journal)) as inner,
        open_actor(Asker(inner)) as outer,
    ):
        report = await go(flow(step("a", timeout=2)), {"ta": outer})
    assert journal == [("start", "inner", 0), ("cancel", "inner", 2)]
    assert report.timed_out_steps == ["a"]


# The caller's deadline bounds the budget, as the run's does


async def test_budget_is_the_callers_deadline_when_it_comes_first(
    autojump_clock: trio.abc.Clock,
) -> None:
    """A run with no deadline inside a caller's 3 s scope starts its step with 3 s to go."""
    journal: Journal = []
    seen: list[RunEvent] = []
    async with actors(journal, a=[(1, OK)]) as routes:
        with trio.move_on_after(3):
            await go(flow(step("a")), routes, timeout=math.inf, on_event=seen.append)
    budgets = [e.budget for e in seen if isinstance(e, StepStarted)]
    assert budgets == [3]


async def test_admission_uses_the_callers_deadline(autojump_clock: trio.abc.Clock) -> None:
    """A step whose median outlasts the caller's deadline is refused, though the run has none."""
    journal: Journal = []
    history = seeded("a", 5)
    async with actors(journal, a=[(1, OK)]) as routes:
        with trio.move_on_after(3):
            report = await go(flow(step("a")), routes, timeout=math.inf, history=history)
        assert trio.current_time() == 0
    assert journal == []
    assert ledger(report) == [("a", "timeout", 0, 0, 0, "not_enough_time")]
