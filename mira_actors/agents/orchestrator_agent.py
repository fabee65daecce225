"""OrchestratorAgent: the MIRA facade over a workflow supervisor of agent actors."""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

import trio

from mira_actors import Actor, MiraError
from supervisors import (
    DEFAULT_TIMEOUT,
    StepRecord,
    Workflow,
    WorkflowSupervisor,
    check_timeout,
    open_workflow_supervisor,
)

from . import _events
from ._step_records import read_step_records
from .base_agent import BaseAgent, Response
from .workflows import BUILTIN_WORKFLOWS, MESSAGE_ROUTES


class _Serving(Actor):
    """Serves a registered agent as an actor, answering an error when its handler raises.

    A raised exception would crash the actor, and enough crashes at once would make the
    supervisor give up, ending every run it holds: one bad message must fail only its
    own step. Each (re)start wraps the registered instance again.
    """

    def __init__(self, agent: BaseAgent) -> None:
        self.agent = agent

    async def on_start(self) -> None:
        self.agent.ref = self.ref
        await self.agent.on_start()

    async def on_stop(self) -> None:
        await self.agent.on_stop()

    async def handle(self, message: Any) -> Any:
        agent = self.agent
        try:
            return await agent.handle(message)
        except Exception as exc:
            await agent.on_failure(exc)
            return agent.error_response(
                f"agent {agent.agent_id!r} raised {type(exc).__name__}: {exc}"
            )


class OrchestratorAgent(BaseAgent):
    """Routes messages to registered agents and runs workflows under deadlines.

    Each registered agent runs as an actor. Inside ``async with orchestrator.running()``
    the actors live for the whole block and serve every call; outside it, each call
    starts them for itself and stops them before returning, so no task outlives it.

    Usage::

        orchestrator = OrchestratorAgent()
        orchestrator.register_agent(ProjectPlanAgent())
        response = trio.run(orchestrator.process_async, message)   # or, inside trio:
        response = await orchestrator.process_async(message, timeout=5.0)
    """

    agent_id = "orchestrator_agent"

    def __init__(self, *, workflows: Iterable[Workflow] = BUILTIN_WORKFLOWS) -> None:
        self._agents: dict[str, BaseAgent] = {}
        self._workflows: dict[str, Workflow] = {}
        self._system: WorkflowSupervisor | None = None
        for workflow in workflows:
            self.register_workflow(workflow)

    @property
    def agents(self) -> Mapping[str, BaseAgent]:
        """The registered agents, by agent_id."""
        return dict(self._agents)

    def register_agent(self, agent: BaseAgent) -> None:
        """Register ``agent`` to serve its message types (replacing one with its id)."""
        if not isinstance(agent, BaseAgent):
            msg = f"register_agent() takes a BaseAgent, got {type(agent).__name__}"
            raise TypeError(msg)
        if self._system is not None:
            msg = "register agents before 'async with orchestrator.running()', not inside it"
            raise RuntimeError(msg)
        self._agents[agent.agent_id] = agent

    def register_workflow(self, workflow: Workflow) -> None:
        """Register (or replace) a workflow under its name."""
        if not isinstance(workflow, Workflow):
            msg = f"register_workflow() takes a Workflow, got {type(workflow).__name__}"
            raise TypeError(msg)
        self._workflows[workflow.name] = workflow
        if self._system is not None:
            self._system.register_workflow(workflow)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[WorkflowSupervisor]:
        """Keep the agent actors running for the block; yield their workflow supervisor.

        The supervisor also takes workflow messages over its ``inbox`` channel.
        """
        if self._system is not None:
            msg = "this orchestrator is already running"
            raise RuntimeError(msg)
        async with self._open_system() as system:
            self._system = system
            try:
                yield system
            finally:
                self._system = None

    @contextlib.asynccontextmanager
    async def _open_system(self) -> AsyncIterator[WorkflowSupervisor]:
        async with open_workflow_supervisor(
            workflows=self._workflows.values(), name=self.agent_id, on_report=_events.log_run
        ) as system:
            for agent in self._agents.values():
                await system.spawn(
                    _Serving, agent, name=agent.agent_id, handles=agent.message_types
                )
            yield system

    @contextlib.asynccontextmanager
    async def _system_for_call(self) -> AsyncIterator[WorkflowSupervisor]:
        if self._system is not None:
            yield self._system
        else:
            async with self._open_system() as system:
                yield system

    def process(self, message: Any) -> Response:
        """Process ``message`` synchronously, with no deadline.

        Raises:
            RuntimeError: called from inside a trio run; ``await process_async()`` there.
        """
        try:
            trio.lowlevel.current_trio_token()
        except RuntimeError:
            return trio.run(self.process_async, message, math.inf)
        msg = "process() cannot block inside a trio run; use 'await orchestrator.process_async()'"
        raise RuntimeError(msg)

    async def handle(self, message: Any) -> Response:
        """Serve ``message`` as an actor, under the asker's deadline."""
        return await self.process_async(message, timeout=math.inf)

    async def process_async(self, message: Any, timeout: float = DEFAULT_TIMEOUT) -> Response:
        """Process ``message`` under a deadline of ``timeout`` seconds.

        A workflow message (type 'workflow') returns a workflow response: success,
        timeout (with partial progress) or error. Any other message goes to the agent
        registered for its type and returns that agent's response, or one with status
        'timeout' when the agent does not answer in time.

        Raises:
            ValueError: ``timeout`` is negative or NaN.
            TypeError: ``timeout`` is not a number.
        """
        timeout = check_timeout(timeout)
        if not isinstance(message, Mapping) or "type" not in message or "data" not in message:
            return self.error_response("Invalid message format")
        if message["type"] == "workflow":
            return await self._execute_workflow_async(message["data"], timeout)
        if timeout < 1:
            _events.log_sub_second(None, timeout)
        return await self._route_async(message, timeout)

    async def _route_async(self, message: Mapping[str, Any], timeout: float) -> Response:
        message_type = message["type"]
        async with self._system_for_call() as system:
            ref = system.routes.get(message_type) if isinstance(message_type, str) else None
            if ref is None:
                return self.error_response(self._unroutable(message_type))
            with trio.move_on_after(timeout):
                try:
                    reply: Response = await ref.ask(message)
                except MiraError as exc:
                    return self.error_response(str(exc))
                return reply
        _events.log_message_timeout(message_type, ref.name, timeout)
        timed_out = self._response(
            "timeout", None, f"Message processing timed out after {timeout} seconds"
        )
        timed_out["agent_id"] = ref.name
        return timed_out

    def _unroutable(self, message_type: Any) -> str:
        agent = MESSAGE_ROUTES.get(message_type) if isinstance(message_type, str) else None
        if agent is not None:
            return (
                f"No agent registered for message type {message_type!r}: "
                f"register {agent} with register_agent()"
            )
        return f"Unknown message type: {message_type}"

    async def _execute_workflow_async(
        self, data: Any, timeout: float = DEFAULT_TIMEOUT
    ) -> Response:
        """Run the workflow that ``data`` describes under a deadline of ``timeout`` seconds.

        ``data`` is ``{'workflow_type': str, 'data': workflow data}``.
        """
        timeout = check_timeout(timeout)
        if not isinstance(data, Mapping) or not isinstance(data.get("workflow_type"), str):
            reason = "Invalid workflow message: data must be a dict with a 'workflow_type' str"
            _events.log_invalid_workflow(reason, timeout)
            return {"workflow_type": None, "status": "error", "error": reason, "steps": []}
        workflow_type = data["workflow_type"]
        if timeout < 1:
            _events.log_sub_second(workflow_type, timeout)
        async with self._system_for_call() as system:
            report = await system.run(workflow_type, data.get("data", {}), timeout=timeout)
        return report.response()

    async def _run_workflow_steps_async(
        self, workflow_type: str, workflow_data: Any, results: dict[str, Any]
    ) -> dict[str, Any]:
        """Run a workflow's steps into ``results`` under the caller's own deadline.

        Steps are appended to ``results['steps']`` as each finishes, so a caller that
        cancels this call keeps the completed ones. Steps already recorded there as
        successful are not run again; their results feed the later steps. Malformed
        records there are logged and treated as not completed. On return ``results``
        describes this run: a failed step sets ``results['status'] = 'error'`` and
        ``results['error']``, and a 'status', 'error' or 'partial_progress' left by an
        earlier run is removed.
        """
        records, completed = read_step_records(
            results.get("steps"), workflow_type=str(workflow_type)
        )
        results["workflow_type"] = workflow_type
        results["steps"] = records

        def append(record: StepRecord) -> None:
            # Carried-over steps are in results already, and a step cut short by the
            # caller's deadline did not finish; every other step did, failed ones too
            # (no agent and bad input fail with no attempt, but they failed all the same).
            if record.error_type is not None or (record.completed and record.attempts > 0):
                records.append(record.as_step())

        async with self._system_for_call() as system:
            report = await system.run(
                workflow_type, workflow_data, timeout=math.inf, prior=completed, on_step=append
            )
        # What an earlier run left in results (a timeout's status and partial progress,
        # an old error) no longer describes it.
        for stale in ("status", "error", "partial_progress"):
            results.pop(stale, None)
        if report.outcome == "error":
            results["status"] = "error"
            results["error"] = report.error
        return results
