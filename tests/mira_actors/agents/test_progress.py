"""Progress of process_async runs: their events, and ProgressDisplay's lines from them."""

from __future__ import annotations

import io
import math
from typing import Any

import attrs
import pytest
import trio

from mira_actors.agents import (
    OrchestratorAgent,
    ProgressDisplay,
    ProjectPlanAgent,
    RiskAssessmentAgent,
    StatusReporterAgent,
)
from mira_actors.agents._progress import describe
from supervisors import (
    RetryPolicy,
    RunEvent,
    RunFinished,
    RunStarted,
    StepCompleted,
    StepFailed,
    StepRetried,
    StepStarted,
)

RUN = {"workflow_id": "r1", "workflow_type": "flow"}


class FlakyRiskAgent(RiskAssessmentAgent):
    """Takes ``delay`` seconds per assessment and answers an error the first ``failures`` times."""

    def __init__(self, delay: float, failures: int = 0) -> None:
        self.delay = delay
        self.failures = failures
        self.calls = 0

    async def handle(self, message: Any) -> dict[str, Any]:
        self.calls += 1
        await trio.sleep(self.delay)
        if self.calls <= self.failures:
            return self.error_response("SECRET-ERROR risk service unavailable")
        return await super().handle(message)


def orchestrator(risk: RiskAssessmentAgent) -> OrchestratorAgent:
    orchestrator = OrchestratorAgent()
    for agent in (ProjectPlanAgent(), risk, StatusReporterAgent()):
        orchestrator.register_agent(agent)
    return orchestrator


def workflow(data: Any) -> dict[str, Any]:
    return {"type": "workflow", "data": {"workflow_type": "project_initialization", "data": data}}


PROJECT = {"name": "SECRET-NAME", "description": "SECRET-DESCRIPTION", "goals": ["SECRET-GOAL"]}


# The events themselves


async def test_events_reach_a_callback_and_a_channel(autojump_clock: trio.abc.Clock) -> None:
    """on_event takes a callback or an unbounded channel; both get the run's events in order."""
    seen: list[RunEvent] = []
    await orchestrator(FlakyRiskAgent(delay=1, failures=1)).process_async(
        workflow(PROJECT), timeout=10, retry=RetryPolicy(initial_interval=1), on_event=seen.append
    )
    send, receive = trio.open_memory_channel[RunEvent](math.inf)
    await orchestrator(FlakyRiskAgent(delay=1, failures=1)).process_async(
        workflow(PROJECT), timeout=10, retry=RetryPolicy(initial_interval=1), on_event=send
    )
    received = [receive.receive_nowait() for _ in seen]
    with pytest.raises(trio.WouldBlock):
        receive.receive_nowait()
    assert [(type(e), e.time) for e in received] == [(type(e), e.time + 3) for e in seen]
    assert [(type(e).__name__, getattr(e, "step", ""), e.time) for e in seen] == [
        (RunStarted.__name__, "", 0),
        (StepStarted.__name__, "generate_plan", 0),
        (StepCompleted.__name__, "generate_plan", 0),
        (StepStarted.__name__, "assess_risks", 0),
        (StepRetried.__name__, "assess_risks", 1),
        (StepStarted.__name__, "assess_risks", 2),
        (StepCompleted.__name__, "assess_risks", 3),
        (StepStarted.__name__, "generate_report", 3),
        (StepCompleted.__name__, "generate_report", 3),
        (RunFinished.__name__, "", 3),
    ]
    assert {e.workflow_type for e in seen} == {"project_initialization"}


async def test_timeout_events(autojump_clock: trio.abc.Clock) -> None:
    """A step cut by the deadline is reported failed as timed out, then the run's outcome."""
    seen: list[RunEvent] = []
    await orchestrator(FlakyRiskAgent(delay=5)).process_async(
        workflow(PROJECT), timeout=2, on_event=seen.append
    )
    failed, finished = seen[-2:]
    assert isinstance(failed, StepFailed)
    assert (failed.step, failed.status, failed.error_type, failed.time) == (
        "assess_risks",
        "timeout",
        "deadline",
        2,
    )
    assert isinstance(finished, RunFinished)
    assert (finished.outcome, finished.completed_steps) == ("timeout", ("generate_plan",))


async def test_bounded_channel_is_a_plain_value_error() -> None:
    """A channel with a bounded buffer is a ValueError from process_async, not a group."""
    send, _ = trio.open_memory_channel[RunEvent](10)
    with pytest.raises(ValueError, match="an events channel needs an unbounded buffer"):
        await orchestrator(RiskAssessmentAgent()).process_async(workflow(PROJECT), on_event=send)


SECRETS = ("SECRET", "risk service unavailable")


async def test_events_carry_no_payload(autojump_clock: trio.abc.Clock) -> None:
    """No field of any event holds the project, a result or an agent's error text."""
    seen: list[RunEvent] = []
    await orchestrator(FlakyRiskAgent(delay=1, failures=5)).process_async(
        workflow(PROJECT), timeout=10, retry=RetryPolicy(), on_event=seen.append
    )
    assert [type(e) for e in seen][-2:] == [StepFailed, RunFinished]
    for event in seen:
        for value in attrs.asdict(event).values():
            assert not any(secret in repr(value) for secret in SECRETS), (event, value)


# Describing events


def test_describe_says_what_each_event_means() -> None:
    """Each kind of event is one short line: time from ``since``, step, attempt, status."""
    lines = [
        describe(RunStarted(**RUN, time=12, timeout=10), since=12),
        describe(RunStarted(**RUN, time=12, timeout=math.inf), since=12),
        describe(StepStarted(**RUN, time=13.5, step="s", attempt=2, budget=8.5), since=12),
        describe(StepStarted(**RUN, time=13.5, step="s", attempt=1, budget=math.inf), since=12),
        describe(StepRetried(**RUN, time=14, step="s", attempt=1, error_type="e", delay=0.25), 12),
        describe(StepCompleted(**RUN, time=15, step="s", attempts=3, seconds=1.25), since=12),
        describe(
            StepFailed(**RUN, time=16, step="s", attempts=2, status="timeout", error_type=None)
        ),
        describe(RunFinished(**RUN, time=112.5, outcome="error", completed_steps=()), since=12),
        describe(RunEvent(**RUN, time=12), since=12),
    ]
    assert lines == [
        "[  0.000s] flow started, timeout 10s",
        "[  0.000s] flow started, timeout none",
        "[  1.500s] s: attempt 2 started, 8.5s budget",
        "[  1.500s] s: attempt 1 started, none budget",
        "[  2.000s] s: attempt 1 failed (e), retrying in 0.250s",
        "[  3.000s] s: completed in 1.250s (3 attempts)",
        "[ 16.000s] s: timeout after 2 attempts",
        "[100.500s] flow finished: error",
        "[  0.000s] RunEvent",
    ]


async def test_display_logs_a_retried_run_from_its_start(autojump_clock: trio.abc.Clock) -> None:
    """On a stream that is not a terminal each event is a line, timed from the run's start."""
    stream = io.StringIO()
    await trio.sleep(5)
    response = await orchestrator(FlakyRiskAgent(delay=1, failures=1)).process_async(
        workflow(PROJECT),
        timeout=10,
        retry=RetryPolicy(initial_interval=0.5),
        on_event=ProgressDisplay(stream),
    )
    assert trio.current_time() == 7.5
    assert "status" not in response
    assert stream.getvalue().splitlines() == [
        "[  0.000s] project_initialization started, timeout 10s",
        "[  0.000s] generate_plan: attempt 1 started, 10s budget",
        "[  0.000s] generate_plan: completed in 0.000s (1 attempt)",
        "[  0.000s] assess_risks: attempt 1 started, 10s budget",
        "[  1.000s] assess_risks: attempt 1 failed (agent_error), retrying in 0.500s",
        "[  1.500s] assess_risks: attempt 2 started, 8.5s budget",
        "[  2.500s] assess_risks: completed in 1.000s (2 attempts)",
        "[  2.500s] generate_report: attempt 1 started, 7.5s budget",
        "[  2.500s] generate_report: completed in 0.000s (1 attempt)",
        "[  2.500s] project_initialization finished: success",
    ]


async def test_display_logs_a_step_timeout(autojump_clock: trio.abc.Clock) -> None:
    """A step out of its own time shows as a timeout, then the run's timeout."""
    stream = io.StringIO()
    await orchestrator(FlakyRiskAgent(delay=5)).process_async(
        workflow(PROJECT),
        timeout=math.inf,
        step_timeouts={"assess_risks": 2},
        on_event=ProgressDisplay(stream),
    )
    assert stream.getvalue().splitlines()[-4:] == [
        "[  0.000s] generate_plan: completed in 0.000s (1 attempt)",
        "[  0.000s] assess_risks: attempt 1 started, 2s budget",
        "[  2.000s] assess_risks: timeout after 1 attempt",
        "[  2.000s] project_initialization finished: timeout",
    ]
    assert stream.getvalue().splitlines()[0].endswith("started, timeout none")


async def test_display_shows_no_data(autojump_clock: trio.abc.Clock) -> None:
    """Neither the project's data, the results nor the agents' error texts are shown."""
    stream = io.StringIO()
    await orchestrator(FlakyRiskAgent(delay=1, failures=5)).process_async(
        workflow(PROJECT), timeout=10, retry=RetryPolicy(), on_event=ProgressDisplay(stream)
    )
    assert "finished: error" in stream.getvalue()
    assert "SECRET" not in stream.getvalue()


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_display_on_a_terminal_rewrites_one_line() -> None:
    """On a terminal a started step replaces the line; finished steps and runs keep theirs."""
    stream = Terminal()
    display = ProgressDisplay(stream)
    for event in (
        RunStarted(**RUN, time=100, timeout=5),
        StepStarted(**RUN, time=100, step="s", attempt=1, budget=5),
        StepRetried(**RUN, time=101, step="s", attempt=1, error_type="agent_error", delay=1),
        StepStarted(**RUN, time=102, step="s", attempt=2, budget=3),
        StepCompleted(**RUN, time=103, step="s", attempts=2, seconds=1),
        StepStarted(**RUN, time=103, step="t", attempt=1, budget=2),
        StepFailed(**RUN, time=105, step="t", attempts=1, status="timeout", error_type="deadline"),
        RunFinished(**RUN, time=105, outcome="timeout", completed_steps=("s",)),
    ):
        display(event)
    clear = "\r\x1b[K"
    assert stream.getvalue() == (
        f"{clear}[  0.000s] flow started, timeout 5s"
        f"{clear}[  0.000s] s: attempt 1 started, 5s budget"
        f"{clear}[  1.000s] s: attempt 1 failed (agent_error), retrying in 1.000s"
        f"{clear}[  2.000s] s: attempt 2 started, 3s budget"
        f"{clear}[  3.000s] s: completed in 1.000s (2 attempts)\n"
        f"{clear}[  3.000s] t: attempt 1 started, 2s budget"
        f"{clear}[  5.000s] t: timeout after 1 attempt\n"
        f"{clear}[  5.000s] flow finished: timeout\n"
    )


def test_display_times_each_run_from_its_own_start() -> None:
    """Events of runs that overlap are each timed from their own run's start."""
    stream = io.StringIO()
    display = ProgressDisplay(stream)
    other = {"workflow_id": "r2", "workflow_type": "other"}
    for event in (
        RunStarted(**RUN, time=10, timeout=9),
        RunStarted(**other, time=12, timeout=9),
        StepStarted(**RUN, time=13, step="s", attempt=1, budget=6),
        StepStarted(**other, time=13, step="s", attempt=1, budget=8),
        RunFinished(**RUN, time=14, outcome="success", completed_steps=("s",)),
        RunFinished(**other, time=15, outcome="success", completed_steps=("s",)),
        StepStarted(**RUN, time=20, step="late", attempt=1, budget=1),
    ):
        display(event)
    assert stream.getvalue().splitlines() == [
        "[  0.000s] flow started, timeout 9s",
        "[  0.000s] other started, timeout 9s",
        "[  3.000s] s: attempt 1 started, 6s budget",
        "[  1.000s] s: attempt 1 started, 8s budget",
        "[  4.000s] flow finished: success",
        "[  3.000s] other finished: success",
        "[  0.000s] late: attempt 1 started, 1s budget",  # its run is over: timed from itself
    ]
