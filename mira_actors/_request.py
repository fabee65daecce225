"""The envelope of an ``ask``: the message, the asker's deadline, and the reply slot."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NoReturn

import trio

from .instrumentation import AskTrace

if TYPE_CHECKING:
    from ._mailbox import Mailbox

_SUCCEEDED = trio.lowlevel.Abort.SUCCEEDED
_FAILED = trio.lowlevel.Abort.FAILED


class Request:
    """One ask in flight, shared by the asker and the actor serving it.

    The asker's deadline travels with the request, so the handler runs under it; when
    the asker gives up, it marks the request abandoned and cancels the handler's scope.
    ``chain`` lists the actors whose handlers wait, directly or through other asks, for
    this request's reply (``None`` for an ask from outside any actor): an ask that
    would close a cycle is refused at once instead of deadlocking. ``answered`` is set
    once the request is answered (with a reply or an error).

    The asker parks its task on the request itself (no ``trio.Event``, whose set and
    coroutines every ask in flight would hold): one task waits on a request at a time.
    """

    __slots__ = (
        "_error",
                "_value",
                "abandoned",
        "answered",
        "chain",
        "deadline",
        "headers",
        "message",
        "pending_cancel",
        "scope",
        "trace",
        "waiter",
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
        self.answered = False
        self.scope: trio.CancelScope | None = None
        self.trace: AskTrace | None = None  # set by instrumentation, when it traces the ask
        # The asker's task while it waits, and the cancellation it must raise once a
        # handler it cancelled has unwound.
        self.waiter: trio.lowlevel.Task | None = None
        self.pending_cancel: Callable[[], NoReturn] | None = None
        self._value: Any = None
        self._error: BaseException | None = None

    def expired(self) -> bool:
        """Whether the asker's deadline has passed (nothing may be done for it then)."""
        return self.deadline != math.inf and self.deadline <= trio.current_time()

    def reply(self, value: Any) -> None:
        """Deliver the handler's result to the asker."""
        self._value = value
        self._answer()

    def fail(self, error: BaseException) -> None:
        """Deliver an error to the asker instead of a result."""
        self._error = error
        self._answer()

    def _answer(self) -> None:
        self.answered = True
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            trio.lowlevel.reschedule(waiter)

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
        if not self.answered:
            self.waiter = trio.lowlevel.current_task()
            await trio.lowlevel.wait_task_rescheduled(self.cancel_waiter)
            if self.pending_cancel is not None:
                self.pending_cancel()  # the cancellation that came while the handler ran
        return self.result()

    def cancel_waiter(self, raise_cancel: Callable[[], NoReturn]) -> trio.lowlevel.Abort:
        """Abandon the request, as its waiting asker is cancelled (trio's abort function).

        A queued request is dropped and the asker leaves at once. A running one has its
        handler cancelled, and the asker keeps waiting, unmoved by the cancellation,
        until the handler has unwound and the request is answered; then
        :meth:`wait` raises the cancellation. This costs no shielded scope.
        """
        self.abandoned = True
        scope = self.scope
        if scope is None:
            self.waiter = None
            return _SUCCEEDED
        self.pending_cancel = raise_cancel
        scope.cancel()
        return _FAILED

    def result(self) -> Any:
        """Return the reply, or raise the error delivered instead (once answered)."""
        if self._error is not None:
            raise self._error
        return self._value
