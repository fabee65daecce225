"""Checks on the shape of agent input; each error names the field and the rule."""

from __future__ import annotations

import math
from typing import Any


def require_dict(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        msg = f"{what} must be a dict, got {type(value).__name__}"
        raise TypeError(msg)
    return value


def require_list(value: object, what: str) -> list[Any]:
    if not isinstance(value, list):
        msg = f"{what} must be a list, got {type(value).__name__}"
        raise TypeError(msg)
    return value


def require_str(value: object, what: str) -> str:
    if not isinstance(value, str):
        msg = f"{what} must be a str, got {type(value).__name__}"
        raise TypeError(msg)
    return value


def require_weeks(value: object, what: str) -> int | float:
    # bool is an int subclass, but True weeks is a caller's mistake, not a duration.
    if isinstance(value, bool) or not isinstance(value, int | float):
        msg = f"{what} must be a number, got {type(value).__name__}"
        raise TypeError(msg)
    if isinstance(value, float) and not math.isfinite(value):
        msg = f"{what} must be finite, got {value}"
        raise ValueError(msg)
    if value < 0:
        msg = f"{what} must be non-negative, got {value}"
        raise ValueError(msg)
    return value
