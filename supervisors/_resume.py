"""Resuming a stored run: the workflow supervisor continues it where its ledger ends."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import trio

from ._events import EventSink
from ._leases import LeaseKeeper
from ._ledger import Status
from ._options import DEFAULT_TIMEOUT, RunOptions, StepListener
from ._report import RunReport
from ._retry import RetryPolicy
from ._stored_runs import next_attempts, stored_report
from ._workflow import Workflow
from .stores._protocol import (
    LedgerStore,
    ResumeConflictError,
    StoredRun,
    StoreUnavailableError,
    UnknownRunError,
)


class ResumeMixin:
    """The :class:`WorkflowSupervisor`'s :meth:`resume` of a run from the store.

    Mixed into WorkflowSupervisor, which holds the state and runs the run; what this
    takes from it is declared here.
    """

    store: LedgerStore
    keeper: LeaseKeeper
    _workflows: dict[str, Workflow]
    _live: set[str]

    if TYPE_CHECKING:

        async def _go(
            self,
            workflow: Workflow,
            data: Any,
            workflow_id: str,
            options: RunOptions,
            prior: Mapping[str, Any] | None,
            first_attempts: Mapping[str, int] | None = None,
            asked_at: float | None = None,
        ) -> RunReport: ...

        def _unavailable(
            self,
            workflow_id: str,
            workflow: Workflow,
            options: RunOptions,
            exc: StoreUnavailableError,
        ) -> RunReport: ...

        def _reported(self, report: RunReport) -> RunReport: ...

    async def resume(
        self,
        workflow_id: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        on_step: StepListener | None = None,
        step_timeouts: Mapping[str, float] | None = None,
        retry: RetryPolicy | None = None,
        on_event: EventSink | None = None,
        options: RunOptions | None = None,
    ) -> RunReport:
        """Continue a stored run that timed out, failed or crashed, under a new deadline.

        Its completed steps are not run again (their stored results feed later steps);
        the rest run under ``timeout``, and the report lists every step in order. A run
        that already succeeded gives back its stored report. The options are as for
        :meth:`run`. A store that stays locked for all of ``timeout`` gives an 'error'
        report (error_type 'store_unavailable') by then, as a new run does.

        Raises:
            UnknownRunError: the store holds no run with this id.
            ResumeConflictError: another resume of this run is going on, or its first
                start is still going on in this supervisor.
            DamagedRunError: the stored run cannot be read back.
            ValueError: the run's workflow is not registered here (or a bad option).
        """
        if options is None:
            options = RunOptions(
                timeout=timeout,
                step_timeouts=step_timeouts,
                retry=retry,
                on_event=on_event,
                on_step=on_step,
            )
        stored = await self._load(workflow_id)
        if stored.status == Status.SUCCESS and stored.response is not None:
            return self._reported(stored_report(stored))
        workflow = self._workflows.get(stored.workflow_type)
        if workflow is None:
            msg = (
                f"run {workflow_id!r} is a {stored.workflow_type!r} workflow, which is not "
                f"registered here; register it, then resume"
            )
            raise ValueError(msg)
        options.check_steps(workflow)
        if workflow_id in self._live:
            raise ResumeConflictError(workflow_id)
        owner = self.keeper.owner
        self._live.add(workflow_id)  # before the claim: this owner may claim its own runs
        try:
            claimed = await self.store.claim(
                workflow_id, owner, timeout=options.timeout, lease_time=self.keeper.lease_time
            )
        except StoreUnavailableError as exc:
            # Locked all the resume's time: an answer by its deadline, as for a new run.
            self._live.discard(workflow_id)
            return self._unavailable(workflow_id, workflow, options, exc)
        except BaseException:
            self._live.discard(workflow_id)
            raise
        if not claimed:
            self._live.discard(workflow_id)
            stored = await self._load(workflow_id)
            if stored.status == Status.SUCCESS and stored.response is not None:
                return self._reported(stored_report(stored))  # the other resume finished it
            raise ResumeConflictError(workflow_id)
        try:
            try:
                stored = await self._load(workflow_id)  # as of the claim
            finally:
                self._live.discard(workflow_id)  # _go marks it live again at once
            report = await self._go(
                workflow,
                stored.data,
                workflow_id,
                options,
                stored.results,
                first_attempts=next_attempts(stored),
            )
        finally:
            with trio.CancelScope(shield=True):
                await self.store.release(workflow_id, owner)
        return self._reported(report)

    async def _load(self, workflow_id: str) -> StoredRun:
        stored = await self.store.load_run(workflow_id)
        if stored is None:
            raise UnknownRunError(workflow_id)
        return stored
