"""Bounded text of untrusted values."""

from __future__ import annotations

from mira_actors.web._bounded import json_preview, short


def test_short_cuts_long_text_with_an_ellipsis() -> None:
    """Text over the limit is cut to the limit, ending in an ellipsis; short text is kept."""
    assert short("x" * 500) == "x" * 99 + "…"
    assert short("fine") == "fine"
    assert short(["a"], limit=10) == "['a']"


def test_json_preview_stops_at_the_limit() -> None:
    """A huge value's preview is its first characters, and says it was cut."""
    text, cut = json_preview({"rows": ["r" * 100] * 10_000}, limit=300)
    assert cut is True
    assert len(text) == 301
    assert text.startswith('{\n  "rows": [\n    "rrr')
    assert json_preview({"a": 1}, limit=300) == ('{\n  "a": 1\n}', False)
