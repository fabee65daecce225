"""Bounded text of untrusted values: what a page or an API answer may show of them."""

from __future__ import annotations

import json
from typing import Any

# How much of a value's text a reply shows: enough to read, never the whole of a huge one.
SHORT = 100
PREVIEW = 2000
# The largest result (as JSON text) the API gives whole; a larger one comes as a preview.
API_RESULT = 16_000

_ENCODER = json.JSONEncoder(indent=2, ensure_ascii=False, allow_nan=True, sort_keys=False)


def short(value: Any, limit: int = SHORT) -> str:
    """Return ``value`` as text of at most ``limit`` characters, with an ellipsis if cut."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def json_preview(value: Any, limit: int = PREVIEW) -> tuple[str, bool]:
    """Return the start of ``value`` as indented JSON, and whether it was cut.

    The encoder stops once ``limit`` characters are out, so a huge value costs no more
    than its first ``limit`` characters.
    """
    chunks, size = [], 0
    try:
        for chunk in _ENCODER.iterencode(value):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                return "".join(chunks)[:limit] + "…", True
    except (TypeError, ValueError, RecursionError):  # stored values are JSON; in case not
        return short(value, limit), True
    return "".join(chunks), False
