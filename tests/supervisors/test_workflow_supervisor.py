"""open_workflow_supervisor: runs by call, workflows and routes, isolation, clean exits."""

from __future__ import annotations

import gc
import math
import re
from typing import Any

import pytest
import trio

from mira_actors import Actor
from supervisors import (
    DEFAULT_TIMEOUT,
    RunReport,
    Step,
    Workflow,
    WorkflowSupervisor,
    open_workflow_supervisor,
)

Journal = list[tuple[str, str, float]]


class Agent(Actor):
    """Sleeps ``data['delay']`` seconds, then echoes ``data['value']``; journals virtual times.

    ``data['fail']`` makes it answer with an error instead.
    """

    def __init__(self, name: str, journal: Journal) -> None:
        self.name = name
        self.journal = journal

    async def handle(self, message: Any) -> Any:
        data = message["data"]
        self.journal.append(("start", self.name, trio.current_time()))
        try:
            await trio.sleep(data.get("delay", 0))
        except trio.Cancelled:
            self.journal.append(("cancel", self.name, trio.current_time()))
            raise
        self.journal.append(("end", self.name, trio.current_time()))
        if data.get("fail"):
            return {"status": "error", "error": "failed on purpose"}
        return {"status": "success", "data": {"by": self.name, "echo": data.get("value")}}


ONE = Workflow(name="one", steps=[Step(name="s", message_type="t")])
TWO = Workflow(
    name="two", steps=[Step(name="first", message_type="t"), Step(name="second", message_type="t")]
)


async def spawn_agent(supervisor: WorkflowSupervisor, journal: Journal, name: str = "agent") -> Any:
    return await supervisor.spawn(Agent, name, journal, name=name, handles=["t"])


# run()


async def test_run_returns_the_report(autojump_clock: trio.abc.Clock) -> None:
    """run() runs the named workflow and returns its report, whose response is the MIRA shape."""
    async with open_workflow_supervisor(workflows=[ONE, TWO]) as supervisor:
        await spawn_agent(supervisor, [])
        report = await supervisor.run("two", {"value": 7, "delay": 1.5}, timeout=10)
        assert trio.current_time() == 3
    assert report.outcome == "success"
    assert report.workflow_type == "two"
    assert re.fullmatch("[0-9a-f]{32}", report.workflow_id)
    result = {"by": "agent", "echo": 7}
    assert report.response() == {
        "workflow_id": report.workflow_id,
        "workflow_type": "two",
        "steps": [
            {"step": "first", "status": "success", "result": result, "attempts": 1},
            {"step": "second", "status": "success", "result": result, "attempts": 1},
        ],
    }


async def test_a_finished_run_is_freed_without_the_cyclic_collector(
    autojump_clock: trio.abc.Clock,
) -> None:
    """Runs that succeed, fail or time out leave no reference cycle of the run's objects.

    Each one's ledger and results are freed as it ends, not at the collector's next full
    pass, which at a thousand runs at once would promote them through every generation.
    """
    async with open_workflow_supervisor(workflows=[TWO]) as supervisor:
        await spawn_agent(supervisor, [])
        await supervisor.run("two", {"value": 1})  # warm: nothing first-time in the count
        gc.collect()
        gc.disable()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            reports = [
                await supervisor.run("two", {"value": 1}),
                await supervisor.run("two", {"fail": True}),
                await supervisor.run("two", {"delay": 2}, timeout=3),
            ]
            gc.collect()
            ours = [obj for obj in gc.garbage if type(obj).__module__.startswith("supervisors")]
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            gc.enable()
    assert [report.outcome for report in reports] == ["success", "error", "timeout"]
    assert ours == []


async def test_each_run_has_its_own_id(autojump_clock: trio.abc.Clock) -> None:
    """Two runs of one workflow have different ids."""
    async with open_workflow_supervisor(workflows=[ONE]) as supervisor:
        await spawn_agent(supervisor, [])
        first = await supervisor.run("one", {})
        second = await supervisor.run("one", {})
    assert first.workflow_id != second.workflow_id


async def test_run_times_out_at_its_deadline(autojump_clock: trio.abc.Clock) -> None:
    """At the run's deadline the step running is cancelled and the report is a timeout."""
    journal: Journal = []
    async with open_workflow_supervisor(workflows=[TWO]) as supervisor:
        await spawn_agent(supervisor, journal)
        report = await supervisor.run("two", {"delay": 2}, timeout=3)
        assert trio.current_time() == 3
        await trio.sleep(50)
    assert report.outcome == "timeout"
    assert report.completed_steps == ["first"]
    assert journal == [
        ("start", "agent", 0),
        ("end", "agent", 2),
        ("start", "agent", 2),
        ("cancel", "agent", 3),
    ]


async def test_default_timeout_is_thirty_seconds(autojump_clock: trio.abc.Clock) -> None:
    """Without a timeout a run times out after DEFAULT_TIMEOUT, 30 seconds."""
    async with open_workflow_supervisor(workflows=[ONE]) as supervisor:
        await spawn_agent(supervisor, [])
        report = await supervisor.run("one", {"delay": 100})
        assert trio.current_time() == 30
    assert DEFAULT_TIMEOUT == 30.0
    assert (report.outcome, report.timeout) == ("timeout", 30.0)


@pytest.mark.parametrize(
    ("timeout", "error"),
    [(-1, ValueError), (math.nan, ValueError), (True, TypeError), ("5", TypeError)],
)
async def test_run_refuses_a_bad_timeout(timeout: Any, error: type[Exception]) -> None:
    """A bad timeout raises before any step runs, and no report is made."""
    journal: Journal = []
    reports: list[RunReport] = []
    async with open_workflow_supervisor(workflows=[ONE], on_report=reports.append) as supervisor:
        await spawn_agent(supervisor, journal)
        with pytest.raises(error, match=r"^Timeout must be"):
            await supervisor.run("one", {}, timeout=timeout)
    assert (journal, reports) == ([], [])


async def test_unknown_workflow_is_an_error_report() -> None:
    """An unknown workflow type is an error report naming the known types, with no steps."""
    async with open_workflow_supervisor(workflows=[TWO, ONE]) as supervisor:
        report = await supervisor.run("three", {})
    error = "Unknown workflow type: 'three' (known: one, two)"
    assert (report.outcome, report.error, report.error_type) == ("error", error, "unknown_workflow")
    assert re.fullmatch("[0-9a-f]{32}", report.workflow_id)
    assert report.response() == {
        "workflow_id": report.workflow_id,
        "workflow_type": "three",
        "status": "error",
        "error": error,
        "steps": [],
    }


@pytest.mark.parametrize("workflow_type", [None, 3, ["one"]])
async def test_non_str_workflow_type_is_unknown(workflow_type: Any) -> None:
    """A workflow type that is not a str is unknown, quoted by its repr."""
    async with open_workflow_supervisor() as supervisor:
        report = await supervisor.run(workflow_type, {})
    assert report.workflow_type == repr(workflow_type)
    assert report.error == f"Unknown workflow type: {workflow_type!r} (known: none)"


async def test_on_report_sees_every_report(autojump_clock: trio.abc.Clock) -> None:
    """on_report gets each run's report, whatever its outcome, once."""
    reports: list[RunReport] = []
    async with open_workflow_supervisor(workflows=[ONE], on_report=reports.append) as supervisor:
        await spawn_agent(supervisor, [])
        made = [
            await supervisor.run("one", {}),
            await supervisor.run("one", {"delay": 5}, timeout=1),
            await supervisor.run("one", {"fail": True}),
            await supervisor.run("nope", {}),
        ]
    assert reports == made
    assert [r.outcome for r in reports] == ["success", "timeout", "error", "error"]


async def test_prior_and_on_step_reach_the_run(autojump_clock: trio.abc.Clock) -> None:
    """run() passes prior results and the step listener on to the run."""
    journal: Journal = []
    seen: list[str] = []
    async with open_workflow_supervisor(workflows=[TWO]) as supervisor:
        await spawn_agent(supervisor, journal)
        report = await supervisor.run(
            "two", {}, prior={"first": "done"}, on_step=lambda r: seen.append(r.step)
        )
    assert seen == ["first", "second"]
    assert report.records[0].attempts == 0
    assert len(journal) == 2  # only "second" was asked


# Workflows and routes


async def test_register_workflow_adds_and_replaces() -> None:
    """register_workflow adds a workflow by name, replacing one of the same name."""
    replacement = Workflow(name="one", steps=[Step(name="other", message_type="t")])
    async with open_workflow_supervisor(workflows=[ONE]) as supervisor:
        supervisor.register_workflow(TWO)
        supervisor.register_workflow(replacement)
        assert dict(supervisor.workflows) == {"one": replacement, "two": TWO}


async def test_register_workflow_refuses_other_things() -> None:
    """Registering something that is not a Workflow is a TypeError."""
    async with open_workflow_supervisor() as supervisor:
        with pytest.raises(TypeError, match="expected a Workflow, got dict"):
            supervisor.register_workflow({"name": "one"})  # type: ignore[arg-type]


async def test_workflows_and_routes_are_copies() -> None:
    """Changing the mappings returned does not change the supervisor."""
    async with open_workflow_supervisor(workflows=[ONE]) as supervisor:
        await spawn_agent(supervisor, [])
        supervisor.workflows.clear()  # type: ignore[attr-defined]
        supervisor.routes.clear()  # type: ignore[attr-defined]
        assert list(supervisor.workflows) == ["one"]
        assert list(supervisor.routes) == ["t"]


async def test_spawn_routes_each_message_type_it_handles() -> None:
    """spawn routes every type in handles, or the one type given as a str, to the actor."""
    async with open_workflow_supervisor() as supervisor:
        both = await supervisor.spawn(Agent, "both", [], name="both", handles=["x", "y"])
        single = await supervisor.spawn(Agent, "single", [], name="single", handles="zed")
        assert dict(supervisor.routes) == {"x": both, "y": both, "zed": single}


# Many runs at once


async def test_many_concurrent_runs_are_isolated(autojump_clock: trio.abc.Clock) -> None:
    """Runs at once each end at their own time with their own outcome, id and ledger."""
    count = 30
    journal: Journal = []
    workflows = [
        Workflow(name=f"w{i}", steps=[Step(name="s", message_type=f"t{i}")]) for i in range(count)
    ]
    # Delays of 1 to 5 seconds against timeouts that never equal them, in every pairing.
    plan = {i: (1 + i % 5, [0, 0.5, 2.5, 4.5, math.inf, 3.5][i % 6]) for i in range(count)}
    ended: dict[int, tuple[float, RunReport]] = {}
    async with open_workflow_supervisor(workflows=workflows) as supervisor:
        for i in range(count):
            await supervisor.spawn(Agent, f"a{i}", journal, name=f"a{i}", handles=[f"t{i}"])

        async def one(i: int) -> None:
            delay, timeout = plan[i]
            report = await supervisor.run(f"w{i}", {"delay": delay, "value": i}, timeout=timeout)
            ended[i] = (trio.current_time(), report)

        async with trio.open_nursery() as nursery:
            for i in range(count):
                nursery.start_soon(one, i)
    assert len({report.workflow_id for _, report in ended.values()}) == count
    outcomes = set()
    for i, (at, report) in ended.items():
        delay, timeout = plan[i]
        assert report.workflow_type == f"w{i}"
        assert [r.agent for r in report.records] == [f"a{i}"]
        if delay < timeout:
            assert (report.outcome, at) == ("success", delay)
            assert report.records[0].result == {"by": f"a{i}", "echo": i}
        else:
            assert (report.outcome, at) == ("timeout", timeout)
            assert report.completed_steps == []
        outcomes.add(report.outcome)
    assert outcomes == {"success", "timeout"}


# Exits


async def test_no_task_left_after_exit(autojump_clock: trio.abc.Clock, live_tasks: Any) -> None:
    """Leaving the block stops the actors and the inbox server: no task is left."""
    before = set(live_tasks())
    async with open_workflow_supervisor(workflows=[ONE]) as supervisor:
        await spawn_agent(supervisor, [])
        await supervisor.run("one", {})
        assert len(live_tasks()) > len(before)
    assert set(live_tasks()) == before


async def test_error_in_the_body_stops_everything(
    autojump_clock: trio.abc.Clock, live_tasks: Any
) -> None:
    """An exception in the body propagates and leaves no task behind."""
    before = set(live_tasks())
    with pytest.RaisesGroup(pytest.RaisesExc(KeyError), flatten_subgroups=True):
        async with open_workflow_supervisor(workflows=[ONE]) as supervisor:
            await spawn_agent(supervisor, [])
            raise KeyError("body")
    assert set(live_tasks()) == before
