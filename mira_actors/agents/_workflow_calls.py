"""The orchestrator's workflow calls: a workflow message, a resume, the MIRA step runner."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from supervisors import (
    DEFAULT_TIMEOUT,
    EventSink,
    RetryPolicy,
    RunOptions,
    StepRecord,
    WorkflowSupervisor,
)

from . import _events
from ._shared_system import SharedSystem
from ._step_records import read_step_records
from .base_agent import Response


class WorkflowCallsMixin:
    """The :class:`OrchestratorAgent`'s calls that run a workflow, new or resumed.

    Mixed into OrchestratorAgent, which holds the workflow supervisor each call runs
    on; what this takes from it is declared here.
    """

    _system: WorkflowSupervisor | None
    _shared: SharedSystem

    if TYPE_CHECKING:

        def _system_for_call(
            self,
        ) -> contextlib.AbstractAsyncContextManager[WorkflowSupervisor]: ...

    async def _execute_workflow_async(
        self,
        data: Any,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        step_timeouts: Mapping[str, float] | None = None,
        retry: RetryPolicy | None = None,
        on_event: EventSink | None = None,
    ) -> Response:
        """Run the workflow that ``data`` describes under a deadline of ``timeout`` seconds.

        ``data`` is ``{'workflow_type': str, 'data': workflow data}``; the keyword
        options are those of :meth:`process_async`.
        """
        options = RunOptions.of(
            timeout, step_timeouts=step_timeouts, retry=retry, on_event=on_event
        )
        return await self._run_workflow(data, options)

    async def _run_workflow(self, data: Any, options: RunOptions) -> Response:
        if not isinstance(data, Mapping) or not isinstance(data.get("workflow_type"), str):
            reason = "Invalid workflow message: data must be a dict with a 'workflow_type' str"
            _events.log_invalid_workflow(reason, options.timeout)
            return {
                "workflow_id": None,
                "workflow_type": None,
                "status": "error",
                "error": reason,
                "steps": [],
            }
        workflow_type = data["workflow_type"]
        if options.timeout < 1:
            _events.log_sub_second(workflow_type, options.timeout)
        workflow_data = data.get("data", {})
        if self._system is not None:  # inside running(): no context to enter per call
            report = await self._system.run(workflow_type, workflow_data, options=options)
        else:
            report = await self._shared.run(workflow_type, workflow_data, options=options)
        return report.response()

    async def resume(
        self,
        workflow_id: str,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        step_timeouts: Mapping[str, float] | None = None,
        retry: RetryPolicy | None = None,
        on_event: EventSink | None = None,
    ) -> Response:
        """Continue the run ``workflow_id`` where its ledger says, under a new deadline.

        Completed steps are not run again: their stored results feed the later steps,
        and the response lists every step in order. A run that already succeeded gives
        back its stored response. The keyword options are those of :meth:`process_async`.

        Raises:
            UnknownRunError: the store holds no such run.
            ResumeConflictError: another resume of the run is going on.
            DamagedRunError: the stored run cannot be read back.
            ValueError: a bad ``timeout``, or the run's workflow is not registered.
        """
        options = RunOptions.of(
            timeout, step_timeouts=step_timeouts, retry=retry, on_event=on_event
        )
        async with self._system_for_call() as system:
            report = await system.resume(workflow_id, options=options)
        return report.response()

    async def _run_workflow_steps_async(
        self, workflow_type: str, workflow_data: Any, results: dict[str, Any]
    ) -> dict[str, Any]:
        """Run a workflow's steps into ``results`` under the caller's own deadline.

        Steps are appended to ``results['steps']`` as each completes, so a caller that
        cancels this call keeps them. Steps already recorded there as successful are not
        run again; their results feed the later steps. Malformed records there are
        logged and treated as not completed. On return ``results`` describes this run: a
        failed step sets ``results['status'] = 'error'``, ``results['error']`` and
        ``results['failed_step']`` (as in an error response), and a 'status', 'error',
        'partial_progress' or 'failed_step' left by an earlier run is removed.
        """
        records, completed = read_step_records(
            results.get("steps"), workflow_type=str(workflow_type)
        )
        results["workflow_type"] = workflow_type
        results["steps"] = records

        def append(record: StepRecord) -> None:
            # Carried-over steps are in results already; a failed step goes under
            # 'failed_step' (as in an error response), and one cut short did not finish.
            if record.completed and not record.carried_over:
                records.append(record.as_step())

        async with self._system_for_call() as system:
            report = await system.run(
                workflow_type,
                workflow_data,
                prior=completed,
                options=RunOptions(timeout=math.inf, on_step=append),
            )
        # What an earlier run left in results (a timeout's status and partial progress,
        # an old error) no longer describes it.
        for stale in ("status", "error", "partial_progress", "failed_step"):
            results.pop(stale, None)
        results["workflow_id"] = report.workflow_id  # this run's, not an earlier one's
        if report.outcome == "error":
            results["status"] = "error"
            results["error"] = report.error
            if report.failed_step is not None:
                results["failed_step"] = report.failed_step.as_failure()
        return results
