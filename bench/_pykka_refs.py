"""The pykka references: tell and ask to one ``ThreadingActor``, as pykka's users write it."""

from __future__ import annotations

import threading
from typing import Any

import pykka

from ._harness import now


class _Counter(pykka.ThreadingActor):
    """Counts the messages it receives and sets ``done`` at the ``n``-th."""

    def __init__(self, n: int, done: threading.Event) -> None:
        super().__init__()
        self.n = n
        self.count = 0
        self.done = done

    def on_receive(self, message: Any) -> None:
        self.count += 1
        if self.count == self.n:
            self.done.set()


class _Echo(pykka.ThreadingActor):
    """Replies with the message it received."""

    def on_receive(self, message: Any) -> Any:
        return message


def pykka_tell(n: int) -> float:
    """Tell ``n`` messages to one pykka actor; return seconds until all are handled."""
    done = threading.Event()
    ref = _Counter.start(n, done)
    try:
        start = now()
        for i in range(n):
            ref.tell(i)
        done.wait()
        return now() - start
    finally:
        ref.stop()


def pykka_ask(n: int) -> float:
    """Make ``n`` sequential asks to one pykka actor; return the seconds they took."""
    ref = _Echo.start()
    try:
        start = now()
        for i in range(n):
            if ref.ask(i) != i:
                msg = f"pykka ask got the wrong reply for {i!r}"
                raise AssertionError(msg)
        return now() - start
    finally:
        ref.stop()
