"""The envelope of an ``ask``: the message, the asker's deadline, and the reply slot."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import trio

from .instrumentation import AskTrace

if TYPE_CHECKING:
    from ._mailbox import Mailbox


class Request:
    """One ask in flight, shared by the asker and the actor serving it.

    The asker's deadline travels with the request, so the handler runs under it; when
    the asker gives up, it marks the request abandoned and cancels the handler's scope.
    ``chain`` lists the actors whose handlers wait, directly or through other asks, for
    this request's reply (``None`` for an ask from outside any actor): an ask that
    would close a cycle is refused at once instead of deadlocking. ``done`` is set
    once the request is answered (with a reply or an error).
    """

    __slots__ = (
        "_error",
        "_value",
        "abandoned",
        "chain",
        "deadline",
        "done",
        "headers",
        "message",
        "scope",
        "trace",
    )

    def __init__(
        self,
        message: Any,
        deadline: float,
        headers: Mapping[str, Any] | None = None,
        chain: tuple[Mailbox, ...] | None = None,
    ) -> None:
        self.message = message
        self.deadline = deadline
        self.headers = headers
        self.chain = chain
        self.abandoned = False
        self.scope: trio.CancelScope | None = None
        self.trace: AskTrace | None = None  # set by instrumentation, when it traces the ask
        self.done = trio.Event()
        self._value: Any = None
        self._error: BaseException | None = None

    @property
    def answered(self) -> bool:
        """Whether a reply or an error has been set."""
        return self.done.is_set()

    def expired(self) -> bool:
        """Whether the asker's deadline has passed (nothing may be done for it then)."""
        return self.deadline != math.inf and self.deadline <= trio.current_time()

    def reply(self, value: Any) -> None:
        """Deliver the handler's result to the asker."""
        self._value = value
        self.done.set()

    def fail(self, error: BaseException) -> None:
        """Deliver an error to the asker instead of a result."""
        self._error = error
        self.done.set()

    def abandon(self) -> None:
        """Give up on the request: drop it if queued, cancel its handler if running."""
        self.abandoned = True
        if self.scope is not None:
            self.scope.cancel()

    async def wait(self) -> Any:
        """Wait for the reply; if cancelled meanwhile, abandon the request.

        When a handler is running the request, the asker resumes only after that
        handler has finished unwinding from its cancellation: the actor loop answers
        the request (with an error) only once ``handle`` has returned or raised, so no
        handler code for this request runs after its asker has moved on. A handler that
        shields itself from cancellation holds its asker for as long, just as shielded
        code inside the asker's own cancel scope would.
        """
        try:
            await self.done.wait()
        except BaseException:
            await self.give_up()
            raise
        return self.result()

    async def give_up(self) -> None:
        """Abandon the request; if a handler is running it, wait until it has unwound.

        Called by an asker that was cancelled while waiting (see :meth:`wait`).
        """
        self.abandon()
        if self.scope is not None and not self.done.is_set():
            with trio.CancelScope(shield=True):
                await self.done.wait()

    def result(self) -> Any:
        """Return the reply, or raise the error delivered instead (once answered)."""
        if self._error is not None:
            raise self._error
        return self._value
