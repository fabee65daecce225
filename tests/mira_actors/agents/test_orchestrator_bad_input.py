"""Values from a caller that no response or log may copy whole, and that raise nothing else."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.mira_actors.agents.orchestrators import make


def nested(depth: int) -> Any:
    value: Any = "t"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("message_type", "error"),
    [
        (10**5000, "Unknown message type: <int of 16610 bits>"),
        (nested(1000), "Unknown message type: [[[[...]]]]"),
        ("y" * 5_000_000, "Unknown message type: " + "y" * 100 + "..."),
    ],
    ids=["huge int", "1000 deep", "5 MB"],
)
async def test_unroutable_type_gets_a_short_error(message_type: Any, error: str) -> None:
    """A huge, deep or long message type gets a short error response, not an exception."""
    response = await make().process_async({"type": message_type, "data": {}})
    assert response["status"] == "error"
    assert response["error"] == error


@pytest.mark.parametrize("timeout", [30, 0.5], ids=["timeout 30", "sub-second timeout"])
async def test_unknown_workflow_type_is_logged_short(
    caplog: pytest.LogCaptureFixture, timeout: float
) -> None:
    """An unknown 1 MB workflow type is cut short in the response and in every log record."""
    caplog.set_level(logging.INFO)
    message = {"type": "workflow", "data": {"workflow_type": "w" * 1_000_000, "data": {}}}
    response = await make().process_async(message, timeout)
    assert response["workflow_type"] == "w" * 100 + "..."
    assert response["error"].startswith("Unknown workflow type: '" + "w" * 99 + "...")
    assert len(response["error"]) < 200
    logged = [len(repr(vars(record))) for record in caplog.records]
    assert logged
    assert max(logged) < 2_000


@pytest.mark.parametrize("where", ["run", "step"])
async def test_timeout_too_large_for_a_float_is_a_value_error(where: str) -> None:
    """An int timeout past a float's range is a ValueError saying so, not an OverflowError."""
    message = {"type": "workflow", "data": {"workflow_type": "project_initialization"}}
    options: dict[str, Any] = (
        {"timeout": 10**400} if where == "run" else {"step_timeouts": {"generate_plan": 10**400}}
    )
    with pytest.raises(ValueError, match=r"^Timeout is too large, got <int of 1329 bits>; use"):
        await make().process_async(message, **options)
