"""A supervised child: its record, the snapshot users see, and the watch over its start.

A child outlives its incarnations: a restart makes a new actor instance that serves the
same mailbox, under the same name and reference.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs
import trio

from mira_actors import Actor, ActorRef, Mailbox

from ._policy import Restart

if TYPE_CHECKING:
    from ._supervisor import Supervisor


@attrs.frozen(kw_only=True)
class ChildStatus:
    """A snapshot of one supervised child.

    Attributes:
        name: The child's name, unique within its supervisor.
        restart: Its restart kind.
        restarts: How many times it has been restarted.
        running: Whether an actor instance is serving its mailbox now.
    """

    name: str
    restart: Restart
    restarts: int
    running: bool


# A ONE_FOR_ONE child is never cancelled by a sibling's restart: its incarnations share
# this scope, which is never entered or cancelled, rather than each holding one.
NEVER_CANCELLED = trio.CancelScope()


@attrs.define(eq=False)
class Child:
    name: str
    factory: Callable[..., Actor]
    args: tuple[Any, ...]
    restart: Restart
    mailbox: Mailbox
    # The reference the first incarnation reported when it started (one per child: a
    # second one, made here, would cost every idle actor its bytes).
    ref: ActorRef = attrs.field(init=False)
    actor: Actor | None = None
    # The start watch of the incarnation starting now, dropped once it has started.
    starting: StartWatch | None = None
    scope: trio.CancelScope = NEVER_CANCELLED
    exited: trio.Event | None = None
    restarts: int = 0
    running: bool = False


class StartWatch:
    """Lists the child and passes ``started`` on.

    It lets go of the task status once used: holding it would keep nursery.start's spent
    nursery and its cancel statuses (about 700 bytes) alive for the actor's whole life.
    The child holds the watch only until the start has happened (``child.starting``),
    and run_actor lets go of it then, so an idle actor keeps no watch.
    """

    __slots__ = ("_child", "_first", "_supervisor", "_task_status")

    def __init__(
        self,
        task_status: trio.TaskStatus[Exception | None],
        supervisor: Supervisor,
        child: Child,
        first: bool,
    ) -> None:
        self._task_status: trio.TaskStatus[Exception | None] | None = task_status
        self._supervisor = supervisor
        self._child = child
        self._first = first
        child.starting = self

    def started(self, value: Any = None) -> None:
        child = self._child
        child.starting = None
        if self._first:
            child.ref = value  # the ActorRef run_actor reports
            # Listed the moment on_start has run, before the actor takes a message and
            # before spawn resumes: an actor that crashes on a message it sent itself in
            # on_start must find itself among the children when its exit is handled.
            self._supervisor._enlist(child)
        self._pass_on(None)

    def failed(self, error: Exception | None) -> None:
        """Tell the starter that the start failed (it raises ``error`` out of spawn)."""
        self._pass_on(error)

    def _pass_on(self, value: Exception | None) -> None:
        task_status, self._task_status = self._task_status, None
        assert task_status is not None  # passed on once
        task_status.started(value)
