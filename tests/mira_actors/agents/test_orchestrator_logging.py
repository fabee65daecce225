"""The orchestrator's structured logs: events and their fields, and never a payload value."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import trio

from mira_actors.agents import (
    OrchestratorAgent,
    ProjectPlanAgent,
    RiskAssessmentAgent,
    _events,
)
from supervisors import WorkflowReply, WorkflowRequest
from tests.mira_actors.agents.orchestrators import SlowRiskAgent, make

SECRETS = ("SECRET-7f3a", "GOAL-SECRET-91c2", "DESC-SECRET-55d0", "DATA-SECRET-03be")
REQUIREMENTS = {
    "name": "SECRET-7f3a",
    "goals": ["GOAL-SECRET-91c2"],
    "description": "urgent DESC-SECRET-55d0",
    "duration_weeks": 4,
}


class QuotingRiskAgent(RiskAssessmentAgent):
    """Fails with an error text that quotes the plan it was sent."""

    async def handle(self, message: Any) -> Any:
        return self.error_response(f"cannot assess {message['data']['name']}")


class RaisingRiskAgent(RiskAssessmentAgent):
    """Raises an exception whose text quotes the plan it was sent."""

    async def handle(self, message: Any) -> Any:
        raise ValueError(f"choked on {message['data']['description']}")


def workflow(data: Any = REQUIREMENTS, workflow_type: Any = "project_initialization") -> Any:
    return {"type": "workflow", "data": {"workflow_type": workflow_type, "data": data}}


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


def events(caplog: pytest.LogCaptureFixture, event_type: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "event_type", None) == event_type]


def fields(record: logging.LogRecord, *names: str) -> dict[str, Any]:
    return {name: getattr(record, name) for name in names}


EVENT_FIELDS = (
    "workflow_type",
    "message_type",
    "timeout_seconds",
    "completed_steps_count",
    "completed_steps",
)


# Events


async def test_completed_event(logs: pytest.LogCaptureFixture) -> None:
    """A completed workflow logs workflow_completed at INFO with its names and counts."""
    await make().process_async(workflow(), timeout=12)
    [record] = events(logs, "workflow_completed")
    assert record.name.startswith("mira_actors.")
    assert record.levelno == logging.INFO
    assert fields(record, *EVENT_FIELDS) == {
        "workflow_type": "project_initialization",
        "message_type": "workflow",
        "timeout_seconds": 12.0,
        "completed_steps_count": 3,
        "completed_steps": ["generate_plan", "assess_risks", "generate_report"],
    }


async def test_timeout_event(
    autojump_clock: trio.abc.Clock, logs: pytest.LogCaptureFixture
) -> None:
    """A timed-out workflow logs workflow_timeout at ERROR with the completed step names."""
    await make(SlowRiskAgent(100)).process_async(workflow(), timeout=5)
    [record] = events(logs, "workflow_timeout")
    assert record.levelno == logging.ERROR
    assert record.getMessage() == "workflow timed out (timeout)"
    assert fields(record, *EVENT_FIELDS) == {
        "workflow_type": "project_initialization",
        "message_type": "workflow",
        "timeout_seconds": 5.0,
        "completed_steps_count": 1,
        "completed_steps": ["generate_plan"],
    }
    assert events(logs, "workflow_completed") == []


async def test_run_event_names_the_line_that_logged_it(
    autojump_clock: trio.abc.Clock, logs: pytest.LogCaptureFixture
) -> None:
    """A run's event record names its source as logging's own lookup would: log_run."""
    await make(SlowRiskAgent(100)).process_async(workflow(), timeout=5)
    [record] = events(logs, "workflow_timeout")
    lines, first = inspect.getsourcelines(_events.log_run)
    assert (record.pathname, record.filename, record.module, record.funcName) == (
        _events.__file__,
        "_events.py",
        "_events",
        "log_run",
    )
    assert first < record.lineno < first + len(lines)
    assert (record.exc_info, record.stack_info) == (None, None)


async def test_run_event_without_caller_lookup(
    autojump_clock: trio.abc.Clock,
    logs: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With logging's caller lookup turned off, a run's event record says so, as logging does."""
    monkeypatch.setattr(logging, "_srcfile", None)
    await make(SlowRiskAgent(100)).process_async(workflow(), timeout=5)
    [record] = events(logs, "workflow_timeout")
    assert (record.pathname, record.lineno, record.funcName) == (
        "(unknown file)",
        0,
        "(unknown function)",
    )


async def test_run_event_comes_from_the_record_factory(
    autojump_clock: trio.abc.Clock, logs: pytest.LogCaptureFixture
) -> None:
    """The application's log record factory makes a run's event records."""
    made: list[logging.LogRecord] = []
    default = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = default(*args, **kwargs)
        made.append(record)
        return record

    logging.setLogRecordFactory(factory)
    try:
        await make(SlowRiskAgent(100)).process_async(workflow(), timeout=5)
    finally:
        logging.setLogRecordFactory(default)
    [record] = events(logs, "workflow_timeout")
    assert any(record is mine for mine in made)


async def test_error_event(logs: pytest.LogCaptureFixture) -> None:
    """A failed workflow logs workflow_error with the kind of error and the failed step."""
    await make(QuotingRiskAgent()).process_async(workflow())
    [record] = events(logs, "workflow_error")
    assert record.levelno == logging.ERROR
    assert fields(record, *EVENT_FIELDS, "error_type", "exception") == {
        "workflow_type": "project_initialization",
        "message_type": "workflow",
        "timeout_seconds": 30.0,
        "completed_steps_count": 1,
        "completed_steps": ["generate_plan"],
        "error_type": "agent_error",
        "exception": "step 'assess_risks' failed",
    }


@pytest.mark.parametrize(
    ("message", "error_type", "exception"),
    [
        (workflow({"goals": "x"}), "agent_error", "step 'generate_plan' failed"),
        (workflow(workflow_type="nope"), "unknown_workflow", "unknown_workflow"),
        (
            {"type": "workflow", "data": {"data": {}}},
            "invalid_workflow_message",
            "Invalid workflow message: data must be a dict with a 'workflow_type' str",
        ),
    ],
)
async def test_error_event_kinds(
    logs: pytest.LogCaptureFixture, message: Any, error_type: str, exception: str
) -> None:
    """Each kind of workflow failure logs one workflow_error naming its kind."""
    await make().process_async(message)
    [record] = events(logs, "workflow_error")
    assert fields(record, "error_type", "exception", "message_type") == {
        "error_type": error_type,
        "exception": exception,
        "message_type": "workflow",
    }


async def test_unregistered_agent_event(logs: pytest.LogCaptureFixture) -> None:
    """A step with no agent logs workflow_error with error_type 'no_agent'."""
    orchestrator = OrchestratorAgent()
    orchestrator.register_agent(ProjectPlanAgent())
    await orchestrator.process_async(workflow())
    [record] = events(logs, "workflow_error")
    assert fields(record, "error_type", "completed_steps") == {
        "error_type": "no_agent",
        "completed_steps": ["generate_plan"],
    }


async def test_message_timeout_event(
    autojump_clock: trio.abc.Clock, logs: pytest.LogCaptureFixture
) -> None:
    """A routed message that times out logs message_timeout with its type and agent."""
    plan = ProjectPlanAgent().generate_plan(REQUIREMENTS)
    await make(SlowRiskAgent(100)).process_async({"type": "assess_risks", "data": plan}, timeout=2)
    [record] = events(logs, "message_timeout")
    assert fields(record, "message_type", "agent", "timeout_seconds") == {
        "message_type": "assess_risks",
        "agent": "risk_assessment_agent",
        "timeout_seconds": 2.0,
    }


def sub_second_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "warning_type", None) == "sub_second_timeout"]


@pytest.mark.parametrize("timeout", [0, 0.001, 0.5, 0.999])
async def test_sub_second_timeout_warns(logs: pytest.LogCaptureFixture, timeout: float) -> None:
    """A timeout under one second logs a sub_second_timeout warning, and the run goes on."""
    response = await make().process_async(workflow(), timeout=timeout)
    [record] = sub_second_warnings(logs)
    assert record.levelno == logging.WARNING
    assert fields(record, "workflow_type", "timeout_seconds") == {
        "workflow_type": "project_initialization",
        "timeout_seconds": timeout,
    }
    assert response["workflow_type"] == "project_initialization"
    assert len(events(logs, "workflow_completed") + events(logs, "workflow_timeout")) == 1


@pytest.mark.parametrize("timeout", [1, 1.0, 30])
async def test_no_warning_from_one_second(logs: pytest.LogCaptureFixture, timeout: float) -> None:
    """A timeout of one second or more logs no warning."""
    await make().process_async(workflow(), timeout=timeout)
    assert sub_second_warnings(logs) == []


async def test_sub_second_timeout_of_a_message_warns(logs: pytest.LogCaptureFixture) -> None:
    """A routed message with a sub-second timeout warns too, with no workflow type."""
    await make().process_async({"type": "generate_plan", "data": {}}, timeout=0.5)
    [record] = sub_second_warnings(logs)
    assert fields(record, "workflow_type", "timeout_seconds") == {
        "workflow_type": None,
        "timeout_seconds": 0.5,
    }


# Malformed step records given to _run_workflow_steps_async


class HostileStep(Mapping[str, Any]):
    """A mapping that fails to give any of its values."""

    def __getitem__(self, key: str) -> Any:
        raise RuntimeError("DATA-SECRET-03be")

    def __iter__(self) -> Iterator[str]:
        return iter(["step", "status"])

    def __len__(self) -> int:
        return 2


def step_warnings(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [
        {k: v for k, v in vars(r).items() if k in ("error_type", "step_index", "workflow_type")}
        for r in caplog.records
        if r.name == "mira_actors.agents.steps"
    ]


@pytest.mark.parametrize("steps", ["DATA-SECRET-03be", {"step": "generate_plan"}, 7])
async def test_steps_that_are_not_a_list(logs: pytest.LogCaptureFixture, steps: Any) -> None:
    """Steps that are not a list are logged as invalid_steps_format; every step runs."""
    results: dict[str, Any] = {"steps": steps}
    await make()._run_workflow_steps_async("project_initialization", REQUIREMENTS, results)
    assert step_warnings(logs) == [
        {"error_type": "invalid_steps_format", "workflow_type": "project_initialization"}
    ]
    assert [s["status"] for s in results["steps"]] == ["success"] * 3


async def test_malformed_step_records(logs: pytest.LogCaptureFixture) -> None:
    """Each malformed record is logged with its position and treated as not completed."""
    good = {"step": "assess_risks", "status": "error", "result": None}
    results: dict[str, Any] = {
        "steps": [
            "generate_plan",
            {"step": "generate_plan"},
            {"step": "generate_plan", "status": 1, "result": "DATA-SECRET-03be"},
            {"step": ["generate_plan"], "status": "success"},
            good,
            HostileStep(),
        ]
    }
    plan = ProjectPlanAgent()
    await make()._run_workflow_steps_async("project_initialization", REQUIREMENTS, results)
    invalid = {"error_type": "invalid_step_format", "workflow_type": "project_initialization"}
    assert step_warnings(logs) == [
        {**invalid, "step_index": 0},
        {**invalid, "step_index": 1},
        {**invalid, "step_index": 2},
        {**invalid, "step_index": 3},
        {
            "error_type": "step_extraction_failed",
            "workflow_type": "project_initialization",
            "step_index": 5,
        },
    ]
    assert [(s["step"], s["status"]) for s in results["steps"]] == [
        ("assess_risks", "error"),
        ("generate_plan", "success"),
        ("assess_risks", "success"),
        ("generate_report", "success"),
    ]
    assert results["steps"][1]["result"] == plan.generate_plan(REQUIREMENTS)


# No payload value in any log record


def assert_no_payload(caplog: pytest.LogCaptureFixture) -> None:
    """No secret appears in any record's message, formatted text, or any of its attributes.

    The one field allowed to quote a value is a failed run's ``exception`` (the text of
    the exception that failed it, as the MIRA document requires), cut to 200 characters.
    """
    formatter = logging.Formatter()
    for record in caplog.records:
        texts = [record.getMessage(), formatter.format(record)]
        for name, value in vars(record).items():
            if name == "exception" and getattr(record, "event_type", None) == "workflow_error":
                assert len(value) <= 200
                continue
            texts.append(f"{name}={value!r}")
        for text in texts:
            for secret in SECRETS:
                assert secret not in text, f"{record.name}: {text}"


async def run_channel_request(orchestrator: OrchestratorAgent) -> None:
    send, receive = trio.open_memory_channel[WorkflowReply](2)
    async with orchestrator.running() as supervisor:
        await supervisor.inbox.send({"data": REQUIREMENTS})  # type: ignore[arg-type]
        await supervisor.inbox.send(
            WorkflowRequest(
                workflow_type="project_initialization",
                data=REQUIREMENTS,
                reply_to=send,
                timeout=0.5,
            )
        )
        await receive.receive()


PLAN = ProjectPlanAgent().generate_plan(REQUIREMENTS)
SCENARIOS: dict[str, tuple[Any, Any, float]] = {
    "success": (None, workflow(), 30),
    "sub-second success": (None, workflow(), 0.5),
    "timeout": (SlowRiskAgent, workflow(), 5),
    "agent error quoting the payload": (QuotingRiskAgent, workflow(), 30),
    "handler raising with the payload": (RaisingRiskAgent, workflow(), 30),
    "bad payload": (None, workflow({**REQUIREMENTS, "goals": ["GOAL-SECRET-91c2", 5]}), 30),
    "payload not a dict": (None, workflow("DATA-SECRET-03be"), 30),
    "unknown workflow": (None, workflow(workflow_type="nope"), 30),
    "invalid workflow message": (None, {"type": "workflow", "data": {"x": "DATA-SECRET-03be"}}, 30),
    "invalid message": (None, ["DATA-SECRET-03be"], 30),
    "message": (None, {"type": "assess_risks", "data": PLAN}, 0.5),
    "message timeout": (SlowRiskAgent, {"type": "assess_risks", "data": PLAN}, 2),
    "message to a raising handler": (RaisingRiskAgent, {"type": "assess_risks", "data": PLAN}, 0.5),
    "unknown message type": (None, {"type": "nope", "data": REQUIREMENTS}, 0.5),
}


@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_no_payload_value_is_logged(
    autojump_clock: trio.abc.Clock, logs: pytest.LogCaptureFixture, scenario: str
) -> None:
    """Whatever the run's outcome, no log record carries any value from the payload."""
    risk_class, message, timeout = SCENARIOS[scenario]
    orchestrator = make(*([risk_class()] if risk_class else []))
    await orchestrator.process_async(message, timeout=timeout)
    async with orchestrator.running():
        await orchestrator.process_async(message, timeout=timeout)
    # Only a message rejected before any deadline or routing logs nothing to scan.
    assert bool(logs.records) is (scenario != "invalid message")
    assert_no_payload(logs)


async def test_no_payload_in_step_record_and_channel_logs(
    logs: pytest.LogCaptureFixture,
) -> None:
    """Malformed step records and bad channel messages are logged without their contents."""
    results: dict[str, Any] = {
        "steps": [{"step": "DATA-SECRET-03be", "status": 0}, HostileStep(), "SECRET-7f3a"]
    }
    await make()._run_workflow_steps_async("project_initialization", REQUIREMENTS, results)
    await make()._run_workflow_steps_async(
        "project_initialization", REQUIREMENTS, {"steps": "SECRET-7f3a"}
    )
    await run_channel_request(make())
    assert_no_payload(logs)
