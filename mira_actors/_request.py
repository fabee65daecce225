"""The envelope of an ``ask``: the message, the asker's deadline, and the reply slot."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import trio

from .instrumentation import AskTrace


class Request:
    """One ask in flight, shared by the asker and the actor serving it.

    The asker's deadline travels with the request, so the handler runs under it; when
    the asker gives up, it marks the request abandoned and cancels the handler's scope.
    """

    __slots__ = (
        "_done",
        "_error",
        "_value",
        "abandoned",
        "deadline",
        "headers",
        "message",
        "scope",
        "trace",
    )

    def __init__(
        self, message: Any, deadline: float, headers: Mapping[str, Any] | None = None
    ) -> None:
        self.message = message
        self.deadline = deadline
        self.headers = headers
        self.abandoned = False
        self.scope: trio.CancelScope | None = None
        self.trace: AskTrace | None = None  # set by instrumentation, when it traces the ask
        self._done = trio.Event()
        self._value: Any = None
        self._error: BaseException | None = None

    @property
    def answered(self) -> bool:
        """Whether a reply or an error has been set."""
        return self._done.is_set()

    def expired(self) -> bool:
        """Whether the asker's deadline has passed (nothing may be done for it then)."""
        return self.deadline != math.inf and self.deadline <= trio.current_time()

    def reply(self, value: Any) -> None:
        """Deliver the handler's result to the asker."""
        self._value = value
        self._done.set()

    def fail(self, error: BaseException) -> None:
        """Deliver an error to the asker instead of a result."""
        self._error = error
        self._done.set()

    def abandon(self) -> None:
        """Give up on the request: drop it if queued, cancel its handler if running."""
        self.abandoned = True
        if self.scope is not None:
            self.scope.cancel()

    async def wait(self) -> Any:
        """Wait for the reply; if cancelled meanwhile, abandon the request."""
        try:
            await self._done.wait()
        except BaseException:
            self.abandon()
            if self.scope is not None:
                # The handler is running and now cancelled: give it the scheduling rounds
                # it needs to unwind (one, or two when the asker ran first in the batch),
                # so no agent code for this request runs after the asker has its answer.
                # A handler that shields itself is still not waited for.
                with trio.CancelScope(shield=True):
                    for _ in range(2):
                        if self._done.is_set():
                            break
                        await trio.lowlevel.checkpoint()
            raise
        if self._error is not None:
            raise self._error
        return self._value
