"""A run's response as JSON text, written from its steps' results as they were recorded.

A response repeats the results of its steps, which the store encoded when each step was
recorded: encoding them again would nearly double the cost of storing a run. The
results the response holds are written from their recorded text instead.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from typing import Any

from ._json_values import encode_response


class RecordedResults:
    """The results of one run's steps as recorded: each object, with its JSON text.

    It holds the objects until the run's response is stored, so that an object in the
    response is known by identity (its id cannot be reused meanwhile).
    """

    __slots__ = ("_texts",)

    def __init__(self) -> None:
        self._texts: dict[int, tuple[Any, str]] = {}

    def add(self, result: Any, text: str) -> None:
        """Keep ``result``'s recorded ``text`` (None and numbers are not worth it)."""
        if type(result) is dict or type(result) is list:
            self._texts[id(result)] = (result, text)

    def text_of(self, value: Any) -> str | None:
        """The recorded text of ``value``, if it is a recorded result object."""
        kept = self._texts.get(id(value))
        return None if kept is None or kept[0] is not value else kept[1]


# A placeholder string no value holds: the token is secret to this process.
_MARK = f"\x00recorded-result:{secrets.token_hex(16)}:"
_ENCODED_MARK = json.dumps(_MARK)[:-1]  # as JSON text, without its closing quote


def response_text(response: Mapping[str, Any], recorded: RecordedResults) -> str:
    """Return ``response`` as JSON text, with recorded results written as recorded.

    A step's ``result`` that is a recorded object is written from its recorded text, so
    the stored response shows each result as the ledger has it.

    Raises:
        TypeError, ValueError: the response is not JSON (see ``encode_response``).
    """
    skeleton, texts = response_skeleton(response, recorded)
    return fill_in(encode_response(skeleton), texts)


def response_skeleton(
    response: Mapping[str, Any], recorded: RecordedResults
) -> tuple[Mapping[str, Any], list[str]]:
    """Return ``response`` with placeholders for its recorded results, and their texts.

    Encoded (as :func:`response_text` does, or elsewhere), :func:`fill_in` puts the texts
    in place of the placeholders.
    """
    mapping = type(response) is dict or isinstance(response, Mapping)
    steps = response.get("steps") if mapping else None
    if type(steps) is not list:
        return response, []
    texts: list[str] = []
    skeleton_steps: list[Any] = []
    for step in steps:
        text = recorded.text_of(step.get("result")) if type(step) is dict else None
        if text is None:
            skeleton_steps.append(step)
        else:
            skeleton_steps.append({**step, "result": f"{_MARK}{len(texts)}"})
            texts.append(text)
    if not texts:
        return response, []
    return {**response, "steps": skeleton_steps}, texts


def fill_in(encoded: str, texts: list[str]) -> str:
    """Put each recorded text in place of its placeholder in the encoded skeleton."""
    for index, text in enumerate(texts):
        encoded = encoded.replace(f'{_ENCODED_MARK}{index}"', text, 1)
    return encoded
