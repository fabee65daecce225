"""The orchestrator's structured log events: names, types and counts, never payloads."""

from __future__ import annotations

import logging
from typing import Any

from mira_actors import safe_str
from supervisors import RunReport

logger = logging.getLogger("mira_actors.agents.orchestrator")


def log_run(report: RunReport) -> None:
    """Log how a workflow run ended: workflow_completed, workflow_timeout or workflow_error."""
    if report.outcome == "success" and not logger.isEnabledFor(logging.INFO):
        return  # the usual case: nothing to build
    fields: dict[str, Any] = {
        "workflow_id": report.workflow_id,
        "workflow_type": report.workflow_type,
        "message_type": "workflow",
        "timeout_seconds": report.timeout,
        "completed_steps_count": len(report.completed_steps),
        "completed_steps": report.completed_steps,
    }
    if report.outcome == "success":
        logger.info("workflow completed", extra={"event_type": "workflow_completed", **fields})
    elif report.outcome == "timeout":
        logger.error(
            "workflow timed out (%s)",
            report.error_type,
            extra={
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
