"""JSON of big values made a piece at a time: the same text, the same errors."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from supervisors.stores._json_pieces import SLICE, is_small, json_pieces
from supervisors.stores._json_values import EncodingStopped, encode_json, encode_json_in_pieces

ENCODE = json.JSONEncoder(allow_nan=False, separators=(",", ":")).encode


def plan(goals: int) -> dict[str, Any]:
    """A plan-shaped value: lists of small dicts, big enough to be encoded in pieces."""
    return {
        "name": "Big \u00e9\u4e2d",
        "milestones": [{"id": f"M{i}", "deliverables": [f"D {i}"]} for i in range(goals)],
        "tasks": [{"id": f"T{i}", "hours": 8.5, "done": i % 2 == 0} for i in range(3 * goals)],
        "nested": [[{"n": n} for n in range(SLICE * 3)] for _ in range(3)],
        "tuple": tuple(range(SLICE * 25)),
        "numbers": {1: "one", 2.5: "two and a half", None: "none", False: "no"},
    }


@pytest.mark.parametrize(
    "value",
    [plan(10_000), [plan(1_000)] * 3, list(range(SLICE * 30 + 7)), {"a": [None] * 30_001}],
)
def test_pieces_join_to_the_encoders_text(value: Any) -> None:
    """Joined, the pieces of a big value are exactly the C encoder's text."""
    assert not is_small(value)
    assert "".join(json_pieces(value, ENCODE)) == ENCODE(value)


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        ({1, 2}, TypeError),
        (math.nan, ValueError),
        (object(), TypeError),
    ],
)
def test_a_value_json_cannot_hold_fails_as_encode_json_does(bad: Any, error: type) -> None:
    """A bad item deep in a big value raises the error encode_json raises for it."""
    value = {"tasks": [{"n": n} for n in range(30_000)] + [{"bad": bad}]}
    with pytest.raises(error, match="cannot be stored") as pieced:
        encode_json_in_pieces(value, "the value", stopped=lambda: False)
    with pytest.raises(error) as whole:
        encode_json(value, "the value")
    assert type(pieced.value) is type(whole.value)


def test_a_circular_big_value_is_a_value_error() -> None:
    """A big list that holds itself fails with ValueError, never a crash or a hang."""
    value: list[Any] = list(range(30_000))
    value.append(value)
    with pytest.raises(ValueError, match="cannot be stored"):
        encode_json_in_pieces(value, "the value", stopped=lambda: False)


def test_encoding_stops_once_its_waiter_gives_up() -> None:
    """stopped() true: the encoding raises EncodingStopped at its next piece."""
    with pytest.raises(EncodingStopped):
        encode_json_in_pieces(plan(10_000), "the value", stopped=lambda: True)
