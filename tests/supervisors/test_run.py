"""run_workflow: steps asked in order under the run's deadline, each written to the ledger."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio

from mira_actors import Actor, ActorRef
from supervisors import RunReport, Step, StepRecord, Workflow, check_timeout, open_supervisor
from supervisors import run_workflow as run
from tests.supervisors.scripted import OK, flow, ledger, step

Journal = list[tuple[str, str, float]]


class Timed(Actor):
    """Answers after ``delay`` seconds with what it was sent, journaling virtual times.

    ``reply`` replaces the success answer when given; ``crash`` makes the handler raise.
    """

    def __init__(
        self, name: str, delay: float, journal: Journal, reply: Any = None, crash: bool = False
    ) -> None:
        self.name = name
        self.delay = delay
        self.journal = journal
        self.reply = reply
        self.crash = crash
        self.deadlines: list[float] = []

    async def handle(self, message: Any) -> Any:
        self.journal.append(("start", self.name, trio.current_time()))
        self.deadlines.append(trio.current_effective_deadline())
        try:
            await trio.sleep(self.delay)
        except trio.Cancelled:
            self.journal.append(("cancel", self.name, trio.current_time()))
            raise
        self.journal.append(("end", self.name, trio.current_time()))
        if self.crash:
            raise RuntimeError(f"{self.name} broke")
        if self.reply is not None:
            return self.reply
        return {"status": "success", "data": {"by": self.name, "input": message["data"]}}


def _after(step: str) -> Any:
    return lambda data, results: {"from": results[step]}


THREE = Workflow(
    name="three",
    steps=[
        Step(name="a", message_type="ta"),
        Step(name="b", message_type="tb", build_input=_after("a")),
        Step(name="c", message_type="tc", build_input=lambda data, results: (data, results)),
    ],
)


@asynccontextmanager
async def actors(journal: Journal, *specs: tuple[str, float]) -> AsyncIterator[dict[str, ActorRef]]:
    """Run one Timed actor per (name, delay); yield the routes 't<name>' -> its ref."""
    async with open_supervisor() as supervisor:
        yield {
            f"t{name}": await supervisor.spawn(Timed, name, delay, journal, name=name)
            for name, delay in specs
        }


async def run_three(routes: Mapping[str, ActorRef], timeout: float, **kwargs: Any) -> RunReport:
    return await run(THREE, "D", routes=routes, timeout=timeout, workflow_id="run-1", **kwargs)


def times(report: RunReport) -> list[tuple[str, str, float, float]]:
    return [(r.step, r.status, r.started_at, r.ended_at) for r in report.records]


async def test_success_runs_the_steps_in_order(autojump_clock: trio.abc.Clock) -> None:
    """Each step starts when the one before it ends; the ledger holds the exact times."""
    journal: Journal = []
    async with actors(journal, ("a", 1), ("b", 2), ("c", 3)) as routes:
        report = await run_three(routes, timeout=10)
        assert trio.current_time() == 6
    assert report.outcome == "success"
    assert (report.workflow_id, report.workflow_type, report.timeout) == ("run-1", "three", 10.0)
    assert (report.error, report.error_type) == (None, None)
    assert times(report) == [
        ("a", "success", 0, 1),
        ("b", "success", 1, 3),
        ("c", "success", 3, 6),
    ]
    assert [(r.agent, r.attempts) for r in report.records] == [("a", 1), ("b", 1), ("c", 1)]
    assert report.completed_steps == ["a", "b", "c"]


async def test_steps_get_the_data_and_earlier_results(autojump_clock: trio.abc.Clock) -> None:
    """A step's input is built from the workflow data and the results of earlier steps."""
    async with actors([], ("a", 0), ("b", 0), ("c", 0)) as routes:
        report = await run_three(routes, timeout=10)
    a_result = {"by": "a", "input": "D"}
    b_result = {"by": "b", "input": {"from": a_result}}
    assert [r.result for r in report.records] == [
        a_result,
        b_result,
        {"by": "c", "input": ("D", {"a": a_result, "b": b_result})},
    ]


async def test_success_response_has_steps_and_no_status(autojump_clock: trio.abc.Clock) -> None:
    """A successful run's response is exactly {workflow_type, steps}."""
    async with actors([], ("a", 0), ("b", 0), ("c", 0)) as routes:
        report = await run_three(routes, timeout=10)
    assert report.response() == {
        "workflow_id": "run-1",
        "workflow_type": "three",
        "steps": [r.as_step() for r in report.records],
    }


async def test_handlers_run_under_the_runs_deadline(autojump_clock: trio.abc.Clock) -> None:
    """Every step's handler sees the run's deadline: its start plus the timeout."""
    async with open_supervisor() as supervisor:
        await trio.sleep(2)
        actor = Timed("a", 1, [])
        ref = await supervisor.spawn(lambda: actor, name="a")
        workflow = Workflow(name="w", steps=[Step(name=n, message_type="t") for n in "xyz"])
        await run(workflow, None, routes={"t": ref}, timeout=7, workflow_id="1")
        await run(workflow, None, routes={"t": ref}, timeout=math.inf, workflow_id="2")
    assert actor.deadlines == [9, 9, 9, math.inf, math.inf, math.inf]


async def test_timeout_cancels_the_running_step_at_the_deadline(
    autojump_clock: trio.abc.Clock,
) -> None:
    """At the deadline the step running is cancelled, recorded as 'timeout', and nothing runs on."""
    journal: Journal = []
    async with actors(journal, ("a", 1), ("b", 2), ("c", 3)) as routes:
        report = await run_three(routes, timeout=4)
        assert trio.current_time() == 4
        await trio.sleep(100)
    assert report.outcome == "timeout"
    assert report.error == "Workflow execution timed out after 4.0 seconds"
    assert report.error_type == "timeout"
    assert times(report) == [
        ("a", "success", 0, 1),
        ("b", "success", 1, 3),
        ("c", "timeout", 3, 4),
    ]
    assert report.completed_steps == ["a", "b"]
    assert journal == [
        ("start", "a", 0),
        ("end", "a", 1),
        ("start", "b", 1),
        ("end", "b", 3),
        ("start", "c", 3),
        ("cancel", "c", 4),
    ]


async def test_timeout_response_lists_only_completed_steps(autojump_clock: trio.abc.Clock) -> None:
    """The timeout response has the completed steps, and partial progress read from them.

    Each step lists its attempts; partial progress names the step the deadline cut short.
    """
    async with actors([], ("a", 1), ("b", 2), ("c", 3)) as routes:
        report = await run_three(routes, timeout=2)
    assert report.response() == {
        "workflow_id": "run-1",
        "workflow_type": "three",
        "status": "timeout",
        "error": "Workflow execution timed out after 2.0 seconds",
        "steps": [
            {"step": "a", "status": "success", "result": {"by": "a", "input": "D"}, "attempts": 1}
        ],
        "partial_progress": {
            "completed_steps": ["a"],
            "total_steps_completed": 1,
            "timeout_seconds": 2.0,
            "timed_out_steps": ["b"],
        },
    }


async def test_zero_timeout_runs_no_step(autojump_clock: trio.abc.Clock) -> None:
    """With a timeout of 0 the first step times out before its agent sees it.

    Its one attempt was started and cut at once: it is the step partial progress names.
    """
    journal: Journal = []
    async with actors(journal, ("a", 0), ("b", 0), ("c", 0)) as routes:
        report = await run_three(routes, timeout=0)
        await trio.sleep(1)
    assert report.outcome == "timeout"
    assert times(report) == [("a", "timeout", 0, 0)]
    assert (report.records[0].attempts, report.records[0].error_type) == (1, "deadline")
    assert report.response()["partial_progress"] == {
        "completed_steps": [],
        "total_steps_completed": 0,
        "timeout_seconds": 0.0,
        "timed_out_steps": ["a"],
    }
    assert journal == []


async def test_infinite_timeout_waits_as_long_as_the_steps_take(
    autojump_clock: trio.abc.Clock,
) -> None:
    """math.inf is no deadline: a step of a thousand seconds completes."""
    async with actors([], ("a", 1000), ("b", 0), ("c", 0)) as routes:
        report = await run_three(routes, timeout=math.inf)
    assert report.outcome == "success"
    assert trio.current_time() == 1000


async def test_prior_results_are_not_run_again(autojump_clock: trio.abc.Clock) -> None:
    """A step named in prior is carried over with its result; later steps build on it."""
    journal: Journal = []
    async with actors(journal, ("a", 1), ("b", 2), ("c", 3)) as routes:
        await trio.sleep(5)
        report = await run_three(routes, timeout=10, prior={"a": "kept", "zzz": "ignored"})
    assert [j for j in journal if j[0] == "start"] == [("start", "b", 5), ("start", "c", 7)]
    carried = report.records[0]
    assert carried == StepRecord(
        step="a", agent="", status="success", started_at=5, ended_at=5, attempts=0, result="kept"
    )
    assert report.records[1].result == {"by": "b", "input": {"from": "kept"}}
    assert report.completed_steps == ["a", "b", "c"]
    assert report.response()["steps"][0] == {
        "step": "a",
        "status": "success",
        "result": "kept",
        "attempts": 0,
    }


async def test_prior_steps_count_as_completed_on_timeout(autojump_clock: trio.abc.Clock) -> None:
    """Carried-over steps are in the partial progress of a run that times out."""
    async with actors([], ("a", 1), ("b", 2), ("c", 3)) as routes:
        report = await run_three(routes, timeout=1, prior={"a": None})
    assert report.response()["partial_progress"]["completed_steps"] == ["a"]
    assert times(report) == [("a", "success", 0, 0), ("b", "timeout", 0, 1)]


async def test_on_step_sees_each_record_as_it_is_written(autojump_clock: trio.abc.Clock) -> None:
    """on_step is called once per record, in ledger order, at the time the step ended."""
    seen: list[tuple[str, str, float]] = []

    def listen(record: StepRecord) -> None:
        seen.append((record.step, record.status, trio.current_time()))

    async with actors([], ("a", 1), ("b", 2), ("c", 3)) as routes:
        report = await run_three(routes, timeout=5, prior={"a": 1}, on_step=listen)
    assert seen == [("a", "success", 0), ("b", "success", 2), ("c", "timeout", 5)]
    assert [(r.step, r.status) for r in report.records] == [(s, st) for s, st, _ in seen]


async def test_agent_error_ends_the_run(autojump_clock: trio.abc.Clock) -> None:
    """A step whose agent answers 'error' ends the run with an error naming the step."""
    journal: Journal = []
    failure = {"status": "error", "data": None, "error": "no good"}
    async with open_supervisor() as supervisor:
        routes = {
            "ta": await supervisor.spawn(Timed, "a", 1, journal, name="a"),
            "tb": await supervisor.spawn(Timed, "b", 2, journal, failure, name="b"),
            "tc": await supervisor.spawn(Timed, "c", 3, journal, name="c"),
        }
        report = await run_three(routes, timeout=10)
        assert trio.current_time() == 3
    assert report.outcome == "error"
    assert report.error == "Step 'b' failed: no good"
    assert report.error_type == "agent_error"
    assert times(report) == [("a", "success", 0, 1), ("b", "error", 1, 3)]
    assert ("start", "c", 3) not in journal
    assert report.response() == {
        "workflow_id": "run-1",
        "workflow_type": "three",
        "status": "error",
        "error": "Step 'b' failed: no good",
        "steps": [
            {"step": "a", "status": "success", "result": {"by": "a", "input": "D"}, "attempts": 1},
        ],
        "failed_step": {
            "step": "b",
            "status": "error",
            "error_type": "agent_error",
            "error": "no good",
            "attempts": 1,
        },
    }


async def test_other_agent_status_fails_the_step_and_is_listed(
    autojump_clock: trio.abc.Clock,
) -> None:
    """A step whose agent answers a status other than 'success' fails with that status."""
    answer = {"status": "timeout", "data": None, "error": "upstream timed out"}
    async with open_supervisor() as supervisor:
        ref = await supervisor.spawn(Timed, "a", 1, [], answer, name="a")
        report = await run_three({"ta": ref}, timeout=10)
    assert report.outcome == "error"
    assert report.error == "Step 'a' failed: upstream timed out"
    assert report.response()["steps"] == []
    assert report.response()["failed_step"] == {
        "step": "a",
        "status": "timeout",
        "error_type": "agent_error",
        "error": "upstream timed out",
        "attempts": 1,
    }


async def test_crashing_handler_is_a_step_error(autojump_clock: trio.abc.Clock) -> None:
    """A handler that raises fails its step: the error names the actor, the type its exception."""
    async with open_supervisor() as supervisor:
        ref = await supervisor.spawn(lambda: Timed("a", 1, [], crash=True), name="a")
        report = await run_three({"ta": ref}, timeout=10)
    assert report.outcome == "error"
    assert report.error_type == "RuntimeError"
    assert report.exception == "a broke"
    assert report.error == (
        "Step 'a' failed: actor 'a' crashed handling the request: RuntimeError: a broke"
    )
    assert times(report) == [("a", "error", 0, 1)]
    assert "partial_progress" not in report.response()


async def test_missing_agent_is_a_step_error(autojump_clock: trio.abc.Clock) -> None:
    """A step whose message type has no actor fails at once, never having been sent."""
    journal: Journal = []
    async with actors(journal, ("a", 1), ("c", 3)) as routes:
        report = await run_three(routes, timeout=10)
    assert report.outcome == "error"
    assert report.error == "Step 'b' failed: no agent is registered for message type 'tb'"
    assert report.error_type == "no_agent"
    failed = report.records[-1]
    assert (failed.step, failed.agent, failed.attempts, failed.started_at) == ("b", "", 0, 1)
    assert [j[1] for j in journal] == ["a", "a"]


async def test_input_that_cannot_be_built_is_a_step_error(autojump_clock: trio.abc.Clock) -> None:
    """A builder that raises fails its step with the error named, without asking the agent."""
    workflow = Workflow(
        name="w", steps=[Step(name="s", message_type="ta", build_input=lambda d, r: d["missing"])]
    )
    journal: Journal = []
    async with actors(journal, ("a", 1)) as routes:
        report = await run(workflow, {}, routes=routes, timeout=10, workflow_id="1")
    assert report.outcome == "error"
    assert report.error == "Step 's' failed: could not build its input: KeyError: 'missing'"
    assert report.error_type == "bad_input"
    assert (report.records[0].attempts, report.records[0].agent) == (0, "a")
    assert journal == []


async def test_error_before_the_deadline_is_not_a_timeout(autojump_clock: trio.abc.Clock) -> None:
    """A step that fails before the deadline ends the run as an error at that moment."""
    failure = {"status": "error", "error": "late failure"}
    async with open_supervisor() as supervisor:
        ref = await supervisor.spawn(Timed, "a", 4.5, [], failure, name="a")
        report = await run_three({"ta": ref}, timeout=5)
        assert trio.current_time() == 4.5
    assert report.outcome == "error"
    assert "partial_progress" not in report.response()


async def test_cancellation_from_outside_is_not_a_timeout(autojump_clock: trio.abc.Clock) -> None:
    """Cancelled by its caller, a run propagates the cancellation and records 'cancelled'."""
    journal: Journal = []
    seen: list[StepRecord] = []
    async with actors(journal, ("a", 1), ("b", 2), ("c", 3)) as routes:
        async with trio.open_nursery() as nursery:
            scope = trio.CancelScope()

            async def caller() -> None:
                with scope:
                    await run_three(routes, timeout=10, on_step=seen.append)
                    pytest.fail("the run returned instead of being cancelled")

            nursery.start_soon(caller)
            await trio.sleep(2)
            scope.cancel()
        await trio.sleep(10)
    assert [(r.step, r.status, r.ended_at) for r in seen] == [
        ("a", "success", 1),
        ("b", "cancelled", 2),
    ]
    assert journal[-1] == ("cancel", "b", 2)


async def test_callers_earlier_deadline_is_a_cancellation(autojump_clock: trio.abc.Clock) -> None:
    """When the caller's own deadline passes first, the running step is 'cancelled'."""
    seen: list[StepRecord] = []
    async with actors([], ("a", 1), ("b", 2), ("c", 3)) as routes:
        with trio.move_on_after(2) as scope:
            await run_three(routes, timeout=10, on_step=seen.append)
    assert scope.cancelled_caught
    assert [(r.step, r.status, r.ended_at) for r in seen] == [
        ("a", "success", 1),
        ("b", "cancelled", 2),
    ]


async def test_runs_on_one_actor_share_nothing(autojump_clock: trio.abc.Clock) -> None:
    """Two runs at once keep their own ledgers and ids."""
    reports: dict[str, RunReport] = {}
    workflow = Workflow(name="w", steps=[Step(name="s", message_type="ta")])
    async with actors([], ("a", 1)) as routes, trio.open_nursery() as nursery:
        for run_id in ("x", "y"):

            async def one(run_id: str = run_id) -> None:
                reports[run_id] = await run(
                    workflow, run_id, routes=routes, timeout=10, workflow_id=run_id
                )

            nursery.start_soon(one)
    for run_id, report in reports.items():
        assert report.workflow_id == run_id
        assert [r.result["input"] for r in report.records] == [run_id]


# check_timeout


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, 0.0), (0.25, 0.25), (30, 30.0), (30.0, 30.0), (math.inf, math.inf), (-0.0, 0.0)],
)
def test_check_timeout_gives_float_seconds(value: float, expected: float) -> None:
    """A valid timeout comes back as a float of the same value; -0.0 is plain zero."""
    checked = check_timeout(value)
    assert type(checked) is float
    assert checked == expected
    assert math.copysign(1, checked) == 1


@pytest.mark.parametrize(
    ("value", "message"),
    [(-1, "got -1"), (-0.001, "got -0.001"), (-math.inf, "got -inf"), (math.nan, "got nan")],
)
def test_check_timeout_refuses_negative_and_nan(value: float, message: str) -> None:
    """A negative or NaN timeout is a ValueError quoting it."""
    with pytest.raises(ValueError, match=f"^Timeout must be non-negative, {message}$"):
        check_timeout(value)


@pytest.mark.parametrize("value", [True, False, None, "30", [30], 1j])
def test_check_timeout_refuses_non_numbers(value: Any) -> None:
    """A bool or anything not an int or float is a TypeError naming its type."""
    with pytest.raises(TypeError, match=f"got {type(value).__name__}$"):
        check_timeout(value)


class Jumper(Actor):
    """Lets the other tasks queue their asks, then jumps the clock past their deadlines."""

    def __init__(self, clock: trio.testing.MockClock) -> None:
        self.clock = clock
        self.calls = 0

    async def handle(self, message: Any) -> Any:
        self.calls += 1
        if self.calls == 1:
            for _ in range(50):  # schedule points, with no time passing
                await trio.lowlevel.cancel_shielded_checkpoint()
            # Within the actor's time slice, so it takes the next ask at once: before trio
            # has run its deadline check, as happens under load in real time.
            self.clock.jump(0.0003)
        return OK


async def test_an_ask_dropped_at_the_deadline_is_a_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """An ask the actor drops as expired, at the run's deadline, times the run out."""
    reports: dict[str, RunReport] = {}
    async with open_supervisor() as supervisor:
        jumper = Jumper(autojump_clock)
        routes = {"ta": await supervisor.spawn(lambda: jumper, name="a")}

        async def one(name: str, timeout: float) -> None:
            reports[name] = await run(
                flow(step("a")), "D", routes=routes, timeout=timeout, workflow_id=name
            )

        async with trio.open_nursery() as nursery:
            nursery.start_soon(one, "first", 10)
            while jumper.calls == 0:  # until its ask is being handled
                await trio.lowlevel.checkpoint()
            nursery.start_soon(one, "queued", 0.0002)
    assert reports["first"].outcome == "success"
    queued = reports["queued"]
    assert (queued.outcome, queued.error_type) == ("timeout", "timeout")
    assert ledger(queued) == [("a", "timeout", 0, 0.0003, 1, "deadline")]
