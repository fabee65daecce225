"""The workload every design runs: MIRA messages, the agents, and instrumented steps.

The ``project_initialization`` workflow (shared/AGENTS.md) is three steps, each the
synchronous logic of a real MIRA agent (``BaseAgent.respond``). The references call
the same functions with the same messages as the runtime's agents answer, so what
differs between designs is only how the steps are scheduled.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

import attrs
import trio

from mira_actors.agents.base_agent import BaseAgent, Response
from mira_actors.agents.project_plan_agent import ProjectPlanAgent
from mira_actors.agents.risk_assessment_agent import RiskAssessmentAgent
from mira_actors.agents.status_reporter_agent import StatusReporterAgent

WORKFLOW_TYPE = "project_initialization"
STEP_NAMES = ("generate_plan", "assess_risks", "generate_report")


def requirements(key: str) -> dict[str, Any]:
    """Return the requirements of one project; ``key`` is its name, unique per run."""
    return {
        "name": key,
        "description": "Urgent launch of a new platform that depends on a third party",
        "goals": ["Design", "Build", "Launch"],
        "duration_weeks": 12,
    }


def workflow_message(key: str) -> dict[str, Any]:
    """Return the workflow message a MIRA caller sends for project ``key``."""
    return {
        "type": "workflow",
        "data": {"workflow_type": WORKFLOW_TYPE, "data": requirements(key)},
    }


def plan_message(key: str) -> dict[str, Any]:
    """Return a one-step request (``generate_plan``), the 'new request' of case 5."""
    return {"type": "generate_plan", "data": requirements(key)}


def step_message(step: str, data: Any, results: Mapping[str, Response]) -> dict[str, Any]:
    """Return the message of ``step``, built from the data and earlier results."""
    if step == "generate_plan":
        return {"type": step, "data": data}
    plan = results["generate_plan"]["data"]
    if step == "assess_risks":
        return {"type": step, "data": plan}
    return {"type": step, "data": {**plan, "risks": results["assess_risks"]["data"]["risks"]}}


@attrs.frozen(kw_only=True)
class Agents:
    """The three agents of ``project_initialization``, by step."""

    plan: BaseAgent
    risk: BaseAgent
    report: BaseAgent

    def for_step(self, step: str) -> BaseAgent:
        """Return the agent that serves ``step``."""
        return {"generate_plan": self.plan, "assess_risks": self.risk}.get(step, self.report)

    def all(self) -> tuple[BaseAgent, BaseAgent, BaseAgent]:
        """Return the three agents."""
        return (self.plan, self.risk, self.report)


def real_agents(risk: BaseAgent | None = None) -> Agents:
    """Return the real MIRA agents, optionally with ``risk`` replacing the risk agent."""
    return Agents(
        plan=ProjectPlanAgent(),
        risk=risk if risk is not None else RiskAssessmentAgent(),
        report=StatusReporterAgent(),
    )


def run_steps_directly(agents: Agents, data: Any) -> dict[str, Any]:
    """Run the workflow by calling each agent's logic in turn: the no-actor limit."""
    results: dict[str, Response] = {}
    for step in STEP_NAMES:
        response = agents.for_step(step).respond(step_message(step, data, results))
        results[step] = response
        if response["status"] != "success":
            break
    return workflow_response(results)


def workflow_response(results: Mapping[str, Response]) -> dict[str, Any]:
    """Return the MIRA success response for the completed ``results``."""
    return {
        "workflow_type": WORKFLOW_TYPE,
        "steps": [
            {"step": step, "status": response["status"], "result": response["data"]}
            for step, response in results.items()
        ],
    }


@attrs.define
class Execution:
    """One execution of an instrumented step: when it started and when it stopped."""

    key: str
    started: float
    ended: float | None = None
    outcome: str = "running"


@attrs.define
class StepLog:
    """Start and end times of every execution of an instrumented step.

    Safe to write from worker threads: each execution only ever touches its own record
    and list appends are atomic in CPython.
    """

    executions: list[Execution] = attrs.Factory(list)
    _lock: threading.Lock = attrs.Factory(threading.Lock)

    def start(self, key: str) -> Execution:
        """Record that the step started for run ``key``."""
        execution = Execution(key=key, started=time.perf_counter())
        with self._lock:
            self.executions.append(execution)
        return execution

    @staticmethod
    def end(execution: Execution, outcome: str) -> None:
        """Record that ``execution`` stopped: ``completed`` or ``cancelled``."""
        execution.ended = time.perf_counter()
        execution.outcome = outcome

    def count(self, outcome: str) -> int:
        """Return how many executions stopped with ``outcome`` (or are still running)."""
        return sum(1 for e in self.executions if e.outcome == outcome)

    def work_after(self, responded: Mapping[str, float]) -> tuple[int, int]:
        """Count executions that outlived their caller's response.

        Args:
            responded: When each run's caller had its response, by run key.

        Returns:
            ``(started_after, running_after)``: executions that started after the
            response, and executions that started before it but were still running
            (not yet completed, nor unwound from their cancellation) when it arrived.
        """
        started_after = running_after = 0
        for execution in self.executions:
            answered = responded.get(execution.key)
            if answered is None:
                continue
            if execution.started > answered:
                started_after += 1
            elif execution.ended is None or execution.ended > answered:
                running_after += 1
        return started_after, running_after


class NeverFinishingRiskAgent(RiskAssessmentAgent):
    """A risk agent whose step never finishes; it logs starts, cancellations and ends."""

    def __init__(self, log: StepLog) -> None:
        super().__init__()
        self.log = log

    async def handle(self, message: Any) -> Response:
        """Log the start, then wait forever; log the cancellation when it comes."""
        execution = self.log.start(message["data"]["name"])
        try:
            await trio.sleep_forever()
        finally:
            self.log.end(execution, "cancelled")


@attrs.frozen
class FileStepLog:
    """A step log kept in a file, so that steps in threads and worker processes can write it.

    Each line is ``<event> <key> <perf_counter>``: ``start``, then a ``tick`` every
    :data:`TICK` seconds while the step works, then ``end``. A step whose process was
    killed simply stops writing. ``time.perf_counter`` is CLOCK_MONOTONIC on Linux, one
    clock for every process on the machine.
    """

    path: str

    def record(self, event: str, key: str) -> None:
        """Append one event for run ``key`` (one small append: atomic on a local file)."""
        with open(self.path, "a", encoding="utf-8") as log:
            log.write(f"{event} {key} {time.perf_counter()!r}\n")

    def executions(self) -> list[Execution]:
        """Return each execution, ``ended`` being its last sign of life (tick or end)."""
        found: dict[str, Execution] = {}
        with open(self.path, encoding="utf-8") as log:
            for line in log:
                event, key, at = line.split()
                if event == "start":
                    found[key] = Execution(key=key, started=float(at), ended=float(at))
                else:
                    found[key].ended = float(at)
                    if event == "end":
                        found[key].outcome = "completed"
        return list(found.values())

    def work_after(self, responded: Mapping[str, float]) -> tuple[int, int]:
        """Count executions that started after, or showed life after, their response.

        The resolution is one :data:`TICK`: a step killed less than a tick after its
        caller's response cannot be told from one killed just before it.
        """
        started_after = running_after = 0
        for execution in self.executions():
            answered = responded.get(execution.key)
            if answered is None:
                continue
            if execution.started > answered:
                started_after += 1
            elif execution.ended is not None and execution.ended > answered:
                running_after += 1
        return started_after, running_after


TICK = 0.005


def worker_ready() -> bool:
    """Run in a worker process to import this module (and the agents) before timing."""
    return True


class BlockingRiskAgent(RiskAssessmentAgent):
    """A risk agent whose step blocks for ``seconds``, run on ``backend``.

    ``backend`` is the runtime's name for where a blocking step runs ('thread',
    'process'); the thread-pool design ignores it and calls :meth:`respond` itself.
    """

    def __init__(self, log: FileStepLog, seconds: float, backend: str = "thread") -> None:
        super().__init__()
        self.log = log
        self.seconds = seconds
        self.backend = backend

    def respond(self, message: Any) -> Response:
        """Block (a stand-in for a slow library call), then answer as the real agent."""
        key = message["data"]["name"]
        self.log.record("start", key)
        until = time.perf_counter() + self.seconds
        while (left := until - time.perf_counter()) > 0:
            time.sleep(min(TICK, left))
            self.log.record("tick", key)
        self.log.record("end", key)
        return super().respond(message)
