"""ActorRef: the handle through which other tasks talk to an actor."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, NoReturn

import trio

from ._deadlines import effective_deadline
from ._mailbox import Mailbox, MailboxStatistics
from ._request import Request
from ._serving import chain_for_ask, current_runner
from .instrumentation import Instrumentation, _hooks

TELLS_PER_SCHEDULE_POINT = 64
"""How many tells that found room may pass before one yields to the scheduler."""

# Tells since the last one that yielded, across every reference: a task that tells in a
# loop yields at least every TELLS_PER_SCHEDULE_POINT tells, whatever actors it tells.
_unyielded_tells = 0


def _abort_at_once(raise_cancel: Callable[[], NoReturn]) -> trio.lowlevel.Abort:
    return trio.lowlevel.Abort.SUCCEEDED


class ActorRef:
    """A reference to an actor: send it messages, ask it questions, stop it.

    A reference stays valid across restarts, because it points at the mailbox, which
    the restarted actor keeps serving.

    Usage::

        await ref.tell("note")               # waits while the mailbox is full
        ref.tell_nowait("note")              # raises MailboxFullError instead
        with trio.move_on_after(1.0):
            answer = await ref.ask("question")  # the handler runs under this deadline
    """

    __slots__ = ("_mailbox",)

    def __init__(self, mailbox: Mailbox) -> None:
        self._mailbox = mailbox

    @property
    def name(self) -> str:
        """The actor's name."""
        return self._mailbox.name

    def __repr__(self) -> str:
        state = "alive" if self.is_alive() else "stopped"
        return f"<ActorRef {self.name!r} {state}>"

    async def tell(self, message: Any) -> None:
        """Send ``message`` without waiting for it to be handled.

        Waits while the mailbox is full (backpressure). Raises ActorStoppedError when
        the actor has stopped.

        A checkpoint, with one licence trio itself reserves for its checkpoints: every
        tell checks for cancellation, but a tell that finds room yields to the scheduler
        only every ``TELLS_PER_SCHEDULE_POINT``-th time (counted across all references),
        so a loop of tells cannot starve other tasks, and a burst of tells is delivered
        as a batch. A tell that waits for room always yields.
        """
        global _unyielded_tells
        await trio.lowlevel.checkpoint_if_cancelled()
        if not self._mailbox.try_put(message):
            await self._mailbox.put(message)  # waits for room, or raises ActorStoppedError
            _unyielded_tells = 0
            return
        _unyielded_tells += 1
        if _unyielded_tells >= TELLS_PER_SCHEDULE_POINT:
            _unyielded_tells = 0
            await trio.lowlevel.cancel_shielded_checkpoint()

    def tell_nowait(self, message: Any) -> None:
        """Send ``message`` now, or raise MailboxFullError when the mailbox is full."""
        self._mailbox.put_nowait(message)

    async def ask(self, message: Any, *, headers: Mapping[str, Any] | None = None) -> Any:
        """Send ``message`` and return the handler's reply.

        The request carries the caller's deadline: the handler runs under it, and when
        the caller is cancelled (by a deadline or otherwise) the handler is cancelled
        too, and the caller resumes once the handler has finished unwinding; if the
        request is still queued, it is dropped without being handled. ``headers``
        travel beside the message; the handler reads them with ``request_headers()``.

        Raises:
            ActorCrashedError: the handler raised; its exception is the ``__cause__``.
            ActorStoppedError: the actor stopped before answering.
            AskCycleError: the caller is a handler that this actor is already waiting
                for, directly or through a chain of asks: the ask would deadlock.
            trio.TooSlowError: the deadline the request was sent with passed while the
                caller itself was not cancelled (its deadline had been moved later):
                at that deadline if the handler was running, or when the actor reached
                the request if it was still queued.
        """
        hooks = _hooks.hooks
        if hooks is not None and hooks.recording:
            return await self._ask_instrumented(hooks, message, headers)
        mailbox = self._mailbox
        task = trio.lowlevel.current_task()
        request = Request(
            message,
            effective_deadline(task),
            None if headers is None else MappingProxyType(dict(headers)),
            None if current_runner.get() is None else chain_for_ask(mailbox),
        )
        # Mailbox.put's fast path and Request.wait, inlined: two coroutines fewer per ask.
        if task._cancel_status.effectively_cancelled:
            # Cancelled before it asked (a run whose deadline passed before this step; at a
            # deadline burst, hundreds come this late): raise the cancellation at one
            # schedule point, where checkpoint_if_cancelled takes two and a cancel scope.
            await trio.lowlevel.wait_task_rescheduled(_abort_at_once)
        if not mailbox.try_put(request):
            await mailbox.put(request)
        if not request.answered:
            request.waiter = task
            await trio.lowlevel.wait_task_rescheduled(request.cancel_waiter)
            if request.pending_cancel is not None:
                request.pending_cancel()  # cancelled while its handler ran: it has unwound
        return request.result()

    async def _ask_instrumented(
        self, hooks: Instrumentation, message: Any, headers: Mapping[str, Any] | None
    ) -> Any:
        mailbox = self._mailbox
        chain = chain_for_ask(mailbox)
        trace = hooks.ask_sent(self.name, headers)
        if trace is not None:
            headers = trace.headers  # with the trace context, for the handler and its workers
        request = Request(
            message,
            effective_deadline(trio.lowlevel.current_task()),
            None if headers is None else MappingProxyType(dict(headers)),
            chain,
        )
        request.trace = trace
        try:
            await mailbox.put(request)
            reply = await request.wait()
        except BaseException as exc:
            hooks.ask_ended(trace, exc)
            raise
        hooks.ask_ended(trace, None)
        return reply

    async def stop(self) -> bool:
        """Close the mailbox and wait until the actor has handled what was queued.

        Returns True if this call stopped the actor, False if it was already stopped
        (or being stopped). An actor must not await its own ``stop()``; it calls
        ``Actor.stop()`` instead.
        """
        mailbox = self._mailbox
        stopping = not mailbox.closed
        mailbox.close()
        await mailbox.wait_stopped()
        return stopping

    def is_alive(self) -> bool:
        """Whether the actor still accepts messages (true while it restarts, too)."""
        return not self._mailbox.closed

    def statistics(self) -> MailboxStatistics:
        """Return a snapshot of the actor's mailbox."""
        return self._mailbox.statistics()
