"""The workflow supervisor: agent actors, workflows, and runs by call or by channel."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import trio

from mira_actors import DEFAULT_CAPACITY, Actor, ActorRef, safe_repr, safe_str

from ._events import EventSink
from ._latency import AdaptiveTimeouts, LatencyHistory
from ._leases import LeaseKeeper
from ._ledger import ErrorType, Status
from ._options import DEFAULT_TIMEOUT, RunOptions, StepListener
from ._policy import Restart, Strategy
from ._report import RunReport, error_report
from ._resume import ResumeMixin
from ._retry import RetryPolicy
from ._run import WorkflowRun
from ._run_ids import new_run_id
from ._stored_runs import stored_report
from ._supervisor import Supervisor, open_supervisor
from ._workflow import Workflow
from ._workflow_channel import WorkflowRequest, serve_inbox
from .stores._memory_store import MemoryStore
from .stores._protocol import (
    LEASE_TIME,
    LedgerStore,
    StoreUnavailableError,
)

logger = logging.getLogger("supervisors.workflow")

ReportListener = Callable[[RunReport], None]


class WorkflowSupervisor(ResumeMixin):
    """Runs workflow messages as asks to the agent actors it supervises.

    Create one with :func:`open_workflow_supervisor`. Runs are isolated: each has its
    own id, ledger and deadline, and many may run at once.
    """

    def __init__(
        self,
        actors: Supervisor,
        runs: trio.Nursery,
        *,
        workflows: Iterable[Workflow],
        on_report: ReportListener | None,
        inbox_capacity: int,
        history: LatencyHistory | None = None,
        adaptive: AdaptiveTimeouts | None = None,
        store: LedgerStore | None = None,
        live_runs: set[str] | None = None,
        keeper: LeaseKeeper | None = None,
    ) -> None:
        self.history = history if history is not None else LatencyHistory()
        self.store: LedgerStore = store if store is not None else MemoryStore()
        # Holds this supervisor's runs in the store (its owner id and heartbeat).
        self.keeper = keeper if keeper is not None else LeaseKeeper(self.store)
        self.adaptive = adaptive
        self._actors = actors
        self._runs = runs
        self._workflows: dict[str, Workflow] = {}
        self._routes: dict[str, ActorRef] = {}
        # Runs going on in this process. They share one owner (one lease) in the store,
        # and an owner may claim its own runs, so resume() checks here first;
        # supervisors that share a store in one process share this set too.
        self._live: set[str] = live_runs if live_runs is not None else set()
        self._on_report = on_report
        # Set by hand_over(): the runs cancelled from then on go back to the store.
        self.handing_over = False
        for workflow in workflows:
            self.register_workflow(workflow)
        self.inbox, self._inbox_receive = trio.open_memory_channel[WorkflowRequest](inbox_capacity)

    def hand_over(self) -> None:
        """Let another orchestrator finish this supervisor's runs, once it is closed.

        For a worker that is told to stop (SIGTERM): call it, then close the
        supervisor. Each run the close cancels is not stored as 'cancelled': it stays
        'running' and its lease is released at once, so an orchestrator recovering from
        the store takes it at its next look, with no wait for the lease to lapse. Its
        completed steps stand; a step it cut short has no record, so it is sent again
        as the same attempt, with the same idempotency key.
        """
        self.handing_over = True

    def _is_handing_over(self) -> bool:
        return self.handing_over

    @property
    def workflows(self) -> Mapping[str, Workflow]:
        """The registered workflows, by name."""
        return dict(self._workflows)

    @property
    def routes(self) -> Mapping[str, ActorRef]:
        """The actor serving each message type."""
        return dict(self._routes)

    @property
    def actors(self) -> Supervisor:
        """The supervisor of the agent actors: their restarts, for views of the system."""
        return self._actors

    @property
    def live_runs(self) -> frozenset[str]:
        """The ids of the runs going on in this process now (started or resumed)."""
        return frozenset(self._live)

    def register_workflow(self, workflow: Workflow) -> None:
        """Register (or replace) a workflow under its name."""
        if not isinstance(workflow, Workflow):
            msg = f"expected a Workflow, got {type(workflow).__name__}"
            raise TypeError(msg)
        self._workflows[workflow.name] = workflow

    async def spawn(
        self,
        factory: Callable[..., Actor],
        *args: Any,
        name: str,
        handles: Iterable[str],
        restart: Restart = Restart.PERMANENT,
        capacity: int = DEFAULT_CAPACITY,
    ) -> ActorRef:
        """Spawn an agent actor that serves the message types in ``handles``."""
        message_types = [handles] if isinstance(handles, str) else list(handles)
        ref = await self._actors.spawn(
            factory, *args, name=name, restart=restart, capacity=capacity
        )
        for message_type in message_types:
            self._routes[message_type] = ref
        return ref

    async def run(
        self,
        workflow_type: str,
        data: Any,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        prior: Mapping[str, Any] | None = None,
        on_step: StepListener | None = None,
        step_timeouts: Mapping[str, float] | None = None,
        retry: RetryPolicy | None = None,
        on_event: EventSink | None = None,
        options: RunOptions | None = None,
    ) -> RunReport:
        """Run the workflow named ``workflow_type`` on ``data`` and return its report.

        The run gets a new ``workflow_id`` and is kept in this supervisor's ``store``.
        ``timeout``, ``on_step``, ``step_timeouts``, ``retry`` and ``on_event`` are the
        run's options (:class:`RunOptions`); ``options`` gives them as one value instead.
        Step latencies go to (and come from) this supervisor's ``history``.

        Raises TypeError or ValueError for a bad ``timeout``, ``step_timeouts``, ``retry``
        or ``on_event``; every other problem (unknown workflow, data that cannot be
        stored, failed step, deadline) is in the report.
        """
        asked_at = trio.current_time()  # the timeout counts from here, storing included
        if options is None:
            options = RunOptions(
                timeout=timeout,
                step_timeouts=step_timeouts,
                retry=retry,
                on_event=on_event,
                on_step=on_step,
            )
        workflow_id = new_run_id()
        workflow = self._workflows.get(workflow_type) if isinstance(workflow_type, str) else None
        if workflow is None:
            known = ", ".join(sorted(self._workflows)) or "none"
            error = f"Unknown workflow type: {safe_repr(workflow_type)} (known: {known})"
            shown = safe_str(workflow_type)
            return self._reported(
                error_report(workflow_id, shown, options.timeout, error, ErrorType.UNKNOWN_WORKFLOW)
            )
        options.check_steps(workflow)
        try:
            await self.store.create_run(
                workflow_id,
                workflow.name,
                data,
                options.timeout,
                owner=self.keeper.owner,
                lease_time=self.keeper.lease_time,
            )
        except (TypeError, ValueError) as exc:
            error = f"Invalid workflow data: {exc}"
            return self._reported(
                error_report(
                    workflow_id, workflow.name, options.timeout, error, ErrorType.UNSTORABLE_DATA
                )
            )
        except StoreUnavailableError as exc:
            return self._unavailable(workflow_id, workflow, options, exc)
        try:
            report = await self._go(workflow, data, workflow_id, options, prior, asked_at=asked_at)
        except BaseException:
            # Cut off before it finished (cancelled): another may resume it at once.
            with trio.CancelScope(shield=True):
                await self.store.release(workflow_id, self.keeper.owner)
            raise
        return self._reported(report)

    async def _go(
        self,
        workflow: Workflow,
        data: Any,
        workflow_id: str,
        options: RunOptions,
        prior: Mapping[str, Any] | None,
        first_attempts: Mapping[str, int] | None = None,
        asked_at: float | None = None,
    ) -> RunReport:
        """Run a stored run, marked live in this process while it goes."""
        run = WorkflowRun(
            workflow,
            data,
            workflow_id=workflow_id,
            routes=self._routes,
            options=options,
            history=self.history,
            adaptive=self.adaptive,
            store=self.store,
            first_attempts=first_attempts,
            asked_at=asked_at,
            owner=self.keeper.owner,
            handed_over=self._is_handing_over,
        )
        self._live.add(workflow_id)
        # A cancel asked for through the store (from any process) cancels the run.
        self.keeper.hold(workflow_id, run.cancel_on_request)
        try:
            report = await run.go(prior or {})
            if run.cancelled_on_request:
                return await self._cancelled_report(run)
            return report
        finally:
            self.keeper.let_go(workflow_id)
            self._live.discard(workflow_id)

    async def _cancelled_report(self, run: WorkflowRun) -> RunReport:
        """The report of a run cancelled on request: as stored ('cancelled'), if it was."""
        with trio.CancelScope(shield=True):
            stored = await self.store.load_run(run.workflow_id)
        if stored is not None and stored.status == Status.CANCELLED and stored.response:
            return stored_report(stored)
        return run.cancelled_report("on request")

    async def _run_requested(self, workflow_type: str, data: Any, timeout: float) -> RunReport:
        return await self.run(workflow_type, data, timeout=timeout)

    def _unavailable(
        self,
        workflow_id: str,
        workflow: Workflow,
        options: RunOptions,
        exc: StoreUnavailableError,
    ) -> RunReport:
        """The report of a run the store could not take in time: an 'error' that says so."""
        return self._reported(
            error_report(
                workflow_id, workflow.name, options.timeout, str(exc), ErrorType.STORE_UNAVAILABLE
            )
        )

    def _reported(self, report: RunReport) -> RunReport:
        if self._on_report is not None:
            self._on_report(report)
        return report


@asynccontextmanager
async def open_workflow_supervisor(
    *,
    workflows: Iterable[Workflow] = (),
    name: str = "workflows",
    strategy: Strategy = Strategy.ONE_FOR_ONE,
    max_restarts: int = 3,
    within: float = 5.0,
    inbox_capacity: int = 100,
    on_report: ReportListener | None = None,
    history: LatencyHistory | None = None,
    adaptive: AdaptiveTimeouts | None = None,
    store: LedgerStore | None = None,
    live_runs: set[str] | None = None,
    owner: str | None = None,
    lease_time: float = LEASE_TIME,
) -> AsyncIterator[WorkflowSupervisor]:
    """Open a workflow supervisor for the body of an ``async with``.

    Spawn agent actors into it, then run workflows with ``await supervisor.run(...)``
    or send :class:`WorkflowRequest` objects into ``supervisor.inbox``. On exit, runs
    still in progress are cancelled and the agent actors stopped. Step latencies are
    kept in ``history`` (a new one by default); with ``adaptive``, steps without a
    timeout of their own get one from it. Runs are kept in ``store`` (an in-memory
    one by default), from which :meth:`WorkflowSupervisor.resume` continues them.

    Its runs are leased in the store to ``owner`` (a new id by default): the supervisor
    beats every third of ``lease_time`` while it is open, so an orchestrator elsewhere
    sharing the store neither resumes them nor recovers them until its beats stop.

    Usage::

        async with open_workflow_supervisor(workflows=[onboarding]) as supervisor:
            await supervisor.spawn(PlanAgent, name="plan", handles=["generate_plan"])
            report = await supervisor.run("plan_only", {"name": "P"}, timeout=5)
    """
    keeper = LeaseKeeper(
        store if store is not None else MemoryStore(), owner=owner, lease_time=lease_time
    )
    async with (
        open_supervisor(
            name=name, strategy=strategy, max_restarts=max_restarts, within=within
        ) as actors,
        trio.open_nursery() as runs,
    ):
        runs.start_soon(keeper.serve)
        supervisor = WorkflowSupervisor(
            actors,
            runs,
            workflows=workflows,
            on_report=on_report,
            inbox_capacity=inbox_capacity,
            history=history,
            adaptive=adaptive,
            store=keeper.store,
            live_runs=live_runs,
            keeper=keeper,
        )
        runs.start_soon(serve_inbox, supervisor._inbox_receive, runs, supervisor._run_requested)
        try:
            yield supervisor
        finally:
            runs.cancel_scope.cancel()
