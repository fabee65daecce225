"""Request headers: what an asker tells the handler about a request, beside the message."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType
from typing import Any

EMPTY: Mapping[str, Any] = MappingProxyType({})

# Set by the actor loop while a handler serves a request that came with headers.
_current = contextvars.ContextVar("mira_actors_request_headers", default=EMPTY)


def request_headers() -> Mapping[str, Any]:
    """Return the headers of the request being handled (empty when there are none).

    A workflow step's ask carries ``workflow_id``, ``step``, ``attempt`` and
    ``idempotency_key``; an agent with side effects can deduplicate on the key.
    """
    return _current.get()


@contextmanager
def using_headers(headers: Mapping[str, Any]) -> Iterator[None]:
    """Make :func:`request_headers` return ``headers`` inside the block.

    The actor loop does this for every request; a backend that runs a step elsewhere (a
    worker thread or process) does it there.
    """
    token = _current.set(MappingProxyType(dict(headers)))
    try:
        yield
    finally:
        _current.reset(token)


def set_headers(headers: Mapping[str, Any]) -> contextvars.Token[Mapping[str, Any]]:
    """Set the current headers (the actor loop's fast path); undo with :func:`reset_headers`."""
    return _current.set(headers)


def reset_headers(token: contextvars.Token[Mapping[str, Any]]) -> None:
    """Undo :func:`set_headers`."""
    _current.reset(token)
