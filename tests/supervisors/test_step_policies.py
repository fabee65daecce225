"""run_workflow's step policies: per-step timeouts and retries with backoff."""

from __future__ import annotations

import math
from typing import Any

import pytest
import trio

from supervisors import (
    RetryPolicy,
    Step,
    StepFailedError,
    StepTimeoutError,
    open_supervisor,
    open_workflow_supervisor,
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

# Step timeouts


async def test_step_timeout_inside_a_longer_deadline(autojump_clock: trio.abc.Clock) -> None:
    """A step that outruns its own timeout is cut then, and the run times out naming it."""
    journal: Journal = []
    async with actors(journal, a=[(1, OK)], b=[(5, OK)], c=[(1, OK)]) as routes:
        workflow = flow(step("a"), step("b", timeout=2), step("c"))
        report = await go(workflow, routes, timeout=10)
        assert trio.current_time() == 3
        await trio.sleep(20)
    assert ledger(report) == [
        ("a", "success", 0, 1, 1, None),
        ("b", "timeout", 1, 3, 1, "step_timeout"),
    ]
    assert journal == [("start", "a", 0), ("end", "a", 1), ("start", "b", 1), ("cancel", "b", 3)]
    assert report.response() == {
        "workflow_id": "run-1",
        "workflow_type": "w",
        "status": "timeout",
        "error": "Step 'b' timed out: the attempt ran out of its 2 seconds",
        "steps": [{"step": "a", "status": "success", "result": "done", "attempts": 1}],
        "partial_progress": {
            "completed_steps": ["a"],
            "total_steps_completed": 1,
            "timeout_seconds": 10.0,
            "timed_out_steps": ["b"],
        },
    }


async def test_handler_runs_under_the_earlier_of_step_and_run(
    autojump_clock: trio.abc.Clock,
) -> None:
    """Each attempt's deadline is the earlier of its step timeout and the run's deadline."""
    journal: Journal = []
    script = [(1, OK)]
    async with open_supervisor() as supervisor:
        actor = Scripted("a", script, journal)
        routes = {"ta": await supervisor.spawn(lambda: actor, name="a")}
        await trio.sleep(2)
        workflow = flow(step("a", timeout=3), Step(name="b", message_type="ta", timeout=30))
        await go(workflow, routes, timeout=10)
        await go(workflow, routes, timeout=math.inf)
    assert actor.deadlines == [5, 12, 7, 35]


async def test_per_call_step_timeouts_override_the_steps_own(
    autojump_clock: trio.abc.Clock,
) -> None:
    """step_timeouts sets a step's seconds per attempt, over the timeout it was defined with."""
    async with actors([], a=[(1, OK)], b=[(5, OK)]) as routes:
        workflow = flow(step("a", timeout=0.5), step("b", timeout=2))
        report = await go(workflow, routes, step_timeouts={"a": 4, "b": 1.5})
        assert trio.current_time() == 2.5
    assert ledger(report) == [
        ("a", "success", 0, 1, 1, None),
        ("b", "timeout", 1, 2.5, 1, "step_timeout"),
    ]
    assert report.error == "Step 'b' timed out: the attempt ran out of its 1.5 seconds"


@pytest.mark.parametrize(
    ("step_timeouts", "error", "message"),
    [
        ({"zz": 1}, ValueError, "step_timeouts names steps that workflow 'w' does not have: 'zz'"),
        ({"a": -1}, ValueError, "Timeout must be non-negative, got -1"),
        ({"a": "1"}, TypeError, "Timeout must be a number of seconds, got str"),
    ],
)
async def test_bad_step_timeouts_are_refused(
    step_timeouts: dict[str, Any], error: type[Exception], message: str
) -> None:
    """step_timeouts naming a step the workflow lacks, or a bad value, raises before any step."""
    journal: Journal = []
    async with actors(journal, a=[(1, OK)]) as routes:
        with pytest.raises(error) as caught:
            await go(flow(step("a")), routes, step_timeouts=step_timeouts)
    assert str(caught.value).startswith(message)
    assert journal == []


async def test_supervisor_run_refuses_an_unknown_step(autojump_clock: trio.abc.Clock) -> None:
    """WorkflowSupervisor.run raises a plain ValueError for step_timeouts of unknown steps."""
    async with open_workflow_supervisor(workflows=[flow(step("a"))]) as supervisor:
        with pytest.raises(ValueError, match=r"^step_timeouts names steps that workflow 'w'"):
            await supervisor.run("w", None, step_timeouts={"b": 1})


# Retries


async def test_retry_must_be_a_policy() -> None:
    """A retry that is not a RetryPolicy is a TypeError before any step runs."""
    journal: Journal = []
    async with actors(journal, a=[(1, OK)]) as routes:
        with pytest.raises(TypeError, match=r"^retry must be a RetryPolicy, got int$"):
            await go(flow(step("a")), routes, retry=3)
    assert journal == []


async def test_retry_succeeds_on_the_third_attempt(autojump_clock: trio.abc.Clock) -> None:
    """Two failed attempts are retried after exactly the configured backoff; the third wins."""
    journal: Journal = []
    script = [(1, fails()), (1, fails()), (1, OK)]
    policy = RetryPolicy(max_attempts=3, initial_interval=0.5, backoff_coefficient=3)
    async with actors(journal, a=script, b=[(1, OK)]) as routes:
        report = await go(flow(step("a", retry=policy), step("b")), routes)
        assert trio.current_time() == 6
    assert [t for kind, _, t in journal if kind == "start"] == [0, 1.5, 4, 5]
    assert ledger(report) == [("a", "success", 0, 5, 3, None), ("b", "success", 5, 6, 1, None)]
    assert report.response()["steps"][0] == {
        "step": "a",
        "status": "success",
        "result": "done",
        "attempts": 3,
    }


async def test_the_runs_retry_policy_covers_steps_without_one(
    autojump_clock: trio.abc.Clock,
) -> None:
    """The retry argument is the policy of steps that set none; a step's own one wins."""
    journal: Journal = []
    async with actors(journal, a=[(1, fails())], b=[(1, fails())]) as routes:
        workflow = flow(step("a", optional=True), step("b", retry=RetryPolicy(max_attempts=1)))
        report = await go(workflow, routes, retry=RetryPolicy(max_attempts=2, initial_interval=1))
    assert ledger(report) == [
        ("a", "error", 0, 3, 2, "agent_error"),
        ("b", "error", 3, 4, 1, "agent_error"),
    ]


async def test_exhausted_retries_fail_the_step(autojump_clock: trio.abc.Clock) -> None:
    """After max_attempts failures the step fails with the last attempt's error."""
    script = [(1, fails("first")), (1, fails("second"))]
    async with actors([], a=script) as routes:
        policy = RetryPolicy(max_attempts=2, initial_interval=1)
        report = await go(flow(step("a", retry=policy)), routes)
        assert trio.current_time() == 3
    assert report.outcome == "error"
    assert report.error == "Step 'a' failed: second"
    assert ledger(report) == [("a", "error", 0, 3, 2, "agent_error")]


async def test_step_timeouts_are_retried(autojump_clock: trio.abc.Clock) -> None:
    """An attempt cut by its step timeout is a StepTimeoutError, retried like any failure.

    Its outcome is unknown, so it is sent again as the same attempt (the same key).
    """
    journal: Journal = []
    policy = RetryPolicy(max_attempts=3, initial_interval=1, retry_on=(StepTimeoutError,))
    async with actors(journal, a=[(5, OK), (5, OK), (1, OK)]) as routes:
        report = await go(flow(step("a", timeout=2, retry=policy)), routes)
    assert journal == [
        ("start", "a", 0),
        ("cancel", "a", 2),
        ("start", "a", 3),
        ("cancel", "a", 5),
        ("start", "a", 7),
        ("end", "a", 8),
    ]
    assert ledger(report) == [("a", "success", 0, 8, 1, None)]


async def test_backoff_is_clipped_at_the_deadline(autojump_clock: trio.abc.Clock) -> None:
    """A wait that would reach the deadline is not started: the run times out at once."""
    journal: Journal = []
    policy = RetryPolicy(max_attempts=10, initial_interval=2)
    async with actors(journal, a=[(1, fails())]) as routes:
        report = await go(flow(step("a", retry=policy)), routes, timeout=10)
        assert trio.current_time() == 9  # waits of 2 and 4 fit; the next, of 8, does not
    assert [t for kind, _, t in journal if kind == "start"] == [0, 3, 8]
    assert ledger(report) == [("a", "timeout", 0, 9, 3, "no_time_to_retry")]
    assert report.outcome == "timeout"
    assert report.error == (
        "Workflow execution timed out after 10.0 seconds: no time is left to retry step 'a'"
    )
    assert report.response()["partial_progress"]["timed_out_steps"] == ["a"]


async def test_backoff_ending_exactly_at_the_deadline_is_not_waited(
    autojump_clock: trio.abc.Clock,
) -> None:
    """A wait that would end at the deadline leaves no time for an attempt: none is made."""
    async with actors([], a=[(1, fails())]) as routes:
        report = await go(flow(step("a", retry=RetryPolicy(initial_interval=3))), routes, timeout=4)
        assert trio.current_time() == 1
    assert ledger(report) == [("a", "timeout", 0, 1, 1, "no_time_to_retry")]


@pytest.mark.parametrize(
    "policy",
    [
        RetryPolicy(retry_on=(StepTimeoutError,)),
        RetryPolicy(retry_if=lambda exc: "transient" in str(exc)),
    ],
)
async def test_errors_the_policy_does_not_retry(
    autojump_clock: trio.abc.Clock, policy: RetryPolicy
) -> None:
    """A failure that retry_on (by type) or retry_if (by predicate) rejects is not retried."""
    journal: Journal = []
    async with actors(journal, a=[(1, fails("permanent"))]) as routes:
        report = await go(flow(step("a", retry=policy)), routes)
        assert trio.current_time() == 1
    assert ledger(report) == [("a", "error", 0, 1, 1, "agent_error")]
    assert len(journal) == 2


async def test_predicate_sees_agent_errors_as_step_failed_errors(
    autojump_clock: trio.abc.Clock,
) -> None:
    """retry_if gets an agent's 'error' answer as a StepFailedError carrying its text."""
    seen: list[BaseException] = []

    def transient(failure: BaseException) -> bool:
        seen.append(failure)
        return "transient" in str(failure)

    policy = RetryPolicy(max_attempts=5, initial_interval=1, retry_if=transient)
    script = [(1, fails("transient glitch")), (1, fails("permanent"))]
    async with actors([], a=script) as routes:
        report = await go(flow(step("a", retry=policy)), routes)
    assert [(type(f), str(f), f.error_type) for f in seen] == [  # type: ignore[attr-defined]
        (StepFailedError, "transient glitch", "agent_error"),
        (StepFailedError, "permanent", "agent_error"),
    ]
    assert ledger(report) == [("a", "error", 0, 3, 2, "agent_error")]


async def test_crashed_handler_is_retried_by_its_own_exception(
    autojump_clock: trio.abc.Clock,
) -> None:
    """retry_on matches the exception the handler raised, which is also its error_type."""
    policy = RetryPolicy(initial_interval=1, retry_on=(KeyError,))
    async with actors([], a=[(1, KeyError("gone")), (1, OK)]) as routes:
        report = await go(flow(step("a", retry=policy)), routes)
    assert ledger(report) == [("a", "success", 0, 3, 2, None)]


async def test_crashed_handler_of_another_type_is_not_retried(
    autojump_clock: trio.abc.Clock,
) -> None:
    """A handler's KeyError is not retried by retry_on=(ValueError,): the step fails at once."""
    policy = RetryPolicy(initial_interval=1, retry_on=(ValueError,))
    async with actors([], a=[(1, KeyError("gone")), (1, OK)]) as routes:
        report = await go(flow(step("a", retry=policy)), routes)
    assert ledger(report) == [("a", "error", 0, 1, 1, "KeyError")]
    assert report.error == (
        "Step 'a' failed: actor 'a' crashed handling the request: KeyError: 'gone'"
    )
