"""The supervisor: a nursery that owns actors and restarts them by a strategy."""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import trio

from mira_actors import (
    DEFAULT_CAPACITY,
    Actor,
    ActorRef,
    Mailbox,
    exception_text,
    instrumentation,
    run_actor,
)

from ._child import Child, ChildStatus, StartWatch
from ._exceptions import RestartIntensityError
from ._policy import Restart, Strategy

# A library adds no handler but this one: with no logging configured, it prints nothing.
logging.getLogger("supervisors").addHandler(logging.NullHandler())
logger = logging.getLogger("supervisors.supervisor")


class Supervisor:
    """Owns actors in a nursery; restarts crashed ones; stops them all on exit.

    Create one with :func:`open_supervisor`.
    """

    def __init__(
        self,
        nursery: trio.Nursery,
        *,
        name: str,
        strategy: Strategy,
        max_restarts: int,
        within: float,
    ) -> None:
        self.name = name
        self.strategy = strategy
        self.max_restarts = max_restarts
        self.within = within
        self._nursery = nursery
        # In start order; a dict (insertion-ordered) so that retiring a child is O(1):
        # with a list, stopping 100,000 children one by one was quadratic.
        self._children: dict[Child, None] = {}
        # The children by name, and the names being spawned (None until listed): a dict,
        # so that spawning thousands of children is not quadratic and lookup is O(1),
        # and a name is taken before the await.
        self._names: dict[str, Child | None] = {}
        # Each exit carries the cancel scope of the incarnation that exited.
        self._exits_send, self._exits_receive = trio.open_memory_channel[
            tuple[Child, trio.CancelScope, Exception | None]
        ](math.inf)
        self._restart_times: deque[float] = deque()
        self._closing = False
        # Set once every mailbox has been discarded: an exit still queued for the control
        # task then has nothing left to retire or restart.
        self._discarded = False

    @property
    def children(self) -> list[ChildStatus]:
        """The supervised children, in start order."""
        return [
            ChildStatus(name=c.name, restart=c.restart, restarts=c.restarts, running=c.running)
            for c in self._children
        ]

    def lookup(self, name: str) -> ActorRef | None:
        """Return the reference of the child named ``name``, or None if there is none.

        A child that is restarting is still found (its reference stays valid); one that
        has been retired is not.
        """
        child = self._names.get(name)
        return None if child is None else child.ref

    def find(self, cls: type[Actor]) -> list[ActorRef]:
        """Return the references of the children whose actor is an instance of ``cls``.

        In start order; subclasses count. A child is judged by its latest instance.
        """
        return [
            child.ref
            for child in self._children
            if child.actor is not None and isinstance(child.actor, cls)
        ]

    async def spawn(
        self,
        factory: Callable[..., Actor],
        *args: Any,
        name: str | None = None,
        restart: Restart = Restart.PERMANENT,
        capacity: int = DEFAULT_CAPACITY,
    ) -> ActorRef:
        """Start ``factory(*args)`` as a child and return its reference.

        Returns once the actor's ``on_start`` has run; a restart calls ``factory(*args)``
        again for a fresh instance that serves the same mailbox.

        Raises:
            RuntimeError: the supervisor is shutting down.
            ValueError: ``name`` is taken, or the mailbox capacity is invalid.
            Exception: whatever the factory or the first ``on_start`` raised.
        """
        if self._closing:
            msg = f"supervisor {self.name!r} is shutting down; it cannot spawn {name!r}"
            raise RuntimeError(msg)
        if not isinstance(restart, Restart):
            msg = f"restart must be a Restart, got {restart!r}"
            raise TypeError(msg)
        name = name if name is not None else getattr(factory, "__name__", type(factory).__name__)
        if name in self._names:
            msg = f"supervisor {self.name!r} already has a child named {name!r}"
            raise ValueError(msg)
        mailbox = Mailbox(name, capacity)
        self._names[name] = None
        child = Child(name=name, factory=factory, args=args, restart=restart, mailbox=mailbox)
        try:
            error = await self._start(child, first=True)
        except BaseException:
            self._names.pop(name, None)
            raise
        if error is not None:
            self._names.pop(name, None)
            mailbox.discard("it failed to start")
            raise error
        return child.ref

    async def _start(self, child: Child, *, first: bool = False) -> Exception | None:
        """Start one incarnation of ``child``; return what its start raised, if anything."""
        if not first and (hooks := instrumentation.current()) is not None:
            hooks.actor_restarted(self.name, child.name)
        # Only a group restart cancels a sibling, and waits for its exit. ONE_FOR_ONE
        # never does: its children enter no scope (and keep none, nor a `with` block's
        # frame state, for their whole life).
        if self.strategy is Strategy.ONE_FOR_ONE:
            run = self._run_child
        else:
            child.scope = trio.CancelScope()
            child.exited = trio.Event()
            run = self._run_child_in_scope
        result: Exception | None = await self._nursery.start(run, child, first)
        return result

    async def _run_child_in_scope(
        self, child: Child, first: bool, *, task_status: trio.TaskStatus[Exception | None]
    ) -> None:
        # A group restart cancels this scope: then the child's exit is not reported.
        with child.scope:
            await self._run_child(child, first, task_status=task_status)

    async def _run_child(
        self, child: Child, first: bool, *, task_status: trio.TaskStatus[Exception | None]
    ) -> None:
        watch = StartWatch(task_status, self, child, first)  # child.starting, until started
        del task_status  # the watch lets go of it once used
        error: Exception | None = None
        child.running = True
        try:
            child.actor = child.factory(*child.args)
            serving = run_actor(child.actor, child.mailbox, task_status=watch)
            del watch  # run_actor lets go of it once started: an idle actor keeps none
            await serving
        except Exception as exc:
            error = exc
        finally:
            child.running = False
            if child.exited is not None:
                child.exited.set()
        scope = child.scope
        if scope.cancel_called:
            # Stopped on purpose by a group restart, which has already decided its fate:
            # even if it raised instead of taking the cancellation, that is not a crash.
            return
        if (unstarted := child.starting) is not None:
            child.starting = None
            unstarted.failed(error)  # the starter deals with a failed start
        else:
            self._exits_send.send_nowait((child, scope, error))

    def _enlist(self, child: Child) -> None:
        self._children[child] = None
        self._names[child.name] = child

    async def _control(self) -> None:
        async for child, scope, error in self._exits_receive:
            if scope.cancel_called:
                # A stale exit: this incarnation had already ended when a sibling's group
                # restart stopped it and restarted or retired the child; handling it again
                # would start a second actor on the mailbox or retire it twice.
                continue
            await self._child_exited(child, error)

    async def _child_exited(self, child: Child, error: Exception | None) -> None:
        if self._discarded:
            return  # the block has exited: every child is already retired
        if error is not None:
            logger.warning(
                "actor %r crashed: %s: %s",
                child.name,
                type(error).__name__,
                exception_text(error),
                extra={
                    "event_type": "actor_crashed",
                    "supervisor": self.name,
                    "actor": child.name,
                    "error_type": type(error).__name__,
                },
            )
        if child.mailbox.closed or not child.restart.applies(crashed=error is not None):
            self._retire(child, "it has stopped")
            return
        group = self._restart_group(child)
        for other in reversed(group):
            if other is not child:
                # Cancel it even if it has already exited: that marks its queued exit stale.
                other.scope.cancel()
                assert other.exited is not None  # not ONE_FOR_ONE
                await other.exited.wait()
        for other in group:
            if other is not child and other.restart is Restart.TEMPORARY:
                self._retire(other, "its supervisor stopped it")
        self._count_restart(child, error)
        for other in group:
            if other in self._children:
                await self._restart(other)

    def _restart_group(self, child: Child) -> list[Child]:
        if self.strategy is Strategy.ONE_FOR_ONE:
            return [child]
        if self.strategy is Strategy.ONE_FOR_ALL:
            return list(self._children)
        children = list(self._children)
        return children[children.index(child) :]

    async def _restart(self, child: Child) -> None:
        child.restarts += 1
        while (error := await self._start(child)) is not None:
            self._count_restart(child, error)
            child.restarts += 1

    def _count_restart(self, child: Child, cause: Exception | None) -> None:
        now = trio.current_time()
        times = self._restart_times
        times.append(now)
        while times[0] <= now - self.within:
            times.popleft()
        if len(times) > self.max_restarts:
            raise RestartIntensityError(
                self.name, child.name, self.max_restarts, self.within
            ) from cause

    def _retire(self, child: Child, reason: str) -> None:
        del self._children[child]
        self._names.pop(child.name, None)
        child.mailbox.discard(reason)

    async def _shutdown(self) -> None:
        """Stop every child in reverse start order, letting each finish its queue."""
        self._closing = True
        for child in reversed(list(self._children)):
            await child.ref.stop()

    def _discard_all(self) -> None:
        self._closing = True
        self._discarded = True
        for child in self._children:
            child.mailbox.discard(f"its supervisor {self.name!r} has stopped")


@asynccontextmanager
async def open_supervisor(
    *,
    name: str = "supervisor",
    strategy: Strategy = Strategy.ONE_FOR_ONE,
    max_restarts: int = 3,
    within: float = 5.0,
) -> AsyncIterator[Supervisor]:
    """Open a supervisor whose children live no longer than this ``async with`` block.

    A child that crashes is restarted by ``strategy``; more than ``max_restarts``
    restarts within ``within`` seconds make the supervisor fail with
    RestartIntensityError. On a normal exit every child is stopped in reverse start
    order after handling what is queued; on an error or cancellation they are
    cancelled, and asks still queued fail with ActorStoppedError.

    Usage::

        async with open_supervisor(strategy=Strategy.ONE_FOR_ALL) as supervisor:
            counter = await supervisor.spawn(Counter, name="counter")
            await counter.ask(1)
    """
    if not isinstance(strategy, Strategy):
        msg = f"strategy must be a Strategy, got {strategy!r}"
        raise TypeError(msg)
    if not isinstance(max_restarts, int) or isinstance(max_restarts, bool):
        msg = f"max_restarts must be an int, got {type(max_restarts).__name__}"
        raise TypeError(msg)
    if max_restarts < 0:
        msg = f"max_restarts must be >= 0, got {max_restarts}"
        raise ValueError(msg)
    if not isinstance(within, int | float) or isinstance(within, bool):
        msg = f"within must be a number of seconds, got {type(within).__name__}"
        raise TypeError(msg)
    if not within > 0:
        msg = f"within must be > 0 seconds, got {within}"
        raise ValueError(msg)
    async with trio.open_nursery() as nursery:
        supervisor = Supervisor(
            nursery, name=name, strategy=strategy, max_restarts=max_restarts, within=within
        )
        nursery.start_soon(supervisor._control)
        try:
            yield supervisor
            await supervisor._shutdown()
        finally:
            # Cancel first: it takes the actors off their channels before those close.
            nursery.cancel_scope.cancel()
            supervisor._discard_all()
