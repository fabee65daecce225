"""The task that serves a mailbox with an actor: one message at a time."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from time import perf_counter
from typing import Any

import trio

from ._actor import Actor
from ._exceptions import ActorCrashedError, ActorStoppedError
from ._headers import reset_headers, set_headers
from ._mailbox import DEFAULT_CAPACITY, Mailbox
from ._ref import ActorRef
from ._request import Request

_NOTHING: Any = object()


SLICE = 0.0005  # seconds an actor may drain its mailbox before it lets others run


async def run_actor(
    actor: Actor,
    mailbox: Mailbox,
    *,
    task_status: trio.TaskStatus[ActorRef] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``mailbox`` with ``actor`` until it stops.

    Reports the actor's reference through ``task_status`` once ``on_start`` has run.
    Returns when the mailbox has been closed and drained (the actor stopped for good)
    or when the actor called ``Actor.stop()``. Raises what ``handle`` or ``on_start``
    raised, after ``on_failure``; the mailbox stays open, so a supervisor can restart.
    """
    ref = ActorRef(mailbox)
    actor.ref = ref
    actor._stop_requested = False
    try:
        await actor.on_start()
        task_status.started(ref)
        drained = False
        first: Any = _NOTHING
        if mailbox.put_count == mailbox.taken:
            # Idle until the first message, outside any cancel scope: an actor that never
            # gets a message holds no scope (about 700 bytes with its status).
            try:
                first = await mailbox.receive_channel.receive()
            except (trio.EndOfChannel, trio.ClosedResourceError):
                drained = True
            else:
                mailbox.taken += 1
        while not drained and not actor._stop_requested:
            # One cancel scope serves message after message. A request borrows it, with
            # its asker's deadline, so that the asker giving up cancels just that handler;
            # then the scope is spent and a new one takes over. (A scope per request
            # costs more than the rest of an ask's round trip.)
            with trio.CancelScope() as scope:
                drained = await _serve(actor, mailbox, scope, first)
                first = _NOTHING
    except Exception as exc:
        await actor.on_failure(exc)
        raise
    await actor.on_stop()


async def _serve(
    actor: Actor, mailbox: Mailbox, scope: trio.CancelScope, first: Any = _NOTHING
) -> bool:
    """Serve messages until the mailbox ends (True) or the actor stops itself (False)."""
    receive = mailbox.receive_channel
    pending = first
    slice_end = perf_counter() + SLICE
    while not actor._stop_requested:
        # Drain what is queued without a schedule point per message (the buffer bounds
        # the batch; handlers that await still yield), but never take another message
        # once cancelled: that would be work after the deadline. Once a time slice is
        # used up, yield: a busy actor must not hold back every other task's deadline.
        if perf_counter() > slice_end:
            await trio.lowlevel.checkpoint()
            slice_end = perf_counter() + SLICE
        else:
            await trio.lowlevel.checkpoint_if_cancelled()
        if pending is not _NOTHING:
            item, pending = pending, _NOTHING
        else:
            try:
                # The counters never overstate what is buffered (a sender that waited counts
                # its put after the item is in), so this never raises WouldBlock and an idle
                # mailbox costs no exception per message.
                if mailbox.put_count > mailbox.taken:
                    item = receive.receive_nowait()
                else:
                    item = await receive.receive()
                    slice_end = perf_counter() + SLICE  # it waited: a fresh slice
            except (trio.EndOfChannel, trio.ClosedResourceError):
                return True  # closed and drained, or discarded under us
            mailbox.taken += 1
        try:
            if type(item) is not Request:
                await actor.handle(item)
            elif item.abandoned or item.expired():
                mailbox.dropped += 1
            else:
                await _serve_request(actor, mailbox, item, scope)
        except Exception as exc:
            if actor.crash_on_error:
                raise
            await actor.on_failure(exc)  # its asker has the error; serve the next message
    return False


async def _serve_request(
    actor: Actor, mailbox: Mailbox, request: Request, scope: trio.CancelScope
) -> None:
    bounded = request.deadline != math.inf
    request.scope = scope
    if bounded:
        scope.deadline = request.deadline
    token = None if request.headers is None else set_headers(request.headers)
    trace = request.trace
    if trace is not None:
        trace.handling()
    try:
        request.reply(await actor.handle(request.message))
    except Exception as exc:
        failed = ActorCrashedError(mailbox.name, exc, crashed=actor.crash_on_error)
        failed.__cause__ = exc
        request.fail(failed)
        raise
    finally:
        if trace is not None:
            trace.handled()
        if token is not None:
            reset_headers(token)
        request.scope = None
        if bounded:
            scope.deadline = math.inf
        if not request.answered:
            if scope.cancel_called:
                error: Exception = trio.TooSlowError(
                    f"actor {mailbox.name!r}: the request's deadline passed"
                )
            else:
                error = ActorStoppedError(mailbox.name, "it was stopped while handling the request")
            request.fail(error)


@asynccontextmanager
async def open_actor(
    actor: Actor, *, name: str | None = None, capacity: int = DEFAULT_CAPACITY
) -> AsyncIterator[ActorRef]:
    """Run one actor, unsupervised, for the body of an ``async with``.

    On a normal exit the actor handles what is queued and stops. If it crashes, the
    crash propagates out of the block and queued asks fail with ActorStoppedError.

    Usage::

        async with open_actor(Counter()) as counter:
            assert await counter.ask(2) == 2
    """
    mailbox = Mailbox(name or type(actor).__name__, capacity)
    async with trio.open_nursery() as nursery:
        ref: ActorRef = await nursery.start(_run_unsupervised, actor, mailbox)
        try:
            yield ref
        finally:
            mailbox.close()


async def _run_unsupervised(
    actor: Actor, mailbox: Mailbox, *, task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED
) -> None:
    try:
        await run_actor(actor, mailbox, task_status=task_status)
    finally:
        # Nobody will restart it: fail whatever is still queued rather than leave askers hanging.
        mailbox.discard("it has stopped")
