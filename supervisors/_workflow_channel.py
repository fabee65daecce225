"""The workflow supervisor's channel: requests into its inbox, each answered on its reply_to."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import trio

from mira_actors import safe_repr, safe_str

from ._ledger import ErrorType
from ._options import DEFAULT_TIMEOUT
from ._report import RunReport, check_timeout, error_report
from ._run_ids import new_run_id

logger = logging.getLogger("supervisors.workflow")

RunRequested = Callable[[str, Any, float], Awaitable[RunReport]]
"""Runs a workflow by type, data and timeout: the supervisor's ``run``."""


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


async def serve_inbox(
    inbox: trio.MemoryReceiveChannel[WorkflowRequest], runs: trio.Nursery, run: RunRequested
) -> None:
    """Answer every request that arrives in ``inbox``, each in a task of ``runs``."""
    async with inbox:
        async for request in inbox:
            if not isinstance(request, WorkflowRequest):
                # There is no reply channel to answer on, and one bad message must not
                # take down the runs of every other producer: log its type and drop it.
                logger.error(
                    "workflow request dropped: expected a WorkflowRequest, got %s",
                    type(request).__name__,
                    extra={"error_type": "invalid_request"},
                )
                continue
            runs.start_soon(answer, request, run)


async def answer(request: WorkflowRequest, run: RunRequested) -> None:
    """Run ``request`` and send its reply; whatever its values, never raise."""
    # One producer's request, whatever its values, must not end the runs of others:
    # every exception becomes the error reply (trio.Cancelled is not an Exception).
    try:
        report = await _run_request(request, run)
    except Exception as exc:
        report = error_report(
            new_run_id(),
            safe_str(getattr(request, "workflow_type", None)),
            0.0,
            f"The workflow request could not be run: {safe_repr(exc)}",
            ErrorType.INVALID_REQUEST,
        )
        # No traceback: its exception messages may quote the request's values.
        logger.error(  # noqa: TRY400
            "workflow request failed: %s",
            type(exc).__name__,
            extra={"workflow_id": report.workflow_id, "error_type": "invalid_request"},
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
    except Exception as exc:  # a reply channel of the producer's own that failed
        logger.error(  # noqa: TRY400 - as above
            "workflow reply dropped: the reply channel raised %s",
            type(exc).__name__,
            extra={"workflow_id": report.workflow_id, "error_type": "invalid_reply_to"},
        )


async def _run_request(request: WorkflowRequest, run: RunRequested) -> RunReport:
    try:
        timeout = check_timeout(request.timeout)
    except (TypeError, ValueError) as exc:
        return error_report(
            new_run_id(),
            safe_str(request.workflow_type),
            0.0,
            str(exc),
            ErrorType.INVALID_TIMEOUT,
        )
    return await run(request.workflow_type, request.data, timeout)
