"""WorkflowSupervisor.resume: a stored run continued where it stopped, on every store."""

from __future__ import annotations

import logging
import math
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, closing
from pathlib import Path
from typing import Any, TypeVar

import pytest
import trio

from mira_actors import Actor, request_headers
from supervisors import (
    DamagedRunError,
    LedgerStore,
    MemoryStore,
    Parallel,
    ResumeConflictError,
    RetryPolicy,
    RunReport,
    SqliteStore,
    Step,
    StepRecord,
    StoredRun,
    UnknownRunError,
    Workflow,
    WorkflowSupervisor,
    open_workflow_supervisor,
)

T = TypeVar("T")
SECRET = "hunter2"  # in stored results: no log may show it


class WallClock:
    """A wall clock for the stores' claims that moves only when a test moves it."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def wall() -> WallClock:
    """The stores' wall clock, at t=1000 until a test moves it."""
    return WallClock()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Where the SQLite store's file goes."""
    return tmp_path / "ledger.db"


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, db: Path, wall: WallClock) -> AsyncIterator[Any]:
    """Each kind of store, empty, on the test's wall clock; closed after the test."""
    opened: LedgerStore = (
        MemoryStore(clock=wall)
        if request.param == "memory"
        else SqliteStore(db, clock=wall, threaded=False)
    )
    try:
        yield opened
    finally:
        await opened.aclose()


class Counter(Actor):
    """Answers after ``delay`` seconds with its name and input; keeps every call it served.

    ``replies`` are answered first, one per call, in place of the success answer.
    """

    def __init__(self, name: str, delay: float, replies: list[Any] | None = None) -> None:
        self.name = name
        self.delay = delay
        self.replies = list(replies or [])
        self.calls: list[dict[str, Any]] = []

    async def handle(self, message: Any) -> Any:
        self.calls.append(
            {
                "at": trio.current_time(),
                "deadline": trio.current_effective_deadline(),
                "data": message["data"],
                "headers": dict(request_headers()),
            }
        )
        await trio.sleep(self.delay)
        if self.replies:
            return self.replies.pop(0)
        return {"status": "success", "data": {"by": self.name, "input": message["data"]}}

    @property
    def keys(self) -> list[str]:
        """The idempotency key of each call, in order."""
        return [call["headers"]["idempotency_key"] for call in self.calls]


def _from(step: str) -> Callable[[Any, Any], Any]:
    return lambda data, results: {"from": results[step]}


THREE = Workflow(
    name="three",
    steps=[
        Step(name="a", message_type="ta"),
        Step(name="b", message_type="tb", build_input=_from("a")),
        Step(name="c", message_type="tc", build_input=_from("b")),
    ],
)
GROUPED = Workflow(
    name="grouped",
    steps=[
        Parallel(
            name="ab", steps=[Step(name="a", message_type="ta"), Step(name="b", message_type="tb")]
        ),
        Step(name="c", message_type="tc"),
    ],
)
Agents = dict[str, Counter]


def _same(agent: Counter) -> Counter:
    return agent


@asynccontextmanager
async def system(
    store: LedgerStore, *delays: float, replies: dict[str, list[Any]] | None = None
) -> AsyncIterator[tuple[WorkflowSupervisor, Agents]]:
    """A workflow supervisor on ``store`` with Counter agents a, b, c taking ``delays``."""
    agents = {
        name: Counter(name, delay, (replies or {}).get(name))
        for name, delay in zip("abc", delays, strict=True)
    }
    async with open_workflow_supervisor(workflows=[THREE, GROUPED], store=store) as supervisor:
        for name, agent in agents.items():
            await supervisor.spawn(_same, agent, name=name, handles=[f"t{name}"])
        yield supervisor, agents


def counts(agents: Agents) -> dict[str, int]:
    """How many calls each agent served."""
    return {name: len(agent.calls) for name, agent in agents.items()}


def steps(report: RunReport) -> list[tuple[str, str, int]]:
    """The response's steps as (name, status, attempts)."""
    return [(s["step"], s["status"], s["attempts"]) for s in report.response()["steps"]]


def timings(records: tuple[StepRecord, ...]) -> list[tuple[str, str, float, float, str | None]]:
    """Records as (step, status, started_at, ended_at, error_type)."""
    return [(r.step, r.status, r.started_at, r.ended_at, r.error_type) for r in records]


async def stored(store: LedgerStore, workflow_id: str) -> StoredRun:
    """The run with this id, which the test knows is stored."""
    run = await store.load_run(workflow_id)
    assert run is not None
    return run


async def timed_out(supervisor: WorkflowSupervisor, agents: Agents) -> str:
    """Run THREE with b taking 5 s under a 4 s deadline: a completes, b is cut at t=4."""
    agents["b"].delay = 5
    report = await supervisor.run("three", {"n": 1}, timeout=4)
    assert (report.outcome, report.completed_steps, trio.current_time()) == ("timeout", ["a"], 4)
    agents["b"].delay = 1
    return report.workflow_id


# Timeouts and resumes


async def test_timeout_stores_the_cut_step_and_the_partial_progress(
    store: LedgerStore, autojump_clock: trio.abc.Clock
) -> None:
    """At the deadline the store holds status 'timeout', the cut step and the response."""
    async with system(store, 1, 5, 1) as (supervisor, _):
        report = await supervisor.run("three", {"n": 1}, timeout=4)
        assert trio.current_time() == 4
    run = await stored(store, report.workflow_id)
    assert (run.workflow_type, run.data, run.timeout, run.status, run.resumes) == (
        "three",
        {"n": 1},
        4.0,
        "timeout",
        0,
    )
    assert timings(run.records) == [
        ("a", "success", 0, 1, None),
        ("b", "timeout", 1, 4, "deadline"),
    ]
    assert run.records[0].result == {"by": "a", "input": {"n": 1}}
    response = report.response()
    assert run.response == response
    assert response["workflow_id"] == report.workflow_id
    assert response["partial_progress"] == {
        "completed_steps": ["a"],
        "total_steps_completed": 1,
        "timeout_seconds": 4.0,
        "timed_out_steps": ["b"],
    }


class WriteLog(MemoryStore):
    """A MemoryStore noting the virtual time and steps of each record_step and finish_run."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[tuple[float, str, list[str]]] = []

    async def record_step(
        self, workflow_id: str, record: StepRecord, *, owner: str | None = None
    ) -> None:
        self.writes.append((trio.current_time(), "record_step", [record.step]))
        await super().record_step(workflow_id, record, owner=owner)

    async def finish_run(self, workflow_id: str, **kwargs: Any) -> None:
        steps = [r.step for r in kwargs["records"]]
        self.writes.append((trio.current_time(), f"finish_run {kwargs['outcome']}", steps))
        await super().finish_run(workflow_id, **kwargs)


async def test_the_cut_step_and_the_outcome_are_written_together_at_the_deadline(
    autojump_clock: trio.abc.Clock,
) -> None:
    """Each step is written as it finishes; the cut one goes with the outcome, at the deadline."""
    store = WriteLog()
    async with system(store, 1, 5, 1) as (supervisor, _):
        await supervisor.run("three", {"n": 1}, timeout=4)
    await store.aclose()
    assert store.writes == [(1, "record_step", ["a"]), (4, "finish_run timeout", ["b"])]


async def test_resume_after_a_timeout_runs_only_the_rest(
    store: LedgerStore, autojump_clock: trio.abc.Clock
) -> None:
    """A completed step is not run again; its stored result feeds the next; all are listed."""
    async with system(store, 1, 1, 1) as (supervisor, agents):
        workflow_id = await timed_out(supervisor, agents)
        report = await supervisor.resume(workflow_id, timeout=10)
        assert trio.current_time() == 6
    assert counts(agents) == {"a": 1, "b": 2, "c": 1}
    assert (report.outcome, report.workflow_id) == ("success", workflow_id)
    assert steps(report) == [("a", "success", 0), ("b", "success", 1), ("c", "success", 1)]
    a_result = {"by": "a", "input": {"n": 1}}
    assert agents["b"].calls[1]["data"] == {"from": a_result}
    assert agents["c"].calls[0]["data"] == {"from": {"by": "b", "input": {"from": a_result}}}
    run = await stored(store, workflow_id)
    assert (run.status, run.timeout, run.resumes) == ("success", 10.0, 1)
    assert run.response == report.response()
    assert run.response["workflow_id"] == workflow_id
    assert timings(run.records) == [
        ("a", "success", 0, 1, None),
        ("b", "timeout", 1, 4, "deadline"),
        ("b", "success", 4, 5, None),
        ("c", "success", 5, 6, None),
    ]


async def test_resumed_steps_run_under_the_new_deadline(
    store: LedgerStore, autojump_clock: trio.abc.Clock
) -> None:
    """A resume's steps see its own deadline; one that times out again keeps both's progress."""
    async with system(store, 1, 1, 5) as (supervisor, agents):
        workflow_id = await timed_out(supervisor, agents)
        again = await supervisor.resume(workflow_id, timeout=3)
        assert trio.current_time() == 7
        a_result = {"by": "a", "input": {"n": 1}}
        b_result = {"by": "b", "input": {"from": a_result}}
        assert again.response() == {
            "workflow_id": workflow_id,
            "workflow_type": "three",
            "status": "timeout",
            "error": "Workflow execution timed out after 3.0 seconds",
            "steps": [
                {"step": "a", "status": "success", "result": a_result, "attempts": 0},
                {"step": "b", "status": "success", "result": b_result, "attempts": 1},
            ],
            "partial_progress": {
                "completed_steps": ["a", "b"],
                "total_steps_completed": 2,
                "timeout_seconds": 3.0,
                "timed_out_steps": ["c"],
            },
        }
        assert (await stored(store, workflow_id)).response == again.response()
        agents["c"].delay = 1
        final = await supervisor.resume(workflow_id, timeout=10)
        assert trio.current_time() == 8
    assert [call["deadline"] for call in agents["b"].calls] == [4, 7]
    assert [call["deadline"] for call in agents["c"].calls] == [7, 17]
    assert counts(agents) == {"a": 1, "b": 2, "c": 2}
    assert steps(final) == [("a", "success", 0), ("b", "success", 0), ("c", "success", 1)]
    run = await stored(store, workflow_id)
    assert (run.status, run.resumes, run.response) == ("success", 2, final.response())


async def test_resume_after_an_error_runs_the_failed_step_again(
    store: LedgerStore, autojump_clock: trio.abc.Clock
) -> None:
    """A run that failed at a step is resumed from that step, the steps before it kept."""
    failure = {"status": "error", "error": "b failed on purpose"}
    async with system(store, 1, 1, 1, replies={"b": [failure]}) as (supervisor, agents):
        report = await supervisor.run("three", {"n": 1}, timeout=10)
        assert trio.current_time() == 2
        assert (report.outcome, report.error_type) == ("error", "agent_error")
        assert report.response()["workflow_id"] == report.workflow_id
        run = await stored(store, report.workflow_id)
        assert (run.status, run.response) == ("error", report.response())
        assert timings(run.records) == [
            ("a", "success", 0, 1, None),
            ("b", "error", 1, 2, "agent_error"),
        ]
        resumed = await supervisor.resume(report.workflow_id, timeout=10)
        assert trio.current_time() == 4
    assert counts(agents) == {"a": 1, "b": 2, "c": 1}
    assert resumed.outcome == "success"
    # b's failed attempt 1 was answered, so the resume sends it as attempt 2 (a new key).
    assert steps(resumed) == [("a", "success", 0), ("b", "success", 2), ("c", "success", 1)]
    workflow_id = report.workflow_id
    assert agents["b"].keys == [f"{workflow_id}:b:1", f"{workflow_id}:b:2"]


async def test_resume_of_a_group_runs_only_its_unfinished_members(
    store: LedgerStore, autojump_clock: trio.abc.Clock
) -> None:
    """In a parallel group, the member that completed is kept and only the other runs again."""
    async with system(store, 1, 5, 1) as (supervisor, agents):
        report = await supervisor.run("grouped", {}, timeout=3)
        assert (report.outcome, report.completed_steps) == ("timeout", ["a"])
        agents["b"].delay = 1
        resumed = await supervisor.resume(report.workflow_id, timeout=10)
        assert trio.current_time() == 5
    assert counts(agents) == {"a": 1, "b": 2, "c": 1}
    assert steps(resumed) == [("a", "success", 0), ("b", "success", 1), ("c", "success", 1)]


async def test_a_run_stored_with_every_step_done_finishes_without_running_any(
    store: LedgerStore, autojump_clock: trio.abc.Clock
) -> None:
    """A run that crashed after its last step was written resumes to success at once."""
    await store.create_run("r1", "three", {"n": 1}, 10.0)
    for name in "abc":
        await store.record_step(
            "r1",
            StepRecord(
                step=name, agent=name, status="success", started_at=0, ended_at=1, result=name
            ),
        )
    async with system(store, 1, 1, 1) as (supervisor, agents):
        report = await supervisor.resume("r1", timeout=10)
        assert trio.current_time() == 0
    assert counts(agents) == {"a": 0, "b": 0, "c": 0}
    assert report.response() == {
        "workflow_id": "r1",
        "workflow_type": "three",
        "steps": [{"step": n, "status": "success", "result": n, "attempts": 0} for n in "abc"],
    }
    assert (await stored(store, "r1")).status == "success"


# Finished, unknown and unreadable runs


async def test_resuming_a_finished_run_returns_its_stored_response(
    store: LedgerStore, autojump_clock: trio.abc.Clock
) -> None:
    """A run that succeeded is not run again: resume gives back the response it stored."""
    async with system(store, 1, 1, 1) as (supervisor, agents):
        report = await supervisor.run("three", {"n": 1}, timeout=10)
        assert trio.current_time() == 3
        first = await supervisor.resume(report.workflow_id, timeout=10)
        second = await supervisor.resume(report.workflow_id, timeout=1)
        assert trio.current_time() == 3
    assert counts(agents) == {"a": 1, "b": 1, "c": 1}
    assert first.outcome == second.outcome == "success"
    assert first.response() == second.response() == report.response()
    assert first.response()["workflow_id"] == report.workflow_id
    run = await stored(store, report.workflow_id)
    assert (run.status, run.timeout, run.resumes) == ("success", 10.0, 0)


async def test_resuming_a_finished_run_tells_on_report(
    store: LedgerStore, autojump_clock: trio.abc.Clock
) -> None:
    """on_report sees the report of a resume that gives back a run already succeeded."""
    reports: list[RunReport] = []
    async with open_workflow_supervisor(
        workflows=[THREE], store=store, on_report=reports.append
    ) as supervisor:
        for name in "abc":
            await supervisor.spawn(_same, Counter(name, 1), name=name, handles=[f"t{name}"])
        report = await supervisor.run("three", {"n": 1}, timeout=10)
        resumed = await supervisor.resume(report.workflow_id, timeout=10)
    assert [(r.workflow_id, r.outcome) for r in reports] == [(report.workflow_id, "success")] * 2
    assert reports[1] is resumed


async def test_resuming_an_unknown_id_is_an_unknown_run_error(store: LedgerStore) -> None:
    """An id the store does not hold raises UnknownRunError naming it."""
    async with system(store, 1, 1, 1) as (supervisor, _):
        with pytest.raises(UnknownRunError, match="'nope'") as raised:
            await supervisor.resume("nope", timeout=10)
    assert raised.value.workflow_id == "nope"
    assert isinstance(raised.value, LookupError)


async def test_a_run_of_an_unknown_workflow_is_not_stored(store: LedgerStore) -> None:
    """A run refused before it started has an id in its response, but nothing to resume."""
    async with system(store, 1, 1, 1) as (supervisor, agents):
        report = await supervisor.run("nope", {}, timeout=10)
        assert report.response()["workflow_id"] == report.workflow_id
        with pytest.raises(UnknownRunError):
            await supervisor.resume(report.workflow_id, timeout=10)
    assert await store.list_runs() == []
    assert counts(agents) == {"a": 0, "b": 0, "c": 0}


async def test_resuming_a_workflow_not_registered_is_a_value_error(
    store: LedgerStore, autojump_clock: trio.abc.Clock
) -> None:
    """A supervisor without the run's workflow refuses it and leaves it resumable."""
    async with system(store, 1, 1, 1) as (supervisor, agents):
        workflow_id = await timed_out(supervisor, agents)
    async with open_workflow_supervisor(store=store) as bare:
        with pytest.raises(ValueError, match="'three' workflow, which is not registered here"):
            await bare.resume(workflow_id, timeout=10)
    run = await stored(store, workflow_id)
    assert (run.status, run.resumes) == ("timeout", 0)
    async with system(store, 1, 1, 1) as (supervisor, agents):
        report = await supervisor.resume(workflow_id, timeout=10)
    assert (report.outcome, counts(agents)) == ("success", {"a": 0, "b": 1, "c": 1})


# Claims


async def test_two_resumes_at_once_one_wins(
    store: LedgerStore, autojump_clock: trio.abc.Clock
) -> None:
    """Of two resumes of one run at once, one runs it and the other gets ResumeConflictError."""
    async with system(store, 1, 1, 1) as (supervisor, agents):
        workflow_id = await timed_out(supervisor, agents)
        reports: list[RunReport] = []
        conflicts: list[ResumeConflictError] = []

        async def resume() -> None:
            try:
                reports.append(await supervisor.resume(workflow_id, timeout=10))
            except ResumeConflictError as exc:
                conflicts.append(exc)
                assert trio.current_time() == 4  # at once, not when the winner is done

        async with trio.open_nursery() as nursery:
            nursery.start_soon(resume)
            nursery.start_soon(resume)
        assert trio.current_time() == 6
        later = await supervisor.resume(workflow_id, timeout=10)
    [report] = reports
    [conflict] = conflicts
    assert conflict.workflow_id == workflow_id
    assert f"run {workflow_id!r} is still going" in str(conflict)
    assert counts(agents) == {"a": 1, "b": 2, "c": 1}
    assert later.response() == report.response()
    assert (await stored(store, workflow_id)).resumes == 1


async def test_resuming_a_run_still_in_its_first_start_is_a_conflict(
    store: LedgerStore, autojump_clock: trio.abc.Clock
) -> None:
    """A resume of a run that is still going is refused; no step runs twice."""
    async with system(store, 1, 1, 1) as (supervisor, agents):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(supervisor.run, "three", {"n": 1})
            await trio.sleep(1.5)
            [run] = await store.list_runs()
            with pytest.raises(ResumeConflictError):
                await supervisor.resume(run.workflow_id, timeout=10)
        assert trio.current_time() == 3
    assert counts(agents) == {"a": 1, "b": 1, "c": 1}
    done = await stored(store, run.workflow_id)
    assert (done.status, done.resumes, done.completed_steps) == ("success", 0, ["a", "b", "c"])


async def test_a_lease_whose_owner_stopped_beating_lapses(
    store: LedgerStore, wall: WallClock, autojump_clock: trio.abc.Clock
) -> None:
    """A run held by an owner that died is refused until its lease lapses, then resumed."""
    async with system(store, 1, 1, 1) as (supervisor, agents):
        workflow_id = await timed_out(supervisor, agents)
        await store.heartbeat("a resumer that died", lease_time=15.0)
        assert await store.claim(workflow_id, "a resumer that died", timeout=5)
        wall.now += 15.0
        with pytest.raises(ResumeConflictError):
            await supervisor.resume(workflow_id, timeout=10)
        wall.now += 1
        report = await supervisor.resume(workflow_id, timeout=10)
    assert report.outcome == "success"
    assert counts(agents) == {"a": 1, "b": 2, "c": 1}


async def test_a_resume_cancelled_by_its_caller_releases_its_claim(
    store: LedgerStore, autojump_clock: trio.abc.Clock
) -> None:
    """A resume its caller cancels gives the run up, so the next resume can take it."""
    async with system(store, 1, 1, 1) as (supervisor, agents):
        workflow_id = await timed_out(supervisor, agents)
        agents["b"].delay = 5
        with trio.move_on_after(2):
            await supervisor.resume(workflow_id, timeout=10)
        agents["b"].delay = 1
        report = await supervisor.resume(workflow_id, timeout=10)
        assert trio.current_time() == 8
    assert report.outcome == "success"
    assert counts(agents) == {"a": 1, "b": 3, "c": 1}


# Idempotency keys


async def test_every_ask_carries_the_run_step_and_attempt(
    store: LedgerStore, autojump_clock: trio.abc.Clock
) -> None:
    """A handler reads workflow_id, step, attempt and idempotency_key; a retry has its own."""
    failure = {"status": "error", "error": "once"}
    async with system(store, 1, 1, 1, replies={"b": [failure]}) as (supervisor, agents):
        retry = RetryPolicy(max_attempts=2, initial_interval=1)
        report = await supervisor.run("three", {"n": 1}, timeout=10, retry=retry)
        assert trio.current_time() == 5
    workflow_id = report.workflow_id
    assert agents["a"].calls[0]["headers"] == {
        "workflow_id": workflow_id,
        "step": "a",
        "attempt": 1,
        "idempotency_key": f"{workflow_id}:a:1",
    }
    assert agents["b"].keys == [f"{workflow_id}:b:1", f"{workflow_id}:b:2"]
    assert [call["headers"]["attempt"] for call in agents["b"].calls] == [1, 2]


async def test_a_step_cut_short_is_resent_with_the_same_key(
    store: LedgerStore, autojump_clock: trio.abc.Clock
) -> None:
    """A step that never completed restarts at attempt 1 on a resume: its key repeats."""
    async with system(store, 1, 1, 1) as (supervisor, agents):
        workflow_id = await timed_out(supervisor, agents)
        agents["b"].delay = 5
        with trio.move_on_after(1):  # as a resumer killed mid-step would
            await supervisor.resume(workflow_id, timeout=10)
        agents["b"].delay = 1
        await supervisor.resume(workflow_id, timeout=10)
    assert agents["b"].keys == [f"{workflow_id}:b:1"] * 3
    assert agents["a"].keys == [f"{workflow_id}:a:1"]
    assert agents["c"].keys == [f"{workflow_id}:c:1"]


# Values a store cannot keep


@pytest.mark.parametrize(
    ("value", "error"), [({1, 2}, "not JSON serializable"), (math.nan, "Out of range float values")]
)
async def test_unstorable_data_is_an_error_report_and_nothing_is_stored(
    store: LedgerStore, value: Any, error: str
) -> None:
    """Workflow data JSON cannot hold fails the run before any step, with nothing to resume."""
    async with system(store, 1, 1, 1) as (supervisor, agents):
        report = await supervisor.run("three", {"x": value}, timeout=10)
        with pytest.raises(UnknownRunError):
            await supervisor.resume(report.workflow_id, timeout=10)
    assert (report.outcome, report.error_type) == ("error", "unstorable_data")
    assert report.error is not None
    assert report.error.startswith("Invalid workflow data: workflow data cannot be stored")
    assert error in report.error
    assert report.response()["workflow_id"] == report.workflow_id
    assert report.response()["steps"] == []
    assert counts(agents) == {"a": 0, "b": 0, "c": 0}
    assert await store.list_runs() == []


@pytest.mark.parametrize("value", [{1, 2}, math.inf])
async def test_an_unstorable_result_fails_its_step_and_resume_runs_it_again(
    store: LedgerStore, autojump_clock: trio.abc.Clock, value: Any
) -> None:
    """A result JSON cannot hold fails its step as 'unstorable_result'; a resume redoes it."""
    answer = {"status": "success", "data": {"x": value}}
    async with system(store, 1, 1, 1, replies={"a": [answer]}) as (supervisor, agents):
        report = await supervisor.run("three", {"n": 1}, timeout=10)
        assert trio.current_time() == 1
        run = await stored(store, report.workflow_id)
        resumed = await supervisor.resume(report.workflow_id, timeout=10)
        assert trio.current_time() == 4
    assert (report.outcome, report.error_type) == ("error", "unstorable_result")
    assert report.error is not None
    assert report.error.startswith("Step 'a' failed: its result cannot be stored: ")
    assert steps(report) == []
    failed = report.response()["failed_step"]
    assert (failed["step"], failed["error_type"], failed["attempts"]) == (
        "a",
        "unstorable_result",
        1,
    )
    assert (run.status, run.response) == ("error", report.response())
    [record] = run.records
    assert (record.status, record.error_type, record.result) == ("error", "unstorable_result", None)
    assert counts(agents) == {"a": 2, "b": 1, "c": 1}
    assert steps(resumed) == [("a", "success", 2), ("b", "success", 1), ("c", "success", 1)]


# Durability and damage (SQLite)


async def test_a_run_resumes_from_a_reopened_file(
    db: Path, wall: WallClock, autojump_clock: trio.abc.Clock
) -> None:
    """A run stored by one store and supervisor is resumed by new ones on the same file."""
    first = SqliteStore(db, clock=wall, threaded=False)
    try:
        async with system(first, 1, 1, 1) as (supervisor, before):
            workflow_id = await timed_out(supervisor, before)
    finally:
        await first.aclose()
    second = SqliteStore(db, clock=wall, threaded=False)
    try:
        async with system(second, 1, 1, 1) as (supervisor, after):
            report = await supervisor.resume(workflow_id, timeout=10)
            assert trio.current_time() == 6
    finally:
        await second.aclose()
    assert counts(before) == {"a": 1, "b": 1, "c": 0}
    assert counts(after) == {"a": 0, "b": 1, "c": 1}
    assert steps(report) == [("a", "success", 0), ("b", "success", 1), ("c", "success", 1)]


def damage(db: Path, sql: str, *values: Any) -> None:
    """Run ``sql`` on the file through a plain connection, as a disk error or hand edit would."""
    with closing(sqlite3.connect(db, isolation_level=None)) as connection:
        connection.execute(sql, values)


@pytest.mark.parametrize(
    ("damaged", "values", "error_type"),
    [
        ("result = '{\"" + SECRET + "'", (), "invalid_step_format"),
        ("attempts = 'twice'", (), "invalid_step_format"),
        ("result = ?", ("[" * 100_000 + "]" * 100_000,), "step_extraction_failed"),
    ],
)
async def test_a_malformed_step_row_is_run_again(
    db: Path,
    wall: WallClock,
    caplog: pytest.LogCaptureFixture,
    autojump_clock: trio.abc.Clock,
    damaged: str,
    values: tuple[Any, ...],
    error_type: str,
) -> None:
    """A step whose stored row is malformed counts as not completed: logged, then run again."""
    store = SqliteStore(db, clock=wall, threaded=False)
    try:
        async with system(store, 1, 1, 5) as (supervisor, agents):
            report = await supervisor.run("three", {"secret": SECRET}, timeout=4)
            assert report.completed_steps == ["a", "b"]
            damage(db, f"UPDATE steps SET {damaged} WHERE step = 'b'", *values)
            agents["c"].delay = 1
            resumed = await supervisor.resume(report.workflow_id, timeout=10)
            assert trio.current_time() == 6
    finally:
        await store.aclose()
    assert counts(agents) == {"a": 1, "b": 2, "c": 2}
    assert agents["b"].keys == [f"{report.workflow_id}:b:1"] * 2
    assert steps(resumed) == [("a", "success", 0), ("b", "success", 1), ("c", "success", 1)]
    logged = [r for r in caplog.records if r.name == "supervisors.store"]
    assert logged
    for record in logged:
        assert record.levelno == logging.WARNING
        fields = record.__dict__
        assert (fields["error_type"], fields["workflow_id"], fields["step_index"]) == (
            error_type,
            report.workflow_id,
            1,
        )
        assert SECRET not in str(fields)


async def test_a_damaged_run_row_is_a_clear_error(
    db: Path, wall: WallClock, caplog: pytest.LogCaptureFixture, autojump_clock: trio.abc.Clock
) -> None:
    """A run whose own row is damaged raises DamagedRunError on resume and runs nothing."""
    store = SqliteStore(db, clock=wall, threaded=False)
    try:
        async with system(store, 1, 1, 1) as (supervisor, agents):
            workflow_id = await timed_out(supervisor, agents)
            damage(db, "UPDATE run_data SET data = '{oops'")
            with pytest.raises(DamagedRunError, match="its 'data' cannot be read back"):
                await supervisor.resume(workflow_id, timeout=10)
    finally:
        await store.aclose()
    assert counts(agents) == {"a": 1, "b": 1, "c": 0}
    assert [r.__dict__["error_type"] for r in caplog.records] == ["invalid_run_format"]


# Runs their caller cancelled, and attempts whose outcome is unknown


class Paced(Counter):
    """A Counter whose calls take ``delays`` in turn, then the last of them."""

    def __init__(self, name: str, *delays: float, replies: list[Any] | None = None) -> None:
        super().__init__(name, delays[-1], replies)
        self.delays = list(delays)

    async def handle(self, message: Any) -> Any:
        if self.delays:
            self.delay = self.delays.pop(0)
        return await super().handle(message)


@asynccontextmanager
async def paced(
    store: LedgerStore, a: Counter, b: Counter, c: Counter
) -> AsyncIterator[WorkflowSupervisor]:
    """A workflow supervisor on ``store`` with the agents a, b and c given."""
    async with open_workflow_supervisor(workflows=[THREE, GROUPED], store=store) as supervisor:
        for agent in (a, b, c):
            await supervisor.spawn(_same, agent, name=agent.name, handles=[f"t{agent.name}"])
        yield supervisor


async def test_a_run_cancelled_by_its_caller_is_stored_as_cancelled(
    store: LedgerStore, autojump_clock: trio.abc.Clock
) -> None:
    """A run its caller cancelled is stored 'cancelled' at once, its cut step with it."""
    async with system(store, 1, 5, 1) as (supervisor, _):
        with trio.move_on_after(3):
            await supervisor.run("three", {"n": 1}, timeout=10)
        assert trio.current_time() == 3
        [run] = await store.list_runs()
    assert run.status == "cancelled"
    assert timings(run.records) == [
        ("a", "success", 0, 1, None),
        ("b", "cancelled", 1, 3, "cancelled"),
    ]
    assert run.response is not None
    assert (run.response["status"], run.response["partial_progress"]["completed_steps"]) == (
        "cancelled",
        ["a"],
    )


async def test_a_cancelled_group_run_is_stored_as_cancelled(
    store: LedgerStore, autojump_clock: trio.abc.Clock
) -> None:
    """A run cancelled inside a parallel group is stored 'cancelled', both members cut."""
    async with system(store, 5, 5, 1) as (supervisor, _):
        with trio.move_on_after(2):
            await supervisor.run("grouped", {}, timeout=10)
        [run] = await store.list_runs()
    assert run.status == "cancelled"
    assert sorted((r.step, r.status) for r in run.records) == [
        ("a", "cancelled"),
        ("b", "cancelled"),
    ]


async def test_a_cancelled_run_resumes_with_the_same_key(
    store: LedgerStore, autojump_clock: trio.abc.Clock
) -> None:
    """Resuming a cancelled run re-sends the step cut short under its idempotency key."""
    async with system(store, 1, 5, 1) as (supervisor, agents):
        with trio.move_on_after(3):
            await supervisor.run("three", {"n": 1}, timeout=10)
        [run] = await store.list_runs()
        agents["b"].delay = 1
        report = await supervisor.resume(run.workflow_id, timeout=10)
        assert trio.current_time() == 5
    workflow_id = run.workflow_id
    assert counts(agents) == {"a": 1, "b": 2, "c": 1}
    assert agents["b"].keys == [f"{workflow_id}:b:1"] * 2
    assert steps(report) == [("a", "success", 0), ("b", "success", 1), ("c", "success", 1)]
    assert (await stored(store, workflow_id)).status == "success"


async def test_a_retry_after_a_step_timeout_keeps_the_key(
    store: LedgerStore, autojump_clock: trio.abc.Clock
) -> None:
    """An attempt cut by its own timeout has an unknown outcome: its retry reuses the key."""
    a, b, c = Counter("a", 1), Paced("b", 5, 1), Counter("c", 1)
    async with paced(store, a, b, c) as supervisor:
        retry = RetryPolicy(max_attempts=2, initial_interval=1)
        report = await supervisor.run(
            "three", {"n": 1}, timeout=20, retry=retry, step_timeouts={"b": 2}
        )
        assert trio.current_time() == 6  # a 0-1, b cut at 3, wait 1, b 4-5, c 5-6
    workflow_id = report.workflow_id
    assert report.outcome == "success"
    assert b.keys == [f"{workflow_id}:b:1"] * 2
    # The same attempt, sent again: its number and its key stay.
    assert [call["headers"]["attempt"] for call in b.calls] == [1, 1]
    assert steps(report)[1] == ("b", "success", 1)


async def test_a_resume_after_a_step_timeout_keeps_the_key(
    store: LedgerStore, autojump_clock: trio.abc.Clock
) -> None:
    """A step that failed by its own timeout is re-sent on resume with the same key."""
    a, b, c = Counter("a", 1), Paced("b", 5, 1), Counter("c", 1)
    async with paced(store, a, b, c) as supervisor:
        report = await supervisor.run("three", {"n": 1}, timeout=20, step_timeouts={"b": 2})
        assert (report.outcome, trio.current_time()) == ("timeout", 3)
        resumed = await supervisor.resume(report.workflow_id, timeout=20)
    workflow_id = report.workflow_id
    assert resumed.outcome == "success"
    assert b.keys == [f"{workflow_id}:b:1"] * 2


async def test_a_known_failure_then_a_cut_resumes_under_the_cut_attempts_key(
    store: LedgerStore, autojump_clock: trio.abc.Clock
) -> None:
    """After an answered failure and a cut retry, a resume re-sends the cut attempt's key."""
    failure = {"status": "error", "error": "once"}
    a, b, c = Counter("a", 1), Paced("b", 1, 5, 1, replies=[failure]), Counter("c", 1)
    async with paced(store, a, b, c) as supervisor:
        retry = RetryPolicy(max_attempts=3, initial_interval=1)
        with trio.move_on_after(5):  # b: 1-2 failed, wait 1, 3-8 cut at 5
            await supervisor.run("three", {"n": 1}, timeout=20, retry=retry)
        [run] = await store.list_runs()
        await supervisor.resume(run.workflow_id, timeout=20, retry=retry)
    workflow_id = run.workflow_id
    assert b.keys == [f"{workflow_id}:b:1", f"{workflow_id}:b:2", f"{workflow_id}:b:2"]
