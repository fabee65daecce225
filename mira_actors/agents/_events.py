"""The orchestrator's structured log events: names, types and counts, never payloads."""

from __future__ import annotations

import logging
import sys
from typing import Any

from mira_actors import safe_str
from supervisors import RunReport

logger = logging.getLogger("mira_actors.agents.orchestrator")


def _log(level: int, msg: str, args: tuple[Any, ...], extra: dict[str, Any]) -> None:
    """Log as ``logger.log(level, msg, *args, extra=extra)`` does, from the caller's line.

    The same record, through the same record factory, handlers and filters, but for
    Logger._log's walk up the stack to find its caller: the caller is this function's.
    At a burst of timeouts that walk is a fifth of each run's log record.
    """
    if not logger.isEnabledFor(level):
        return
    if type(logger) is not logging.Logger:  # a custom logger class may log its own way
        logger.log(level, msg, *args, extra=extra, stacklevel=2)
        return
    if logging._srcfile is None:  # the application turned caller lookup off
        path, line, function = "(unknown file)", 0, "(unknown function)"
    else:
        caller = sys._getframe(1)
        code = caller.f_code
        path, line, function = code.co_filename, caller.f_lineno, code.co_name
    record = logger.makeRecord(
        logger.name, level, path, line, msg, args, None, function, extra, None
    )
    logger.handle(record)


def log_run(report: RunReport) -> None:
    """Log how a workflow run ended: workflow_completed, workflow_timeout or workflow_error."""
    outcome = report.outcome
    if outcome == "success" and not logger.isEnabledFor(logging.INFO):
        return  # the usual case: nothing to build
    completed = report.completed_steps
    fields: dict[str, Any] = {
        "workflow_id": report.workflow_id,
        "workflow_type": report.workflow_type,
        "message_type": "workflow",
        "timeout_seconds": report.timeout,
        "completed_steps_count": len(completed),
        "completed_steps": completed,
    }
    if outcome == "success":
        _log(logging.INFO, "workflow completed", (), {"event_type": "workflow_completed", **fields})
    elif outcome == "timeout":
        _log(
            logging.ERROR,
            "workflow timed out (%s)",
            (report.error_type,),
            {
                "event_type": "workflow_timeout",
                "error_type": report.error_type,
                "timed_out_steps": report.timed_out_steps,
                **fields,
            },
        )
    else:
        # The one text a log may carry is the failed run's exception (cut short, and
        # only an exception's: an agent's failure answer can quote its input).
        failed = report.failed_step
        if report.exception is not None:
            exception = report.exception
        elif failed is not None:
            exception = f"step {failed.step!r} failed"
        else:
            exception = str(report.error_type)
        logger.error(
            "workflow failed (%s)",
            report.error_type,
            extra={
                "event_type": "workflow_error",
                "error_type": None if report.error_type is None else str(report.error_type),
                "exception": exception,
                **fields,
            },
        )


def log_invalid_workflow(reason: str, timeout: float) -> None:
    """Log a workflow message rejected before it ran (reason names the rule, not data)."""
    logger.error(
        "workflow message rejected: %s",
        reason,
        extra={
            "event_type": "workflow_error",
            "error_type": "invalid_workflow_message",
            "exception": reason,
            "message_type": "workflow",
            "timeout_seconds": timeout,
            "workflow_type": None,
            "completed_steps_count": 0,
            "completed_steps": [],
        },
    )


def log_sub_second(workflow_type: str | None, timeout: float) -> None:
    """Warn that a timeout under one second may expire before any step finishes."""
    logger.warning(
        "timeout of %s seconds is under one second; the run may time out at once",
        timeout,
        extra={
            "warning_type": "sub_second_timeout",
            # Logged before the workflow is looked up: it may be any caller's text.
            "workflow_type": None if workflow_type is None else safe_str(workflow_type),
            "timeout_seconds": timeout,
        },
    )


def log_message_timeout(message_type: str, agent: str, timeout: float) -> None:
    """Log a non-workflow message whose agent did not answer in time."""
    logger.error(
        "message timed out after %s seconds",
        timeout,
        extra={
            "event_type": "message_timeout",
            "message_type": message_type,
            "agent": agent,
            "timeout_seconds": timeout,
        },
    )
