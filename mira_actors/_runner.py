"""The task that serves a mailbox with an actor: one message at a time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import trio

from ._actor import Actor
from ._exceptions import ActorCrashedError, ActorStoppedError
from ._mailbox import DEFAULT_CAPACITY, Mailbox
from ._ref import ActorRef
from ._request import Request


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
    receive = mailbox.receive_channel
    try:
        await actor.on_start()
        task_status.started(ref)
        while not actor._stop_requested:
            # Drain what is queued without a schedule point per message (the buffer
            # bounds the batch; handlers that await still yield), but never take another
            # message once cancelled: that would be work after the deadline.
            await trio.lowlevel.checkpoint_if_cancelled()
            try:
                item = receive.receive_nowait()
            except trio.WouldBlock:
                try:
                    item = await receive.receive()
                except (trio.EndOfChannel, trio.ClosedResourceError):
                    break
            except (trio.EndOfChannel, trio.ClosedResourceError):
                # Closed: the mailbox was discarded under us; nothing is left to serve.
                break
            mailbox.taken += 1
            if type(item) is Request:
                await _serve_request(actor, mailbox, item)
            else:
                await actor.handle(item)
    except Exception as exc:
        await actor.on_failure(exc)
        raise
    await actor.on_stop()


async def _serve_request(actor: Actor, mailbox: Mailbox, request: Request) -> None:
    if request.abandoned or request.expired():
        mailbox.dropped += 1
        return
    scope = request.scope = trio.CancelScope(deadline=request.deadline)
    try:
        with scope:
            request.reply(await actor.handle(request.message))
    except Exception as exc:
        crashed = ActorCrashedError(mailbox.name, exc)
        crashed.__cause__ = exc
        request.fail(crashed)
        raise
    finally:
        request.scope = None
        if not request.answered:
            if scope.cancelled_caught:
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
