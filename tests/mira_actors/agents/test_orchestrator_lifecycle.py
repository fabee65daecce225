"""OrchestratorAgent set-up and ways in: agents, workflows, running(), process() and helpers."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
import trio

from mira_actors import Actor
from mira_actors.agents import (
    OrchestratorAgent,
    ProjectPlanAgent,
    RiskAssessmentAgent,
)
from supervisors import Step, Workflow, WorkflowReply, WorkflowRequest, WorkflowSupervisor
from tests.mira_actors.agents.orchestrators import SlowRiskAgent, make

RunIds = Callable[[], list[str]]

REQUIREMENTS = {"name": "Apollo", "goals": ["Design", "Build"], "duration_weeks": 4}


class CountingPlanAgent(ProjectPlanAgent):
    """The plan agent, counting its starts and the messages it handles, and their deadlines."""

    def __init__(self) -> None:
        self.starts = 0
        self.deadlines: list[float] = []

    async def on_start(self) -> None:
        self.starts += 1

    async def handle(self, message: Any) -> Any:
        self.deadlines.append(trio.current_effective_deadline())
        return await super().handle(message)


def workflow(data: Any = REQUIREMENTS, workflow_type: str = "project_initialization") -> Any:
    return {"type": "workflow", "data": {"workflow_type": workflow_type, "data": data}}


def without_times(value: Any) -> Any:
    """``value`` without the 'timestamp' and 'report_date' keys, which say when it ran."""
    if isinstance(value, dict):
        return {
            k: without_times(v) for k, v in value.items() if k not in ("timestamp", "report_date")
        }
    if isinstance(value, list):
        return [without_times(v) for v in value]
    return value


def without_run_id(response: dict[str, Any], run_id: str) -> dict[str, Any]:
    """``response`` without its 'workflow_id', once checked to be ``run_id``.

    For comparing the responses of two runs, which are alike but for their ids.
    """
    assert response["workflow_id"] == run_id
    return {k: v for k, v in response.items() if k != "workflow_id"}


# register_agent and register_workflow


@pytest.mark.parametrize("agent", [None, "project_plan_agent", Actor(), ProjectPlanAgent])
def test_register_agent_takes_only_agents(agent: Any) -> None:
    """Registering something that is not a BaseAgent instance is a TypeError."""
    with pytest.raises(TypeError, match="register_agent\\(\\) takes a BaseAgent"):
        OrchestratorAgent().register_agent(agent)


def test_register_agent_replaces_one_with_the_same_id() -> None:
    """A second agent with the same agent_id replaces the first."""
    orchestrator = OrchestratorAgent()
    first, second = ProjectPlanAgent(), CountingPlanAgent()
    orchestrator.register_agent(first)
    orchestrator.register_agent(second)
    assert dict(orchestrator.agents) == {"project_plan_agent": second}


async def test_replacing_agent_serves_the_messages(autojump_clock: trio.abc.Clock) -> None:
    """The agent registered last for an id is the one that serves."""
    orchestrator = make(SlowRiskAgent(100))
    orchestrator.register_agent(RiskAssessmentAgent())
    response = await orchestrator.process_async(workflow(), timeout=5)
    assert "status" not in response
    assert trio.current_time() == 0


async def test_register_agent_inside_running_is_a_runtime_error() -> None:
    """Agents are registered before running(); inside it, register_agent raises."""
    orchestrator = make()
    async with orchestrator.running():
        with pytest.raises(RuntimeError, match="register agents before"):
            orchestrator.register_agent(ProjectPlanAgent())


def test_agents_mapping_is_a_copy() -> None:
    """Changing the mapping returned does not unregister anything."""
    orchestrator = make()
    orchestrator.agents.clear()  # type: ignore[attr-defined]
    assert len(orchestrator.agents) == 3


def test_register_workflow_takes_only_workflows() -> None:
    """Registering something that is not a Workflow is a TypeError."""
    with pytest.raises(TypeError, match="register_workflow\\(\\) takes a Workflow, got dict"):
        OrchestratorAgent().register_workflow({"name": "w"})  # type: ignore[arg-type]


PLAN_AND_SCHEDULE = Workflow(
    name="plan_and_schedule",
    steps=[
        Step(name="plan", message_type="generate_plan"),
        Step(
            name="schedule",
            message_type="schedule_report",
            build_input=lambda data, results: {"recipients": [results["plan"]["name"]]},
        ),
    ],
)


async def test_custom_workflow_runs_beside_the_built_in_one() -> None:
    """A registered workflow runs its own steps; project_initialization still runs."""
    orchestrator = make()
    orchestrator.register_workflow(PLAN_AND_SCHEDULE)
    response = await orchestrator.process_async(workflow(workflow_type="plan_and_schedule"))
    assert response["workflow_type"] == "plan_and_schedule"
    assert [(s["step"], s["status"]) for s in response["steps"]] == [
        ("plan", "success"),
        ("schedule", "success"),
    ]
    assert response["steps"][1]["result"]["recipients"] == ["Apollo"]
    assert response["steps"][1]["result"]["next_run"] == "2024-05-17"
    assert "status" not in await orchestrator.process_async(workflow())


async def test_workflows_given_replace_the_built_in_ones() -> None:
    """OrchestratorAgent(workflows=...) knows only the workflows given."""
    orchestrator = OrchestratorAgent(workflows=[PLAN_AND_SCHEDULE])
    orchestrator.register_agent(ProjectPlanAgent())
    response = await orchestrator.process_async(workflow())
    assert response["error"] == (
        "Unknown workflow type: 'project_initialization' (known: plan_and_schedule)"
    )


async def test_workflow_registered_while_running_is_served() -> None:
    """A workflow registered inside running() can be run at once."""
    orchestrator = make()
    async with orchestrator.running():
        orchestrator.register_workflow(PLAN_AND_SCHEDULE)
        response = await orchestrator.process_async(workflow(workflow_type="plan_and_schedule"))
    assert "status" not in response


# running() and per-call actors


async def test_per_call_actors_start_for_each_call() -> None:
    """Outside running(), each call starts the agent actors for itself."""
    plan = CountingPlanAgent()
    orchestrator = make(plan)
    for _ in range(3):
        await orchestrator.process_async(workflow())
    assert plan.starts == 3


async def test_running_keeps_the_actors_for_the_block(run_ids: RunIds) -> None:
    """Inside running(), the actors start once and serve every call, with the same answers.

    The answers differ only in their workflow_id: each call is a run of its own.
    """
    plan = CountingPlanAgent()
    orchestrator = make(plan)
    per_call = [await orchestrator.process_async(m) for m in (workflow(), workflow({}))]
    plan.starts = 0
    async with orchestrator.running():
        kept = [await orchestrator.process_async(m) for m in (workflow(), workflow({}))]
    assert plan.starts == 1
    ids = run_ids()
    assert len(ids) == len(set(ids)) == 4
    per_call = [without_run_id(r, run_id) for r, run_id in zip(per_call, ids[:2], strict=True)]
    kept = [without_run_id(r, run_id) for r, run_id in zip(kept, ids[2:], strict=True)]
    assert without_times(kept) == without_times(per_call)
    await orchestrator.process_async(workflow())
    assert plan.starts == 2  # per call again after the block


async def test_running_twice_at_once_is_a_runtime_error() -> None:
    """running() cannot be entered again while it runs."""
    orchestrator = make()
    async with orchestrator.running():
        with pytest.raises(RuntimeError, match="already running"):
            async with orchestrator.running():
                pass  # pragma: no cover


async def test_running_yields_a_supervisor_with_an_inbox(
    autojump_clock: trio.abc.Clock, run_ids: RunIds
) -> None:
    """The supervisor running() yields takes workflow requests on its inbox channel."""
    send, receive = trio.open_memory_channel[WorkflowReply](1)
    async with make().running() as supervisor:
        assert isinstance(supervisor, WorkflowSupervisor)
        await supervisor.inbox.send(
            WorkflowRequest(
                workflow_type="project_initialization", data=REQUIREMENTS, reply_to=send, tag=1
            )
        )
        reply = await receive.receive()
    assert reply.request.tag == 1
    expected = await make().process_async(workflow())
    inbox_run, call_run = run_ids()
    assert inbox_run == reply.report.workflow_id != call_run
    assert without_times(without_run_id(reply.response, inbox_run)) == without_times(
        without_run_id(expected, call_run)
    )


# process(): the synchronous path


MESSAGES = [
    workflow(),
    workflow({"goals": "Design"}),
    workflow(workflow_type="nope"),
    {"type": "workflow", "data": None},
    {"type": "generate_plan", "data": REQUIREMENTS},
    {"type": "schedule_report", "data": {}},
    {"type": "bogus", "data": {}},
    {"type": "generate_plan"},
    None,
]


@pytest.mark.parametrize("message", MESSAGES)
def test_process_equals_process_async(message: Any, run_ids: RunIds) -> None:
    """process() answers as process_async() does, timestamps and the run's own id aside."""
    orchestrator = make()
    sync = orchestrator.process(message)
    asynchronous = trio.run(orchestrator.process_async, message)
    ids = run_ids()
    if ids:  # a workflow run each time: each answer has its own run's id
        assert len(ids) == len(set(ids)) == 2
        sync, asynchronous = without_run_id(sync, ids[0]), without_run_id(asynchronous, ids[1])
    assert without_times(sync) == without_times(asynchronous)


def test_process_has_no_deadline() -> None:
    """process() runs its steps with no deadline at all."""
    plan = CountingPlanAgent()
    make(plan).process(workflow())
    assert plan.deadlines == [math.inf]


async def test_process_async_deadline_reaches_the_agents(autojump_clock: trio.abc.Clock) -> None:
    """process_async() steps run under the call's deadline, 30 s by default."""
    plan = CountingPlanAgent()
    orchestrator = make(plan)
    await trio.sleep(3)
    await orchestrator.process_async(workflow())
    await orchestrator.process_async(workflow(), timeout=7)
    await orchestrator.process_async(workflow(), timeout=math.inf)
    assert plan.deadlines == [33, 10, math.inf]


async def test_process_inside_trio_is_a_runtime_error() -> None:
    """Called from inside a trio run, process() raises and says to await process_async."""
    with pytest.raises(RuntimeError, match=r"use 'await orchestrator\.process_async\(\)'"):
        make().process(workflow())


# _execute_workflow_async and _run_workflow_steps_async


async def test_execute_workflow_async_answers_as_process_async(run_ids: RunIds) -> None:
    """_execute_workflow_async(data) gives what process_async gives for that workflow.

    The two answers differ only in their workflow_id: each call is a run of its own.
    """
    orchestrator = make()
    direct = await orchestrator._execute_workflow_async(workflow()["data"])
    processed = await orchestrator.process_async(workflow())
    direct_run, processed_run = run_ids()
    assert direct_run != processed_run
    assert without_times(without_run_id(direct, direct_run)) == without_times(
        without_run_id(processed, processed_run)
    )


async def test_execute_workflow_async_default_timeout(autojump_clock: trio.abc.Clock) -> None:
    """_execute_workflow_async times out after 30 s by default."""
    orchestrator = make(SlowRiskAgent(100))
    response = await orchestrator._execute_workflow_async(workflow()["data"])
    assert trio.current_time() == 30
    assert response["status"] == "timeout"


async def test_run_steps_fills_results(run_ids: RunIds) -> None:
    """_run_workflow_steps_async writes the type and every step into results, and returns it.

    Those are what process_async answers for the workflow, but for its workflow_id.
    """
    orchestrator = make()
    results: dict[str, Any] = {}
    returned = await orchestrator._run_workflow_steps_async(
        "project_initialization", REQUIREMENTS, results
    )
    assert returned is results
    expected = await orchestrator.process_async(workflow())
    results_run, expected_run = run_ids()
    assert without_times(without_run_id(results, results_run)) == without_times(
        without_run_id(expected, expected_run)
    )


async def test_run_steps_keeps_steps_finished_before_a_cancel(
    autojump_clock: trio.abc.Clock,
) -> None:
    """A caller that cancels the call keeps the steps that had finished, and no status."""
    orchestrator = make(SlowRiskAgent(100))
    results: dict[str, Any] = {}
    with trio.move_on_after(5):
        await orchestrator._run_workflow_steps_async(
            "project_initialization", REQUIREMENTS, results
        )
    assert trio.current_time() == 5
    assert [(s["step"], s["status"]) for s in results["steps"]] == [("generate_plan", "success")]
    assert set(results) == {"workflow_type", "steps"}


async def test_run_steps_has_no_deadline_of_its_own(autojump_clock: trio.abc.Clock) -> None:
    """_run_workflow_steps_async runs as long as its steps take."""
    results: dict[str, Any] = {}
    await make(SlowRiskAgent(1000))._run_workflow_steps_async(
        "project_initialization", REQUIREMENTS, results
    )
    assert trio.current_time() == 1000
    assert len(results["steps"]) == 3


async def test_run_steps_skips_steps_already_successful() -> None:
    """A step recorded as successful in results is not run again; later steps use its result."""
    plan = CountingPlanAgent()
    given = {"name": "Given", "tasks": [], "milestones": [], "description": "urgent"}
    results: dict[str, Any] = {
        "steps": [{"step": "generate_plan", "status": "success", "result": given}]
    }
    await make(plan)._run_workflow_steps_async("project_initialization", {}, results)
    assert plan.deadlines == []
    assert [s["step"] for s in results["steps"]] == [
        "generate_plan",
        "assess_risks",
        "generate_report",
    ]
    assert results["steps"][0]["result"] is given
    assert results["steps"][1]["result"]["project_name"] == "Given"
    assert "status" not in results


async def test_run_steps_runs_a_failed_step_again() -> None:
    """A step recorded as failed is run again, its old record kept before the new one."""
    plan = CountingPlanAgent()
    failed = {"step": "generate_plan", "status": "error", "result": None}
    results: dict[str, Any] = {"status": "error", "error": "old", "steps": [failed]}
    await make(plan)._run_workflow_steps_async("project_initialization", REQUIREMENTS, results)
    assert len(plan.deadlines) == 1
    assert [(s["step"], s["status"]) for s in results["steps"]] == [
        ("generate_plan", "error"),
        ("generate_plan", "success"),
        ("assess_risks", "success"),
        ("generate_report", "success"),
    ]
    assert "status" not in results
    assert "error" not in results


async def test_run_steps_resumes_a_timed_out_response(
    autojump_clock: trio.abc.Clock, run_ids: RunIds
) -> None:
    """Given a timeout response, it runs the remaining steps and leaves a success response."""
    timed_out = await make(SlowRiskAgent(100)).process_async(workflow(), timeout=1)
    [timed_out_run] = run_ids()
    assert timed_out["workflow_id"] == timed_out_run
    orchestrator = make()
    await orchestrator._run_workflow_steps_async("project_initialization", REQUIREMENTS, timed_out)
    expected = await orchestrator.process_async(workflow())
    _, resumed_run, expected_run = run_ids()
    # The results now describe the new run, so they carry its id.
    assert without_times(without_run_id(timed_out, resumed_run)) == without_times(
        without_run_id(expected, expected_run)
    )


@pytest.mark.parametrize(
    ("plan_agent", "data", "error", "error_type", "attempts"),
    [
        (True, {"goals": "x"}, "generate_plan goals must be a list, got str", "agent_error", 1),
        (
            False,
            REQUIREMENTS,
            "no agent is registered for message type 'generate_plan'",
            "no_agent",
            0,
        ),
    ],
)
async def test_run_steps_records_a_failed_step(
    plan_agent: bool, data: Any, error: str, error_type: str, attempts: int, run_ids: RunIds
) -> None:
    """A failed step goes to results['failed_step'], as in an error response, not to 'steps'.

    Its attempts are 1 when its agent refused it, 0 when there was no agent to send it to.
    """
    orchestrator = OrchestratorAgent()
    if plan_agent:
        orchestrator.register_agent(ProjectPlanAgent())
    results: dict[str, Any] = {}
    await orchestrator._run_workflow_steps_async("project_initialization", data, results)
    [results_run] = run_ids()
    assert results == {
        "workflow_id": results_run,
        "workflow_type": "project_initialization",
        "steps": [],
        "failed_step": {
            "step": "generate_plan",
            "status": "error",
            "error_type": error_type,
            "error": error,
            "attempts": attempts,
        },
        "status": "error",
        "error": f"Step 'generate_plan' failed: {error}",
    }
    expected = await orchestrator.process_async(workflow(data))
    _, expected_run = run_ids()
    assert without_times(without_run_id(results, results_run)) == without_times(
        without_run_id(expected, expected_run)
    )


async def test_run_steps_with_unknown_workflow(run_ids: RunIds) -> None:
    """An unknown workflow type sets status and error and runs nothing."""
    results: dict[str, Any] = {}
    await make()._run_workflow_steps_async("nope", {}, results)
    [results_run] = run_ids()
    assert results == {
        "workflow_id": results_run,
        "workflow_type": "nope",
        "steps": [],
        "status": "error",
        "error": "Unknown workflow type: 'nope' (known: project_initialization)",
    }
