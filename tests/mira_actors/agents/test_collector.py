"""A big partial result freed a slice at a time."""

from __future__ import annotations

from typing import Any

from mira_actors.agents._collector import free_in_slices


def test_free_in_slices_empties_the_list() -> None:
    """Every item is freed, however the length falls against the slice."""
    items: list[Any] = [{"n": n} for n in range(12_345)]
    free_in_slices(items)
    assert items == []
