"""Progress events: the stream of a run, to a callback or a channel, with no payloads in it."""

from __future__ import annotations

import math
from typing import Any

import attrs
import pytest
import trio

from mira_actors import ActorRef
from supervisors import (
    LatencyHistory,
    Parallel,
    RetryPolicy,
    RunEvent,
    RunFinished,
    RunStarted,
    StepCompleted,
    StepFailed,
    StepRetried,
    StepStarted,
    Workflow,
    open_workflow_supervisor,
)
from supervisors import run_workflow as run
from tests.supervisors.scripted import OK, Scripted, actors, fails, flow, step

RUN = {"workflow_id": "run-1", "workflow_type": "w"}


async def events_of(
    workflow: Workflow, routes: dict[str, ActorRef], data: Any = "D", **options: Any
) -> list[RunEvent]:
    """Run ``workflow`` and return its events, checking that callback and channel agree."""
    options.setdefault("timeout", 10)
    seen: list[RunEvent] = []
    await run(workflow, data, routes=routes, workflow_id="run-1", on_event=seen.append, **options)
    return seen


async def test_success_stream(autojump_clock: trio.abc.Clock) -> None:
    """A run that succeeds: started, each step started and completed, finished with success."""
    async with actors([], a=[(1, OK)], b=[(2, OK)]) as routes:
        events = await events_of(flow(step("a"), step("b", timeout=4)), routes)
    assert events == [
        RunStarted(**RUN, time=0, timeout=10),
        StepStarted(**RUN, time=0, step="a", attempt=1, budget=10),
        StepCompleted(**RUN, time=1, step="a", attempts=1, seconds=1),
        StepStarted(**RUN, time=1, step="b", attempt=1, budget=4),
        StepCompleted(**RUN, time=3, step="b", attempts=1, seconds=2),
        RunFinished(**RUN, time=3, outcome="success", completed_steps=("a", "b")),
    ]


async def test_timeout_stream(autojump_clock: trio.abc.Clock) -> None:
    """A run cut by its deadline: the running step fails as timed out, then the run finishes."""
    async with actors([], a=[(1, OK)], b=[(5, OK)], c=[(1, OK)]) as routes:
        events = await events_of(flow(step("a"), step("b"), step("c")), routes, timeout=3)
    assert events == [
        RunStarted(**RUN, time=0, timeout=3),
        StepStarted(**RUN, time=0, step="a", attempt=1, budget=3),
        StepCompleted(**RUN, time=1, step="a", attempts=1, seconds=1),
        StepStarted(**RUN, time=1, step="b", attempt=1, budget=2),
        StepFailed(**RUN, time=3, step="b", attempts=1, status="timeout", error_type="deadline"),
        RunFinished(**RUN, time=3, outcome="timeout", completed_steps=("a",)),
    ]


async def test_step_timeout_stream(autojump_clock: trio.abc.Clock) -> None:
    """A step out of its own time fails with error_type 'step_timeout'."""
    async with actors([], a=[(5, OK)]) as routes:
        events = await events_of(flow(step("a", timeout=2)), routes)
    assert events[2:] == [
        StepFailed(
            **RUN, time=2, step="a", attempts=1, status="timeout", error_type="step_timeout"
        ),
        RunFinished(**RUN, time=2, outcome="timeout", completed_steps=()),
    ]


async def test_retry_stream(autojump_clock: trio.abc.Clock) -> None:
    """A retried step: each attempt starts, failed ones report the wait before the next."""
    script = [(1, fails()), (0.5, KeyError("k")), (1, OK)]
    policy = RetryPolicy(max_attempts=3, initial_interval=0.5, backoff_coefficient=4)
    async with actors([], a=script) as routes:
        events = await events_of(flow(step("a", retry=policy)), routes)
    assert events == [
        RunStarted(**RUN, time=0, timeout=10),
        StepStarted(**RUN, time=0, step="a", attempt=1, budget=10),
        StepRetried(**RUN, time=1, step="a", attempt=1, error_type="agent_error", delay=0.5),
        StepStarted(**RUN, time=1.5, step="a", attempt=2, budget=8.5),
        StepRetried(**RUN, time=2, step="a", attempt=2, error_type="KeyError", delay=2),
        StepStarted(**RUN, time=4, step="a", attempt=3, budget=6),
        StepCompleted(**RUN, time=5, step="a", attempts=3, seconds=1),
        RunFinished(**RUN, time=5, outcome="success", completed_steps=("a",)),
    ]


async def test_error_stream(autojump_clock: trio.abc.Clock) -> None:
    """A step whose agent answers 'error' fails with 'agent_error'; the run finishes in error."""
    async with actors([], a=[(1, OK)], b=[(1, fails())]) as routes:
        events = await events_of(flow(step("a"), step("b")), routes)
    assert events[3:] == [
        StepStarted(**RUN, time=1, step="b", attempt=1, budget=9),
        StepFailed(**RUN, time=2, step="b", attempts=1, status="error", error_type="agent_error"),
        RunFinished(**RUN, time=2, outcome="error", completed_steps=("a",)),
    ]


async def test_cancelled_stream(autojump_clock: trio.abc.Clock) -> None:
    """A run cancelled by its caller still ends its stream, with the outcome 'cancelled'."""
    seen: list[RunEvent] = []
    async with actors([], a=[(1, OK)], b=[(5, OK)]) as routes:
        with trio.move_on_after(2):
            await run(
                flow(step("a"), step("b")),
                "D",
                routes=routes,
                timeout=10,
                workflow_id="run-1",
                on_event=seen.append,
            )
    assert seen[3:] == [
        # The caller's deadline (t=2) bounds the budget, not only the run's (t=10).
        StepStarted(**RUN, time=1, step="b", attempt=1, budget=1),
        StepFailed(**RUN, time=2, step="b", attempts=1, status="cancelled", error_type="cancelled"),
        RunFinished(**RUN, time=2, outcome="cancelled", completed_steps=("a",)),
    ]


async def test_cancelled_stream_with_a_parallel_group(autojump_clock: trio.abc.Clock) -> None:
    """A run cancelled by its caller inside a parallel group still ends its stream."""
    seen: list[RunEvent] = []
    group = Parallel(name="g", steps=[step("b"), step("c")])
    async with actors([], a=[(1, OK)], b=[(5, OK)], c=[(5, OK)]) as routes:
        with trio.move_on_after(2):
            await run(
                flow(step("a"), group),
                "D",
                routes=routes,
                timeout=10,
                workflow_id="run-1",
                on_event=seen.append,
            )
    assert seen[-1] == RunFinished(**RUN, time=2, outcome="cancelled", completed_steps=("a",))
    failed = sorted((e.step, e.status) for e in seen if isinstance(e, StepFailed))
    assert failed == [("b", "cancelled"), ("c", "cancelled")]


async def test_refusal_stream(autojump_clock: trio.abc.Clock) -> None:
    """A step refused by its history fails at once, never having started an attempt."""
    history = LatencyHistory()
    history.observe("w/a", 20)
    async with actors([], a=[(1, OK)]) as routes:
        events = await events_of(flow(step("a")), routes, history=history)
    assert events == [
        RunStarted(**RUN, time=0, timeout=10),
        StepFailed(
            **RUN, time=0, step="a", attempts=0, status="timeout", error_type="not_enough_time"
        ),
        RunFinished(**RUN, time=0, outcome="timeout", completed_steps=()),
    ]


async def test_parallel_stream(autojump_clock: trio.abc.Clock) -> None:
    """In a group the sibling of a failed member is reported cancelled."""
    async with actors([], x=[(5, OK)], y=[(1, fails())]) as routes:
        events = await events_of(flow(Parallel(name="g", steps=[step("x"), step("y")])), routes)
    assert events[3:] == [
        StepFailed(**RUN, time=1, step="y", attempts=1, status="error", error_type="agent_error"),
        StepFailed(**RUN, time=1, step="x", attempts=1, status="cancelled", error_type="cancelled"),
        RunFinished(**RUN, time=1, outcome="error", completed_steps=()),
    ]


async def test_channel_gets_the_same_stream(autojump_clock: trio.abc.Clock) -> None:
    """An unbounded memory channel receives the events a callback does, in order."""
    workflow = flow(step("a", retry=RetryPolicy(initial_interval=1)), step("b"))
    scripts: dict[str, list[tuple[float, Any]]] = {"a": [(1, fails()), (1, OK)], "b": [(1, OK)]}
    async with actors([], **scripts) as routes:
        expected = await events_of(workflow, routes)
    assert trio.current_time() == 4
    send, receive = trio.open_memory_channel[RunEvent](math.inf)
    async with actors([], **scripts) as routes:
        await run(workflow, "D", routes=routes, timeout=10, workflow_id="run-1", on_event=send)
    received = []
    while True:
        try:
            received.append(receive.receive_nowait())
        except trio.WouldBlock:
            break
    assert [attrs.evolve(e, time=e.time - 4) for e in received] == expected
    assert len(expected) == 8


@pytest.mark.parametrize("size", [0, 1, 100])
async def test_bounded_channel_is_refused(size: int) -> None:
    """A channel with a bounded buffer could stall the run: it is a ValueError at the start."""
    send, _ = trio.open_memory_channel[RunEvent](size)
    async with actors([], a=[(0, OK)]) as routes:
        with pytest.raises(ValueError, match="an events channel needs an unbounded buffer"):
            await run(
                flow(step("a")), "D", routes=routes, timeout=1, workflow_id="1", on_event=send
            )


@pytest.mark.parametrize("sink", [42, "events", object()])
async def test_sink_that_is_neither_callable_nor_channel_is_refused(sink: Any) -> None:
    """An on_event that is neither a callable nor a send channel is a TypeError at the start."""
    async with actors([], a=[(0, OK)]) as routes:
        with pytest.raises(TypeError, match=r"^on_event must be a callable or a trio memory"):
            await run(
                flow(step("a")), "D", routes=routes, timeout=1, workflow_id="1", on_event=sink
            )


async def test_supervisor_run_refuses_a_bounded_channel() -> None:
    """WorkflowSupervisor.run raises a plain ValueError for a bounded events channel."""
    send, _ = trio.open_memory_channel[RunEvent](0)
    async with open_workflow_supervisor(workflows=[flow(step("a"))]) as supervisor:
        with pytest.raises(ValueError, match="an events channel needs an unbounded buffer"):
            await supervisor.run("w", None, on_event=send)


async def test_run_goes_on_when_the_reader_has_gone(autojump_clock: trio.abc.Clock) -> None:
    """A closed receiving end stops the events; the run completes as if unobserved."""
    send, receive = trio.open_memory_channel[RunEvent](math.inf)
    receive.close()
    async with actors([], a=[(1, OK)], b=[(1, OK)]) as routes:
        report = await run(
            flow(step("a"), step("b")),
            "D",
            routes=routes,
            timeout=10,
            workflow_id="1",
            on_event=send,
        )
    assert report.outcome == "success"


async def test_supervisor_passes_events_on(autojump_clock: trio.abc.Clock) -> None:
    """WorkflowSupervisor.run sends its run's events, under the run's own id."""
    seen: list[RunEvent] = []
    async with open_workflow_supervisor(workflows=[flow(step("a"))]) as supervisor:
        await supervisor.spawn(Scripted, "a", [(1, OK)], [], name="a", handles=["ta"])
        report = await supervisor.run("w", None, on_event=seen.append)
    assert [type(e) for e in seen] == [RunStarted, StepStarted, StepCompleted, RunFinished]
    assert {e.workflow_id for e in seen} == {report.workflow_id}


SECRETS = ("SECRET-DATA", "SECRET-RESULT", "SECRET-ERROR", "SECRET-CRASH", "SECRET-INPUT")


async def test_events_never_carry_payloads(autojump_clock: trio.abc.Clock) -> None:
    """No field of any event holds the workflow data, a step's input, result or error text."""
    script = [
        (1, {"status": "error", "data": "SECRET-RESULT", "error": "SECRET-ERROR"}),
        (1, ValueError("SECRET-CRASH")),
        (1, {"status": "success", "data": {"SECRET-RESULT": ["SECRET-RESULT"]}}),
    ]
    workflow = flow(
        step("a", retry=RetryPolicy(initial_interval=1)),
        step("b", build_input=lambda data, results: f"SECRET-INPUT {results}", optional=True),
        step("c", timeout=1),
    )
    async with actors([], a=script, b=[(1, fails("SECRET-ERROR"))], c=[(5, OK)]) as routes:
        events = await events_of(
            workflow, routes, data={"SECRET-DATA": "SECRET-DATA"}, timeout=math.inf
        )
    assert [type(e) for e in events][-3:] == [StepStarted, StepFailed, RunFinished]
    for event in events:
        for value in attrs.asdict(event).values():
            text = repr(value)
            assert not any(secret in text for secret in SECRETS), (event, value)
