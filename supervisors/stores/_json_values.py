"""Values as a ledger store keeps them: JSON text, or a clear error naming what could not be."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

try:
    from _json import make_encoder
except ImportError:  # pragma: no cover - not CPython: JSONEncoder's own way
    make_encoder = None  # type: ignore[assignment,misc]

from .._ledger import StepRecord
from ._json_pieces import json_pieces


def _encoder(*, allow_nan: bool) -> Callable[[Any], str]:
    """Return ``JSONEncoder(allow_nan=allow_nan, separators=(",", ":")).encode``, cheaper.

    JSONEncoder.encode and iterencode are two Python calls and a closure around the C
    encoder they make; made here directly, a small value (a step's result, a run's
    response) encodes in a sixth less time. Each call has its own ``markers``, as
    JSONEncoder's, so circular references are refused alike, and in any thread.
    """
    plain = json.JSONEncoder(allow_nan=allow_nan, separators=(",", ":"))
    if make_encoder is None:  # an interpreter without the C accelerator
        return plain.encode
    default, escape = plain.default, json.encoder.encode_basestring_ascii

    def encode(value: Any) -> str:
        chunks = make_encoder({}, default, escape, None, ":", ",", False, False, allow_nan)(
            value, 0
        )
        return "".join(chunks)

    return encode


_ENCODE = _encoder(allow_nan=False)
_ENCODE_ALLOWING_NAN = _encoder(allow_nan=True)


def encode_json(value: Any, what: str, *, allow_nan: bool = False) -> str:
    """Return ``value`` as JSON text, or raise naming ``what`` could not be stored.

    Raises:
        TypeError: a value of a type JSON cannot hold (a set, an object, a non-str key).
        ValueError: NaN or infinity (unless ``allow_nan``), a circular reference, or
            nesting too deep to encode.
    """
    try:
        return (_ENCODE_ALLOWING_NAN if allow_nan else _ENCODE)(value)
    except (TypeError, ValueError, RecursionError) as exc:
        raise _unstorable(what, exc) from exc


def encode_json_in_pieces(
    value: Any, what: str, *, allow_nan: bool = False, stopped: Callable[[], bool]
) -> str:
    """Return :func:`encode_json`'s text, made a piece at a time, for a big value.

    Off the trio thread: between pieces the interpreter may switch threads, and once
    ``stopped()`` is true the encoding stops with :class:`EncodingStopped`.
    """
    encode = _ENCODE_ALLOWING_NAN if allow_nan else _ENCODE
    pieces = []
    try:
        for piece in json_pieces(value, encode):
            if stopped():
                raise EncodingStopped
            pieces.append(piece)
    except (TypeError, ValueError, RecursionError) as exc:
        raise _unstorable(what, exc) from exc
    return "".join(pieces)


class EncodingStopped(Exception):
    """Raised by :func:`encode_json_in_pieces` once its waiter has given up."""


def _unstorable(what: str, exc: BaseException) -> TypeError | ValueError:
    msg = f"{what} cannot be stored: a ledger store keeps JSON values only ({exc})"
    return TypeError(msg) if isinstance(exc, TypeError) else ValueError(msg)


def encode_result(record: StepRecord) -> str:
    """Return the record's result as JSON text, or raise naming the step."""
    result = record.result
    if result is None:  # a step cut short or failed: every timed-out run has one
        return "null"
    try:
        return _ENCODE(result)
    except (TypeError, ValueError, RecursionError) as exc:
        what = f"the result of step {record.step!r}"  # made only for the error
        raise _unstorable(what, exc) from exc


def encode_response(response: Mapping[str, Any]) -> str:
    """Return a run's response as JSON text.

    Infinity is allowed: a run with no deadline (``math.inf``) whose step timed out
    reports ``timeout_seconds: inf``. The results inside were checked strictly when
    their steps were recorded.
    """
    if type(response) is not dict:  # the usual dict is encoded as it is, not copied
        if not isinstance(response, Mapping):
            msg = f"a run's response must be a dict, got {type(response).__name__}"
            raise TypeError(msg)
        response = dict(response)
    return encode_json(response, "the run's response", allow_nan=True)
