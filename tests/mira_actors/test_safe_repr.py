"""safe_repr and safe_str: short text of any value, and never an exception."""

from __future__ import annotations

from typing import Any

import pytest

from mira_actors import SAFE_REPR_LIMIT, safe_repr, safe_str


class RaisingRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


class RaisingLen:
    """Named 'list', so reprlib treats it as one; its __len__ raises."""

    def __len__(self) -> int:
        raise RuntimeError("no len")


RaisingLen.__name__ = "list"


def nested(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("abc", "'abc'"),
        (42, "42"),
        (None, "None"),
        ({"a": [1, 2]}, "{'a': [1, 2]}"),
        (10**5000, "<int of 16610 bits>"),
        (-(10**5000), "<int of 16610 bits>"),
        (nested(100_000), "[[[[...]]]]"),
        ("x" * 5_000_000, "'" + "x" * (SAFE_REPR_LIMIT - 1) + "..."),
        (RaisingLen(), "<list object>"),
    ],
    ids=["str", "int", "None", "dict", "huge int", "huge negative int", "deep", "5 MB", "len"],
)
def test_safe_repr_is_short_and_exact(value: Any, expected: str) -> None:
    """Small values are shown whole; huge, deep or hostile ones as a short stand-in."""
    assert safe_repr(value) == expected


def test_safe_repr_survives_a_raising_repr() -> None:
    """An object whose __repr__ raises is named by its class, and nothing is raised."""
    assert safe_repr(RaisingRepr()).startswith("<RaisingRepr instance at 0x")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("shout", "shout"),
        (42, "42"),
        ("y" * 1000, "y" * SAFE_REPR_LIMIT + "..."),
        (10**5000, "<int of 16610 bits>"),
    ],
    ids=["str", "int", "long str", "huge int"],
)
def test_safe_str_shows_a_short_str_as_it_is(value: Any, expected: str) -> None:
    """A short str is itself (no quotes); a long one is cut; other values are safe_repr."""
    assert safe_str(value) == expected


def test_limit_bounds_the_length() -> None:
    """The text is at most ``limit`` characters and an ellipsis."""
    assert safe_repr(list(range(1000)), limit=10) == "[0, 1, 2, ..."
    assert len(safe_repr(list(range(1000)))) <= SAFE_REPR_LIMIT + 3
