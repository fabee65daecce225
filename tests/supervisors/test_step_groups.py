"""run_workflow's parallel groups and optional steps."""

from __future__ import annotations

from typing import Any

import trio

from supervisors import Parallel, RetryPolicy, Step
from tests.supervisors.scripted import OK, Journal, actors, fails, flow, go, ledger, step


def echo(message: Any) -> dict[str, Any]:
    return {"status": "success", "data": message["data"]}


def group(*steps: Step) -> Parallel:
    return Parallel(name="g", steps=steps)


def seen_results(data: Any, results: Any) -> list[str]:
    return sorted(results)


# Parallel groups


async def test_members_run_at_once(autojump_clock: trio.abc.Clock) -> None:
    """A group's members start together; the next step starts when the last one completes.

    Members see the results of the steps before the group, not of each other.
    """
    journal: Journal = []
    scripts: dict[str, list[tuple[float, Any]]] = {
        "a": [(1, OK)],
        "x": [(2, echo)],
        "y": [(3, echo)],
        "c": [(1, echo)],
    }
    async with actors(journal, **scripts) as routes:
        workflow = flow(
            step("a"),
            group(step("x", build_input=seen_results), step("y", build_input=seen_results)),
            step("c", build_input=seen_results),
        )
        report = await go(workflow, routes)
        assert trio.current_time() == 5
    assert sorted(j for j in journal if j[0] == "start") == [
        ("start", "a", 0),
        ("start", "c", 4),
        ("start", "x", 1),
        ("start", "y", 1),
    ]
    assert ledger(report) == [
        ("a", "success", 0, 1, 1, None),
        ("x", "success", 1, 3, 1, None),
        ("y", "success", 1, 4, 1, None),
        ("c", "success", 4, 5, 1, None),
    ]
    assert [r.result for r in report.records[1:]] == [["a"], ["a"], ["a", "x", "y"]]


async def test_member_timeout_cancels_its_sibling(autojump_clock: trio.abc.Clock) -> None:
    """A member out of time cancels its sibling at that instant; no work follows the deadline.

    The sibling's handler sees the cancellation at exactly 4 s and never completes.
    """
    journal: Journal = []
    async with actors(journal, a=[(1, OK)], x=[(5, OK)], y=[(10, OK)], c=[(1, OK)]) as routes:
        workflow = flow(step("a"), group(step("x"), step("y", timeout=3)), step("c"))
        report = await go(workflow, routes, timeout=20)
        assert trio.current_time() == 4
        await trio.sleep(100)
    assert sorted(journal[2:]) == [
        ("cancel", "x", 4),
        ("cancel", "y", 4),
        ("start", "x", 1),
        ("start", "y", 1),
    ]
    assert ledger(report) == [
        ("a", "success", 0, 1, 1, None),
        ("y", "timeout", 1, 4, 1, "step_timeout"),
        ("x", "cancelled", 1, 4, 1, "cancelled"),
    ]
    assert report.response() == {
        "workflow_id": "run-1",
        "workflow_type": "w",
        "status": "timeout",
        "error": "Step 'y' timed out: the attempt ran out of its 3 seconds",
        "steps": [{"step": "a", "status": "success", "result": "done", "attempts": 1}],
        "partial_progress": {
            "completed_steps": ["a"],
            "total_steps_completed": 1,
            "timeout_seconds": 20.0,
            "timed_out_steps": ["y"],
        },
    }


async def test_partial_progress_lists_exactly_the_completed_steps(
    autojump_clock: trio.abc.Clock,
) -> None:
    """A member that completed before its sibling timed out is in partial progress; others not."""
    async with actors([], a=[(1, OK)], x=[(1, OK)], y=[(9, OK)], z=[(9, OK)]) as routes:
        workflow = flow(step("a"), group(step("x"), step("y", timeout=3), step("z")))
        report = await go(workflow, routes)
    progress = report.response()["partial_progress"]
    assert (progress["completed_steps"], progress["timed_out_steps"]) == (["a", "x"], ["y"])
    assert [s["step"] for s in report.response()["steps"]] == ["a", "x"]
    assert ledger(report)[-1] == ("z", "cancelled", 1, 4, 1, "cancelled")


async def test_run_deadline_cuts_every_member(autojump_clock: trio.abc.Clock) -> None:
    """At the run's deadline every running member is cut and recorded as timed out."""
    journal: Journal = []
    async with actors(journal, a=[(1, OK)], x=[(5, OK)], y=[(5, OK)]) as routes:
        report = await go(flow(step("a"), group(step("x"), step("y"))), routes, timeout=3)
        assert trio.current_time() == 3
    assert report.error == "Workflow execution timed out after 3.0 seconds"
    assert sorted(ledger(report)[1:]) == [
        ("x", "timeout", 1, 3, 1, "deadline"),
        ("y", "timeout", 1, 3, 1, "deadline"),
    ]
    assert sorted(report.timed_out_steps) == ["x", "y"]
    assert sorted(j for j in journal if j[0] == "cancel") == [
        ("cancel", "x", 3),
        ("cancel", "y", 3),
    ]


async def test_member_error_cancels_siblings_and_fails_the_run(
    autojump_clock: trio.abc.Clock,
) -> None:
    """A member that fails for good cancels its siblings; the run is an error naming it."""
    journal: Journal = []
    async with actors(journal, a=[(1, OK)], x=[(5, OK)], y=[(1, fails())], c=[(1, OK)]) as routes:
        report = await go(flow(step("a"), group(step("x"), step("y")), step("c")), routes)
        assert trio.current_time() == 2
    assert ("cancel", "x", 2) in journal
    assert report.outcome == "error"
    assert report.response() == {
        "workflow_id": "run-1",
        "workflow_type": "w",
        "status": "error",
        "error": "Step 'y' failed: no good",
        "steps": [
            {"step": "a", "status": "success", "result": "done", "attempts": 1},
        ],
        "failed_step": {
            "step": "y",
            "status": "error",
            "error_type": "agent_error",
            "error": "no good",
            "attempts": 1,
        },
    }


async def test_optional_member_failing_spares_its_siblings(autojump_clock: trio.abc.Clock) -> None:
    """An optional member that fails does not cancel the group; the run goes on."""
    async with actors([], x=[(3, OK)], y=[(1, fails())], c=[(1, OK)]) as routes:
        report = await go(flow(group(step("x"), step("y", optional=True)), step("c")), routes)
    assert report.outcome == "success"
    assert ledger(report) == [
        ("y", "error", 0, 1, 1, "agent_error"),
        ("x", "success", 0, 3, 1, None),
        ("c", "success", 3, 4, 1, None),
    ]


async def test_member_retries_while_its_sibling_runs(autojump_clock: trio.abc.Clock) -> None:
    """A member retried after its backoff completes the group; its sibling is untouched."""
    journal: Journal = []
    policy = RetryPolicy(initial_interval=1)
    async with actors(journal, x=[(5, OK)], y=[(1, fails()), (1, OK)], c=[(1, OK)]) as routes:
        report = await go(flow(group(step("x"), step("y", retry=policy)), step("c")), routes)
    assert ledger(report) == [
        ("y", "success", 0, 3, 2, None),
        ("x", "success", 0, 5, 1, None),
        ("c", "success", 5, 6, 1, None),
    ]
    assert not [j for j in journal if j[0] == "cancel"]


async def test_prior_members_are_not_run_again(autojump_clock: trio.abc.Clock) -> None:
    """A member carried over from an earlier run is not asked again; the others run."""
    journal: Journal = []
    async with actors(journal, x=[(5, OK)], y=[(1, OK)]) as routes:
        report = await go(flow(group(step("x"), step("y"))), routes, prior={"x": "kept"})
    assert [j[1] for j in journal] == ["y", "y"]
    assert report.completed_steps == ["x", "y"]


# Optional steps


async def test_optional_step_failing_lets_the_run_succeed(autojump_clock: trio.abc.Clock) -> None:
    """An optional step that fails for good is listed with its failure; the run goes on."""
    async with actors([], a=[(1, OK)], b=[(1, fails("meh"))], c=[(1, OK)]) as routes:
        report = await go(flow(step("a"), step("b", optional=True), step("c")), routes)
    assert report.outcome == "success"
    assert report.response() == {
        "workflow_id": "run-1",
        "workflow_type": "w",
        "steps": [
            {"step": "a", "status": "success", "result": "done", "attempts": 1},
            {"step": "b", "status": "error", "result": None, "attempts": 1},
            {"step": "c", "status": "success", "result": "done", "attempts": 1},
        ],
    }


async def test_optional_step_timing_out_lets_the_run_go_on(autojump_clock: trio.abc.Clock) -> None:
    """An optional step cut by its own timeout is recorded as timed out; later steps run."""
    async with actors([], a=[(5, OK)], b=[(1, OK)]) as routes:
        report = await go(flow(step("a", timeout=2, optional=True), step("b")), routes)
    assert report.outcome == "success"
    assert ledger(report) == [
        ("a", "timeout", 0, 2, 1, "step_timeout"),
        ("b", "success", 2, 3, 1, None),
    ]
