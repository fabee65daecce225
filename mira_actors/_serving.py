"""What an actor's task is serving: its stop flag, and the chain of actors waiting on it.

The call chain travels with each request (as in Orleans): a request asked from inside
a handler carries the actors whose handlers are waiting for it, so an ask that would
close a cycle fails at once with AskCycleError rather than deadlocking until a deadline.
"""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING

import trio

from ._exceptions import AskCycleError
from ._mailbox import Mailbox

if TYPE_CHECKING:
    from ._actor import Actor

# Set once per actor incarnation, in the actor's task; read by every ask (one lookup).
current_runner: contextvars.ContextVar[Runner | None] = contextvars.ContextVar(
    "mira_actors_runner", default=None
)


class Runner:
    """The state of one actor incarnation's loop.

    Attributes:
        actor: The actor instance serving.
        mailbox: The mailbox it serves.
        task: The trio task running the actor's loop and hooks; None once it ended.
        stop_requested: Set by ``Actor.stop()``; the loop ends after the current message.
        chain: The actors waiting, through asks, for the request being handled now
            (empty while handling a tell, or an ask from outside any actor).
    """

    __slots__ = ("actor", "chain", "mailbox", "stop_requested", "task")

    def __init__(self, actor: Actor, mailbox: Mailbox, task: trio.lowlevel.Task) -> None:
        self.actor = actor
        self.mailbox = mailbox
        self.task: trio.lowlevel.Task | None = task
        self.stop_requested = False
        self.chain: tuple[Mailbox, ...] = ()

    def finish(self) -> None:
        """Record that the loop has ended: no ask from this task waits on it any more."""
        self.task = None


def chain_for_ask(target: Mailbox) -> tuple[Mailbox, ...] | None:
    """Return the chain an ask to ``target`` from the current task carries.

    ``None`` when the asker is not inside an actor's handler or hook. Only the actor's
    own task and the tasks it started in nurseries of its own (which its handler waits
    for) count as inside: a task it started in an outside nursery outlives the handler,
    and holds no actor up.

    Raises:
        AskCycleError: ``target`` is already waiting in the chain.
    """
    runner = current_runner.get()
    if runner is None or (serving := runner.task) is None:
        return None
    task = trio.lowlevel.current_task()
    while task is not serving:
        nursery = task.parent_nursery
        if nursery is None:
            return None
        task = nursery.parent_task
    chain = (*runner.chain, runner.mailbox)
    for i, waiting in enumerate(chain):
        if waiting is target:
            raise AskCycleError((*(m.name for m in chain[i:]), target.name))
    return chain
