"""OrchestratorAgent: the MIRA facade over a workflow supervisor of agent actors."""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

import trio

from mira_actors import MiraError, safe_repr, safe_str
from supervisors import (
    DEFAULT_TIMEOUT,
    LEASE_TIME,
    AdaptiveTimeouts,
    EventSink,
    LatencyHistory,
    LedgerStore,
    MemoryStore,
    Recovery,
    RetryPolicy,
    RunOptions,
    Workflow,
    WorkflowSupervisor,
    new_owner_id,
    open_workflow_supervisor,
    serve_recovery,
)

from . import _events
from ._backend import Backend, resolve_backend
from ._shared_system import SharedSystem
from ._workflow_calls import WorkflowCallsMixin
from .base_agent import BaseAgent, Response
from .workflows import BUILTIN_WORKFLOWS, MESSAGE_ROUTES


def _check_intensity(max_restarts: Any, within: Any) -> None:
    # Checked here, so that a bad value fails where it is given, not at the first call.
    if isinstance(max_restarts, bool) or not isinstance(max_restarts, int) or max_restarts < 0:
        msg = f"max_restarts must be an int >= 0, got {safe_repr(max_restarts)}"
        raise ValueError(msg)
    if isinstance(within, bool) or not isinstance(within, int | float) or not within > 0:
        msg = f"within must be a number of seconds > 0, got {safe_repr(within)}"
        raise ValueError(msg)


def _same(agent: BaseAgent) -> BaseAgent:
    """Factory that hands the registered instance back on every (re)start."""
    return agent


class OrchestratorAgent(WorkflowCallsMixin, BaseAgent):
    """Routes messages to registered agents and runs workflows under deadlines.

    Each registered agent runs as an actor. Inside ``async with orchestrator.running()``
    the actors live for the whole block and serve every call. Outside it, the calls
    going on at the same time share one set of actors: the first call starts them and
    the last one to leave stops them before it returns, so an agent instance backs one
    actor at a time (it handles one message at a time), and no task outlives the calls.

    An agent actor that crashes is restarted; more than ``max_restarts`` crashes within
    ``within`` seconds end the calls (or the ``running()`` block) with
    RestartIntensityError.

    Its runs are kept in ``store`` and leased there to this orchestrator (``owner``),
    renewed every third of ``lease_time`` seconds while a call is going on: another
    orchestrator sharing the store neither resumes nor recovers them meanwhile. With
    ``recover`` (True, or a :class:`~supervisors.Recovery`), ``running()`` also takes
    the runs of dead orchestrators (their leases lapsed) from the store and resumes
    them. :meth:`cancel` asks a run's owner, wherever it runs, to cancel it.

    Usage::

        orchestrator = OrchestratorAgent()
        orchestrator.register_agent(ProjectPlanAgent())
        response = trio.run(orchestrator.process_async, message)   # or, inside trio:
        response = await orchestrator.process_async(message, timeout=5.0)
    """

    agent_id = "orchestrator_agent"

    def __init__(
        self,
        *,
        workflows: Iterable[Workflow] = BUILTIN_WORKFLOWS,
        history: LatencyHistory | None = None,
        adaptive: AdaptiveTimeouts | None = None,
        store: LedgerStore | None = None,
        max_restarts: int = 3,
        within: float = 5.0,
        lease_time: float = LEASE_TIME,
        recover: bool | Recovery = False,
    ) -> None:
        _check_intensity(max_restarts, within)
        # Whether running() recovers abandoned runs from the store, and how.
        self.recovery: Recovery | None = (
            recover if isinstance(recover, Recovery) else Recovery() if recover else None
        )
        # How many crashes of its agent actors (within how many seconds) the orchestrator
        # restarts before it gives up with RestartIntensityError.
        self.max_restarts = max_restarts
        self.within = within
        # Step latencies, kept across calls: they decide whether an attempt can finish in
        # the time left and, with ``adaptive``, the timeouts of steps that set none.
        self.history = history if history is not None else LatencyHistory()
        self.adaptive = adaptive
        # Every run is kept here (in memory unless a durable store is given), so that
        # resume() can continue one that timed out, failed or crashed.
        self.store: LedgerStore = store if store is not None else MemoryStore()
        # The owner of this orchestrator's runs in the store: their leases are renewed
        # every third of ``lease_time`` while a call (or running()) is going on.
        self.owner = new_owner_id()
        self.lease_time = lease_time
        # Runs going on in this orchestrator, across its per-call supervisors: a resume
        # of one of them must wait until it ends.
        self._live_runs: set[str] = set()
        self._agents: dict[str, BaseAgent] = {}
        self._workflows: dict[str, Workflow] = {}
        self._system: WorkflowSupervisor | None = None
        # The actors of calls made outside running(), while any is going on.
        self._shared = SharedSystem(self._open_system)
        for workflow in workflows:
            self.register_workflow(workflow)

    @property
    def agents(self) -> Mapping[str, BaseAgent]:
        """The registered agents, by agent_id."""
        return dict(self._agents)

    def register_agent(self, agent: BaseAgent, backend: str | Backend | None = None) -> None:
        """Register ``agent`` to serve its message types (replacing one with its id).

        ``backend`` (a name: 'inline', 'thread', 'process', 'ray'; or a Backend) says
        where its steps run, in place of the one its class declares. It is set on this
        instance only, never on the class.

        Raises:
            ValueError: an unknown backend name.
            ImportError: the 'ray' backend without the ray extra.
        """
        if not isinstance(agent, BaseAgent):
            msg = f"register_agent() takes a BaseAgent, got {type(agent).__name__}"
            raise TypeError(msg)
        if self._system is not None:
            msg = "register agents before 'async with orchestrator.running()', not inside it"
            raise RuntimeError(msg)
        if self._shared.active:
            msg = "register agents before calling the orchestrator, not while calls are going on"
            raise RuntimeError(msg)
        resolve_backend(agent.backend if backend is None else backend)  # fail here, not mid-run
        if backend is not None:
            agent.backend = backend
        self._agents[agent.agent_id] = agent

    def register_workflow(self, workflow: Workflow) -> None:
        """Register (or replace) a workflow under its name."""
        if not isinstance(workflow, Workflow):
            msg = f"register_workflow() takes a Workflow, got {type(workflow).__name__}"
            raise TypeError(msg)
        self._workflows[workflow.name] = workflow
        for system in (self._system, self._shared.current()):
            if system is not None:
                system.register_workflow(workflow)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[WorkflowSupervisor]:
        """Keep the agent actors running for the block; yield their workflow supervisor.

        The supervisor also takes workflow messages over its ``inbox`` channel.
        """
        if self._system is not None:
            msg = "this orchestrator is already running"
            raise RuntimeError(msg)
        if self._shared.active:
            msg = "enter running() before calling the orchestrator, not while calls are going on"
            raise RuntimeError(msg)
        async with self._open_system() as system, trio.open_nursery() as recovering:
            if self.recovery is not None:
                recovering.start_soon(serve_recovery, system, self.recovery)
            self._system = system
            try:
                yield system
            finally:
                self._system = None
                recovering.cancel_scope.cancel()

    async def cancel(self, workflow_id: str) -> bool:
        """Ask the run's owner, in this process or another, to cancel the run.

        The owner sees the request at its next heartbeat (within a third of its lease
        time) and cancels the run: it is stored as 'cancelled', with the steps it cut
        short.

        Returns:
            True when the run is running and now marked; False when it has finished.

        Raises:
            UnknownRunError: the store holds no such run.
        """
        return await self.store.request_cancel(workflow_id)

    @contextlib.asynccontextmanager
    async def _open_system(self) -> AsyncIterator[WorkflowSupervisor]:
        async with open_workflow_supervisor(
            workflows=self._workflows.values(),
            name=self.agent_id,
            on_report=_events.log_run,
            history=self.history,
            adaptive=self.adaptive,
            store=self.store,
            live_runs=self._live_runs,
            max_restarts=self.max_restarts,
            within=self.within,
            owner=self.owner,
            lease_time=self.lease_time,
        ) as system:
            for agent in self._agents.values():
                await system.spawn(_same, agent, name=agent.agent_id, handles=agent.message_types)
            yield system

    @contextlib.asynccontextmanager
    async def _system_for_call(self) -> AsyncIterator[WorkflowSupervisor]:
        if self._system is not None:
            yield self._system
        else:
            async with self._shared.use() as system:
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

    async def process_async(
        self,
        message: Any,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        step_timeouts: Mapping[str, float] | None = None,
        retry: RetryPolicy | None = None,
        on_event: EventSink | None = None,
    ) -> Response:
        """Process ``message`` under a deadline of ``timeout`` seconds.

        A workflow message (type 'workflow') returns a workflow response: success,
        timeout (with partial progress) or error. Any other message goes to the agent
        registered for its type and returns that agent's response, or one with status
        'timeout' when the agent does not answer in time.

        For workflows, ``step_timeouts`` gives steps their own seconds per attempt (by
        step name), ``retry`` is the policy of steps that have none of their own, and
        ``on_event`` receives the run's progress events (a callback, or a memory channel
        with an unbounded buffer).

        Raises:
            ValueError: ``timeout`` is negative or NaN, or ``step_timeouts`` is bad.
            TypeError: ``timeout`` is not a number.
        """
        options = RunOptions.of(
            timeout, step_timeouts=step_timeouts, retry=retry, on_event=on_event
        )
        timeout = options.timeout
        if not isinstance(message, Mapping) or "type" not in message or "data" not in message:
            return self.error_response("Invalid message format")
        if message["type"] == "workflow":
            return await self._run_workflow(message["data"], options)
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
        return f"Unknown message type: {safe_str(message_type)}"
