"""Reading step records that come from outside: validated, logged, never trusted."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

logger = logging.getLogger("mira_actors.agents.steps")


def read_step_records(
    steps: Any, *, workflow_type: str
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Split outside step records into the well-formed ones and the completed results.

    Returns ``(records, completed)``: the well-formed ``{step, status, result, attempts}``
    records in order, and each successful step's result by name. A malformed list or
    record is logged (error_type 'invalid_steps_format', 'invalid_step_format' or
    'step_extraction_failed', with positions and type names, never contents) and left
    out, so it counts as not completed.
    """
    if steps is None:
        return [], {}
    if not isinstance(steps, list):
        logger.warning(
            "step records are not a list; treating every step as not completed",
            extra={
                "error_type": "invalid_steps_format",
                "workflow_type": workflow_type,
                "steps_type": type(steps).__name__,
            },
        )
        return [], {}
    records: list[dict[str, Any]] = []
    completed: dict[str, Any] = {}
    for index, step in enumerate(steps):
        try:
            if not (
                isinstance(step, Mapping)
                and isinstance(step.get("step"), str)
                and isinstance(step.get("status"), str)
            ):
                logger.warning(
                    "malformed step record; treating it as not completed",
                    extra={
                        "error_type": "invalid_step_format",
                        "workflow_type": workflow_type,
                        "step_index": index,
                        "step_type": type(step).__name__,
                    },
                )
                continue
            attempts = step.get("attempts", 0)
            record = {
                "step": step["step"],
                "status": step["status"],
                "result": step.get("result"),
                # Kept from the earlier run; a record from before attempts were counted has 0.
                "attempts": attempts if type(attempts) is int and attempts >= 0 else 0,
            }
        except Exception as exc:  # a hostile Mapping may raise anything; it is just not completed
            logger.warning(
                "could not read a step record; treating it as not completed",
                extra={
                    "error_type": "step_extraction_failed",
                    "workflow_type": workflow_type,
                    "step_index": index,
                    "exception_type": type(exc).__name__,
                },
            )
            continue
        records.append(record)
        if record["status"] == "success":
            completed[record["step"]] = record["result"]
    return records, completed
