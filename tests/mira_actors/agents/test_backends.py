"""Backends: choosing one, the budget a step carries, and the inline and thread backends."""

from __future__ import annotations

import math
import os
import pickle
import sys
import threading
import time
from typing import Any

import pytest
import trio

from mira_actors import DeadlineExceededError
from mira_actors.agents import (
    BACKEND_NAMES,
    Backend,
    BaseAgent,
    InlineBackend,
    OrchestratorAgent,
    ProcessBackend,
    RayBackend,
    StepContext,
    ThreadBackend,
    ThreadStatistics,
    resolve_backend,
)
from mira_actors.agents._step import run_step
from mira_actors.agents.base_agent import Response
from tests.mira_actors.agents.backend_agents import (
    RaisingAgent,
    WorkerAgent,
    orchestrator_for,
    workflow,
)


class RecordingBackend:
    """A backend that records the steps it is given and answers them inline."""

    name = "recording"

    def __init__(self) -> None:
        self.steps: list[StepContext] = []

    async def call(self, agent: BaseAgent, message: Any, step: StepContext) -> Response:
        self.steps.append(step)
        return agent.respond(message)


class GateAgent(BaseAgent):
    """Blocks its thread until released; counts the steps that started."""

    agent_id = "gate_agent"
    handlers = {"wait": "wait"}

    def __init__(self) -> None:
        self.running = threading.Event()
        self.release = threading.Event()
        self.started = 0

    def wait(self, data: Any) -> str:
        self.started += 1
        self.running.set()
        self.release.wait()
        return "released"


def threads_idle(backend: ThreadBackend, seconds: float = 10.0) -> None:
    """Wait (in a thread, real time, bounded) until none of the backend's threads run."""
    give_up = time.monotonic() + seconds
    while backend.statistics().running and time.monotonic() < give_up:
        time.sleep(0.001)


class NapAgent(BaseAgent):
    """An async step: naps for data['seconds'], journaling virtual times."""

    agent_id = "nap_agent"
    handlers = {"nap": "nap"}

    def __init__(self) -> None:
        self.started: list[float] = []
        self.finished: list[float] = []

    async def handle(self, message: Any) -> Response:
        self.started.append(trio.current_time())
        await trio.sleep(message["data"]["seconds"])
        self.finished.append(trio.current_time())
        return await super().handle(message)

    def nap(self, data: Any) -> str:
        return "rested"


# --- choosing a backend ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [("inline", InlineBackend), ("thread", ThreadBackend), ("process", ProcessBackend)],
)
def test_a_name_resolves_to_its_shared_backend(name: str, kind: type[Backend]) -> None:
    """A backend name resolves to one shared instance of its class."""
    backend = resolve_backend(name)
    assert isinstance(backend, kind)
    assert backend.name == name
    assert resolve_backend(name) is backend


def test_the_builtin_names() -> None:
    """The built-in backends are inline, thread, process and ray."""
    assert BACKEND_NAMES == ("inline", "thread", "process", "ray")


def test_a_backend_resolves_to_itself() -> None:
    """A Backend instance is used as it is."""
    backend = RecordingBackend()
    assert resolve_backend(backend) is backend


def test_an_unknown_name_is_refused() -> None:
    """An unknown name raises ValueError listing the known ones."""
    with pytest.raises(ValueError, match="unknown backend 'procss': use one of inline, thread"):
        resolve_backend("procss")


def test_a_non_backend_is_refused() -> None:
    """Something that is neither a name nor a Backend raises TypeError."""
    with pytest.raises(TypeError, match="backend must be a backend name or a Backend, got int"):
        resolve_backend(3)  # type: ignore[arg-type]


def test_ray_without_the_extra_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without Ray installed, the ray backend raises ImportError naming the extra."""
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ImportError, match=r"pip install 'mira-actors\[ray\]'"):
        RayBackend()


def test_inline_is_the_default() -> None:
    """An agent that declares no backend runs inline."""
    assert WorkerAgent.backend == "inline"


def test_register_agent_sets_the_backend_on_that_instance_only() -> None:
    """register_agent(agent, backend=...) sets it on the instance, not on the class."""
    agent, other = WorkerAgent(), WorkerAgent()
    OrchestratorAgent().register_agent(agent, backend="thread")
    assert agent.backend == "thread"
    assert other.backend == "inline"
    assert WorkerAgent.backend == "inline"


def test_register_agent_refuses_an_unknown_backend() -> None:
    """An unknown backend fails at registration, and the agent is not registered."""
    orchestrator = OrchestratorAgent()
    with pytest.raises(ValueError, match="unknown backend 'gpu'"):
        orchestrator.register_agent(WorkerAgent(), backend="gpu")
    assert orchestrator.agents == {}


def test_register_agent_checks_the_backend_the_class_declares() -> None:
    """A class declaring an unknown backend fails at registration too."""

    class Misdeclared(WorkerAgent):
        backend = "threads"

    with pytest.raises(ValueError, match="unknown backend 'threads'"):
        OrchestratorAgent().register_agent(Misdeclared())


# --- the budget travels with the step -------------------------------------------------


async def test_the_step_carries_its_agent_type_and_budget() -> None:
    """The backend gets the agent id, the message type and the deadline as wall-clock time."""
    backend = RecordingBackend()
    agent = WorkerAgent()
    agent.backend = backend
    with trio.move_on_after(30):
        await agent.handle({"type": "pid", "data": None})
    (step,) = backend.steps
    assert (step.agent_id, step.message_type) == ("worker_agent", "pid")
    assert 29 < step.deadline - time.time() <= 30


async def test_a_step_without_a_deadline_has_an_infinite_one() -> None:
    """With no deadline, the step's deadline is inf; a message without a type has none."""
    backend = RecordingBackend()
    agent = WorkerAgent()
    agent.backend = backend
    await agent.handle("not a message")
    assert backend.steps == [StepContext(agent_id="worker_agent")]


async def test_a_spent_budget_is_not_dispatched(autojump_clock: trio.abc.Clock) -> None:
    """A step whose budget is already spent never reaches its backend."""
    backend = RecordingBackend()
    agent = WorkerAgent()
    agent.backend = backend
    with trio.CancelScope(deadline=trio.current_time()) as scope:
        await agent.handle({"type": "pid", "data": None})
    assert scope.cancelled_caught
    assert backend.steps == []


def test_a_worker_runs_the_step_under_its_budget() -> None:
    """In a worker, time_left() counts down to the step's deadline."""
    step = StepContext(agent_id="worker_agent", deadline=time.time() + 30)
    response = run_step(WorkerAgent(), {"type": "budget", "data": None}, step)
    assert 29 < response["data"] <= 30


def test_a_worker_does_not_start_a_step_whose_budget_is_spent() -> None:
    """A worker that picks a step up after its deadline runs nothing and says it was late."""
    step = StepContext(agent_id="worker_agent", deadline=time.time() - 1)
    with pytest.raises(DeadlineExceededError, match="deadline passed before a worker started it"):
        run_step(RaisingAgent(), {"type": "raise", "data": None}, step)


def test_a_backend_failure_names_the_agent_and_the_step() -> None:
    """StepContext.failure names the backend, the agent, the message type and the error."""
    step = StepContext(agent_id="risk_assessment_agent", message_type="assess_risks")
    assert step.failure("process", OSError("pipe closed")) == (
        "the process backend could not run agent 'risk_assessment_agent' for 'assess_risks': "
        "OSError: pipe closed"
    )


async def test_an_agent_pickles_without_the_runtime_state() -> None:
    """A running agent pickles for a worker without its actor ref or its backend."""
    agent = WorkerAgent()
    agent.backend = ThreadBackend()  # holds a lock: it must not travel
    orchestrator = OrchestratorAgent()
    orchestrator.register_agent(agent)
    async with orchestrator.running():
        copy = pickle.loads(pickle.dumps(agent))
    assert "ref" not in vars(copy)
    assert copy.backend == "inline"
    assert copy.respond({"type": "pid", "data": None})["data"] == os.getpid()


# --- inline ---------------------------------------------------------------------------


async def test_inline_step_succeeds_on_the_trio_thread(autojump_clock: trio.abc.Clock) -> None:
    """An inline step runs in this process, and its workflow succeeds."""
    orchestrator = orchestrator_for(WorkerAgent(), "inline")
    response = await orchestrator.process_async(workflow("pid"), timeout=5)
    (step,) = response["steps"]
    assert (step["step"], step["status"], step["result"]) == ("pid_step", "success", os.getpid())


async def test_inline_step_past_the_deadline_returns_at_it(autojump_clock: trio.abc.Clock) -> None:
    """An inline step still running at the deadline is cancelled there; none of it runs after."""
    agent = NapAgent()
    orchestrator = orchestrator_for(agent, "inline")
    response = await orchestrator.process_async(workflow("nap", {"seconds": 10}), timeout=1.5)
    assert trio.current_time() == 1.5
    assert response["status"] == "timeout"
    await trio.sleep(20)
    assert agent.started == [0]
    assert agent.finished == []


# --- thread ---------------------------------------------------------------------------


# The clock is moved by hand (mock_clock, no autojump) once the thread is known to be
# running: with autojump the deadline could pass before the thread got going.


async def test_thread_step_past_the_deadline_returns_at_it_and_is_counted(
    mock_clock: trio.testing.MockClock,
) -> None:
    """At the deadline the response comes back and the still-running thread is counted."""
    backend = ThreadBackend(limiter=trio.CapacityLimiter(1))
    agent = GateAgent()
    orchestrator = orchestrator_for(agent, backend)
    responses: list[dict[str, Any]] = []

    async def run() -> None:
        responses.append(await orchestrator.process_async(workflow("wait"), timeout=1.5))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run)
        await trio.to_thread.run_sync(agent.running.wait)
        mock_clock.jump(1.5)
    assert trio.current_time() == 1.5
    assert responses[0]["status"] == "timeout"
    assert backend.statistics() == ThreadStatistics(
        max_threads=1, running=1, abandoned=1, abandoned_running=1
    )
    agent.release.set()
    # The limiter's one token comes back only when the abandoned thread has finished.
    await trio.to_thread.run_sync(threads_idle, backend)
    response = await orchestrator.process_async(workflow("wait"), timeout=math.inf)
    assert response["steps"][0]["result"] == "released"
    assert backend.statistics() == ThreadStatistics(
        max_threads=1, running=0, abandoned=1, abandoned_running=0
    )


async def test_thread_step_not_started_by_the_deadline_never_starts(
    mock_clock: trio.testing.MockClock,
) -> None:
    """A step still waiting for a thread at its deadline is dropped, never run."""
    backend = ThreadBackend(limiter=trio.CapacityLimiter(1))
    agent = GateAgent()

    async def run_one() -> None:
        await backend.call(agent, {"type": "wait", "data": None}, StepContext(agent_id="gate"))

    with trio.move_on_after(1):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run_one)
            nursery.start_soon(run_one)
            await trio.to_thread.run_sync(agent.running.wait)
            await trio.testing.wait_all_tasks_blocked()
            mock_clock.jump(1)
    assert trio.current_time() == 1
    assert backend.statistics() == ThreadStatistics(
        max_threads=1, running=1, abandoned=1, abandoned_running=1
    )
    agent.release.set()
    await trio.to_thread.run_sync(threads_idle, backend)
    await backend.call(agent, {"type": "wait", "data": None}, StepContext(agent_id="gate"))
    assert agent.started == 2  # the abandoned step and this one; never the dropped one
    assert backend.statistics() == ThreadStatistics(
        max_threads=1, running=0, abandoned=1, abandoned_running=0
    )


async def test_thread_backend_saturated_by_abandoned_steps_answers_at_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With every thread held by an abandoned step, a new step gets an 'error' saying so."""
    backend = ThreadBackend(max_threads=1)
    agent = GateAgent()
    message = {"type": "wait", "data": None}
    with trio.move_on_after(10):  # real time, bounded: cancelled once the thread runs
        async with trio.open_nursery() as nursery:
            nursery.start_soon(backend.call, agent, message, StepContext(agent_id="gate"))
            await trio.to_thread.run_sync(agent.running.wait)
            nursery.cancel_scope.cancel()
    assert [r.__dict__.get("event_type") for r in caplog.records] == ["thread_step_abandoned"]
    try:
        began = trio.current_time()
        response = await backend.call(agent, message, StepContext(agent_id="gate"))
        assert trio.current_time() - began < 1  # at once, not at a deadline
        assert response["status"] == "error"
        assert response["error"].startswith(
            "thread backend saturated: 1 abandoned steps still running (max_threads=1)"
        )
        assert agent.started == 1
    finally:
        agent.release.set()
    await trio.to_thread.run_sync(threads_idle, backend)
    response = await backend.call(agent, message, StepContext(agent_id="gate"))
    assert response["data"] == "released"


def test_thread_backend_max_threads_must_be_a_positive_int() -> None:
    """max_threads below 1, or not an int, is refused."""
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="max_threads must be an int >= 1"):
            ThreadBackend(max_threads=bad)  # type: ignore[arg-type]
