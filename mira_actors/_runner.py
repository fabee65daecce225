"""The task that serves a mailbox with an actor: one message at a time."""

from __future__ import annotations

import inspect
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from time import perf_counter
from typing import Any

import trio

from ._actor import Actor
from ._deadlines import set_deadline
from ._exceptions import ActorCrashedError, ActorStoppedError
from ._headers import reset_headers, set_headers
from ._logs import actor_logger, describe_error, short_text
from ._mailbox import DEFAULT_CAPACITY, EMPTY, Mailbox
from ._ref import ActorRef
from ._request import Request
from ._serving import Runner, current_runner

_INF = math.inf

SLICE = 0.0005
"""Seconds, on trio's clock, an actor may drain its mailbox before it lets others run."""

_HOOKS = ("handle", "on_start", "on_stop", "on_failure")


async def run_actor(
    actor: Actor,
    mailbox: Mailbox,
    *,
    task_status: trio.TaskStatus[ActorRef] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``mailbox`` with ``actor`` until it stops.

    Reports the actor's reference through ``task_status`` once ``on_start`` has run.
    Returns when the mailbox has been closed and drained (the actor stopped for good)
    or when the actor called ``Actor.stop()`` (in ``on_start``, before taking any
    message). Raises what ``handle`` or ``on_start`` raised, after ``on_failure``; the
    mailbox stays open, so a supervisor can restart.

    Raises:
        TypeError: ``handle`` or a lifecycle hook is not an ``async def`` method.
    """
    _check_hooks(actor)
    ref = ActorRef(mailbox)
    runner = Runner(actor, mailbox, trio.lowlevel.current_task())
    actor.ref = ref
    # Not reset on exit (a Token per idle actor costs memory): the runner marks itself
    # finished instead, and a finished runner is never part of a chain.
    current_runner.set(runner)
    try:
        await actor.on_start()
        task_status.started(ref)
        # Holding the status would keep nursery.start's spent nursery, its cancel scope
        # and their cancel statuses (about 700 bytes) alive for the actor's whole life.
        del task_status
        drained = False
        first: Any = EMPTY
        if not runner.stop_requested:
            # Idle until the first message outside any cancel scope, in this frame: an
            # actor that never gets a message holds no scope (about 700 bytes with its
            # status) and no frame of the loop below.
            try:
                first = mailbox.take_nowait()
                if first is EMPTY:
                    # The channel's own receive, awaited in this frame: an idle actor
                    # holds one coroutine frame fewer than through Mailbox.take (about
                    # 200 bytes).
                    first = await mailbox.receive()
                    mailbox.taken += 1
            except (trio.EndOfChannel, trio.ClosedResourceError):
                drained = True
        while not drained and not runner.stop_requested:
            # One cancel scope serves message after message. A request borrows it, with
            # its asker's deadline, so that the asker giving up cancels just that handler;
            # then the scope is spent and a new one takes over. (A scope per request costs
            # more than the rest of an ask's round trip.)
            with trio.CancelScope() as scope:
                drained = await _serve(actor, runner, scope, first)
            first = EMPTY
    except Exception as exc:
        await _call_on_failure(actor, mailbox.name, exc)
        raise
    finally:
        runner.finish()
    await actor.on_stop()


def _check_hooks(actor: Actor) -> None:
    for name in _HOOKS:
        hook = getattr(actor, name)
        if not inspect.iscoroutinefunction(hook):
            msg = (
                f"{type(actor).__name__}.{name} must be an 'async def' method: the runtime "
                f"awaits it (got a plain {type(hook).__name__})"
            )
            raise TypeError(msg)


async def _serve(actor: Actor, runner: Runner, scope: trio.CancelScope, first: Any) -> bool:
    """Serve messages until the mailbox ends (True) or the actor stops itself (False)."""
    mailbox = runner.mailbox
    take_nowait = mailbox.take_nowait
    now = trio.lowlevel.current_clock().current_time
    threshold = actor.blocking_threshold
    task = trio.lowlevel.current_task()
    item = first
    slice_end: float | None = None  # None: the slice starts at the next message drained
    while not runner.stop_requested:
        if item is EMPTY:
            try:
                if mailbox.put_count > mailbox.taken:
                    # Drain what is queued without a schedule point per message (the
                    # buffer bounds the batch; handlers that await still yield), but never
                    # take another message once cancelled: that would be work after the
                    # deadline. Once a slice of trio time is used up, yield: a busy actor
                    # must not hold back every other task.
                    if slice_end is None:
                        slice_end = now() + SLICE
                        await trio.lowlevel.checkpoint_if_cancelled()
                    elif now() > slice_end:
                        await trio.lowlevel.checkpoint()
                        slice_end = now() + SLICE
                    else:
                        await trio.lowlevel.checkpoint_if_cancelled()
                    item = take_nowait()
                    if item is EMPTY:
                        continue
                else:
                    # Nothing queued: wait (a checkpoint). A message that comes after a wait
                    # reads no clock: an actor answering one ask at a time never does.
                    item = await mailbox.take()
                    slice_end = None
            except trio.EndOfChannel:
                return True
        try:
            if type(item) is not Request:
                points = task._schedule_points
                started = perf_counter()
                try:
                    await actor.handle(item)
                finally:
                    if task._schedule_points == points and perf_counter() - started > threshold:
                        _warn_blocking(mailbox.name, perf_counter() - started, threshold)
            elif item.abandoned or (item.deadline != _INF and item.expired()):
                mailbox.drop(item)
            else:
                await _serve_request(actor, runner, item, scope, task, threshold)
        except Exception as exc:
            if actor.crash_on_error:
                raise
            await _call_on_failure(actor, mailbox.name, exc)  # its asker has the error
        item = EMPTY
    return False


async def _serve_request(
    actor: Actor,
    runner: Runner,
    request: Request,
    scope: trio.CancelScope,
    task: trio.lowlevel.Task,
    threshold: float,
) -> None:
    bounded = request.deadline != _INF
    request.scope = scope
    if bounded:
        set_deadline(scope, request.deadline)
    token = None if request.headers is None else set_headers(request.headers)
    chain = request.chain
    if chain is not None:
        runner.chain = chain
    trace = request.trace
    if trace is not None:
        trace.handling()
    points = task._schedule_points
    started = perf_counter()
    # The request is answered only after handle() has returned or raised: an asker that
    # gave up waits for the answer, so no handler code for its request runs after it
    # resumes.
    try:
        result = await actor.handle(request.message)
    except Exception as exc:
        failed = ActorCrashedError(runner.mailbox.name, exc, crashed=actor.crash_on_error)
        failed.__cause__ = exc
        request.fail(failed)
        raise
    except BaseException:
        name = runner.mailbox.name
        if scope.cancel_called:
            error: Exception = trio.TooSlowError(f"actor {name!r}: the request's deadline passed")
        else:
            error = ActorStoppedError(name, "it was stopped while handling the request")
        request.fail(error)
        raise
    else:
        request.reply(result)
    finally:
        if task._schedule_points == points and perf_counter() - started > threshold:
            _warn_blocking(runner.mailbox.name, perf_counter() - started, threshold)
        if trace is not None:
            trace.handled()
        if chain is not None:
            runner.chain = ()
        if token is not None:
            reset_headers(token)
        request.scope = None
        if bounded:
            set_deadline(scope, _INF)


def _warn_blocking(name: str, held: float, threshold: float) -> None:
    """Warn that one handler call held the trio thread for ``held`` > ``threshold`` seconds.

    The caller measures only calls that made no schedule point (the task's count of
    them did not move), so ``held`` is time in which no other task could run: the
    handler's own synchronous work, not time spent waiting.
    """
    actor_logger.warning(
        "actor %s held the trio thread for %.3f s in one handler call without "
        "yielding, so every other task and deadline waited; run blocking code on the "
        "'thread' or 'process' backend, or call mira_actors.check_deadline() in its "
        "loops",
        short_text(repr(name)),
        held,
        extra={
            "event_type": "loop_blocked",
            "actor": short_text(name),
            "duration_seconds": held,
            "threshold_seconds": threshold,
        },
    )


async def _call_on_failure(actor: Actor, name: str, exc: Exception) -> None:
    """Run ``on_failure(exc)``; if the hook itself raises, log that and keep ``exc``."""
    try:
        await actor.on_failure(exc)
    except Exception as hook_error:
        actor_logger.error(
            "actor %s: on_failure raised %s while handling %s",
            short_text(repr(name)),
            describe_error(hook_error),
            describe_error(exc),
            extra={
                "event_type": "on_failure_failed",
                "actor": short_text(name),
                "error_type": type(hook_error).__name__,
                "handler_error_type": type(exc).__name__,
            },
        )


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
