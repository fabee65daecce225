"""The workflow supervisor: agent actors, workflows, and runs by call or by channel."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import attrs
import trio

from mira_actors import DEFAULT_CAPACITY, Actor, ActorRef

from ._policy import Restart, Strategy
from ._run import RunReport, StepListener, check_timeout, error_report, run_workflow
from ._supervisor import Supervisor, open_supervisor
from ._workflow import Workflow

logger = logging.getLogger("supervisors.workflow")

DEFAULT_TIMEOUT = 30.0
ReportListener = Callable[[RunReport], None]


def _check_reply_to(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    # Checked when the request is made, so the producer gets the error, not the supervisor.
    if not isinstance(value, trio.abc.SendChannel):
        msg = f"reply_to must be a trio send channel, got {type(value).__name__}"
        raise TypeError(msg)


@attrs.frozen(kw_only=True, eq=False)
class WorkflowRequest:
    """A workflow message sent over a channel, with where to send the reply.

    Attributes:
        workflow_type: The workflow's name.
        data: The workflow data.
        reply_to: Where the :class:`WorkflowReply` goes.
        timeout: The run's deadline, in seconds from when the run starts.
        tag: Anything the producer wants back with the reply, to match them up.
    """

    workflow_type: str
    data: Any
    reply_to: trio.MemorySendChannel[WorkflowReply] = attrs.field(validator=_check_reply_to)
    timeout: float = DEFAULT_TIMEOUT
    tag: Any = None


@attrs.frozen(kw_only=True, eq=False)
class WorkflowReply:
    """The answer to one :class:`WorkflowRequest`.

    Attributes:
        request: The request answered, as it was sent.
        response: The MIRA response (success, timeout or error shape).
        report: The run's report, with its ledger.
    """

    request: WorkflowRequest
    response: dict[str, Any]
    report: RunReport


class WorkflowSupervisor:
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
    ) -> None:
        self._actors = actors
        self._runs = runs
        self._workflows: dict[str, Workflow] = {}
        self._routes: dict[str, ActorRef] = {}
        self._on_report = on_report
        for workflow in workflows:
            self.register_workflow(workflow)
        self.inbox, self._inbox_receive = trio.open_memory_channel[WorkflowRequest](inbox_capacity)

    @property
    def workflows(self) -> Mapping[str, Workflow]:
        """The registered workflows, by name."""
        return dict(self._workflows)

    @property
    def routes(self) -> Mapping[str, ActorRef]:
        """The actor serving each message type."""
        return dict(self._routes)

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
    ) -> RunReport:
        """Run the workflow named ``workflow_type`` on ``data`` and return its report.

        Raises TypeError or ValueError for a bad ``timeout``; every other problem
        (unknown workflow, failed step, deadline) is in the report.
        """
        timeout = check_timeout(timeout)
        workflow_id = uuid.uuid4().hex
        workflow = self._workflows.get(workflow_type) if isinstance(workflow_type, str) else None
        if workflow is None:
            known = ", ".join(sorted(self._workflows)) or "none"
            report = error_report(
                workflow_id,
                workflow_type if isinstance(workflow_type, str) else repr(workflow_type),
                timeout,
                f"Unknown workflow type: {workflow_type!r} (known: {known})",
                "unknown_workflow",
            )
        else:
            report = await run_workflow(
                workflow,
                data,
                routes=self._routes,
                timeout=timeout,
                workflow_id=workflow_id,
                prior=prior,
                on_step=on_step,
            )
        if self._on_report is not None:
            self._on_report(report)
        return report

    async def _serve_inbox(self) -> None:
        async with self._inbox_receive:
            async for request in self._inbox_receive:
                if not isinstance(request, WorkflowRequest):
                    # There is no reply channel to answer on, and one bad message must not
                    # take down the runs of every other producer: log its type and drop it.
                    logger.error(
                        "workflow request dropped: expected a WorkflowRequest, got %s",
                        type(request).__name__,
                        extra={"error_type": "invalid_request"},
                    )
                    continue
                self._runs.start_soon(self._answer, request)

    async def _answer(self, request: WorkflowRequest) -> None:
        try:
            report = await self.run(request.workflow_type, request.data, timeout=request.timeout)
        except (TypeError, ValueError) as exc:
            report = error_report(
                uuid.uuid4().hex, str(request.workflow_type), 0.0, str(exc), "invalid_timeout"
            )
        reply = WorkflowReply(request=request, response=report.response(), report=report)
        try:
            await request.reply_to.send(reply)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            # The producer has gone; nobody is left to tell.
            logger.warning(
                "workflow reply dropped: the reply channel is closed",
                extra={"workflow_id": report.workflow_id},
            )


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
) -> AsyncIterator[WorkflowSupervisor]:
    """Open a workflow supervisor for the body of an ``async with``.

    Spawn agent actors into it, then run workflows with ``await supervisor.run(...)``
    or send :class:`WorkflowRequest` objects into ``supervisor.inbox``. On exit, runs
    still in progress are cancelled and the agent actors stopped.

    Usage::

        async with open_workflow_supervisor(workflows=[onboarding]) as supervisor:
            await supervisor.spawn(PlanAgent, name="plan", handles=["generate_plan"])
            report = await supervisor.run("plan_only", {"name": "P"}, timeout=5)
    """
    async with (
        open_supervisor(
            name=name, strategy=strategy, max_restarts=max_restarts, within=within
        ) as actors,
        trio.open_nursery() as runs,
    ):
        supervisor = WorkflowSupervisor(
            actors, runs, workflows=workflows, on_report=on_report, inbox_capacity=inbox_capacity
        )
        runs.start_soon(supervisor._serve_inbox)
        try:
            yield supervisor
        finally:
            runs.cancel_scope.cancel()
