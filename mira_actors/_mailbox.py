"""The mailbox: a bounded memory channel that outlives the actors serving it."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

import attrs
import trio

from ._exceptions import ActorStoppedError, MailboxFullError
from ._request import Request
from .instrumentation import _hooks

DEFAULT_CAPACITY = 1000

EMPTY: Any = object()
"""What :meth:`Mailbox.take_nowait` returns when nothing is queued."""


@attrs.frozen(kw_only=True)
class MailboxStatistics:
    """A snapshot of one mailbox.

    Attributes:
        name: The actor's name.
        capacity: How many messages the mailbox holds before senders wait.
        depth: Messages queued now and not yet taken by the actor.
        peak: The largest depth seen so far.
        waiting_senders: Tasks blocked in ``tell`` or ``ask`` for room.
        taken: Messages the actor has taken so far (handled or dropped).
        dropped: Asks taken but not handled because their asker had given up or their
            deadline had passed.
        closed: Whether the mailbox refuses new messages.
    """

    name: str
    capacity: int
    depth: int
    peak: int
    waiting_senders: int
    taken: int
    dropped: int
    closed: bool


class Mailbox:
    """A named, bounded queue of messages for one actor.

    A restarted actor serves the same mailbox, so nothing sent during a restart is
    lost. Closing it lets the actor finish what is queued and then stop. The mailbox
    keeps its own counts: senders go through :meth:`try_put` / :meth:`put`, the actor
    through :meth:`take_nowait` / :meth:`take`, and :meth:`drop` for asks it skips.
    """

    __slots__ = (
        "__weakref__",  # instrumentation observes a mailbox's depth while it lives
        "_discarded",
        "_is_stopped",
        "_put",
        "_receive",
        "_send",
        "_stopped",
        "capacity",
        "closed",
        "dropped",
        "name",
        "peak",
        "put_count",
        "taken",
    )

    def __init__(self, name: str, capacity: int = DEFAULT_CAPACITY) -> None:
        if not isinstance(name, str):
            msg = f"actor name must be a str, got {type(name).__name__}"
            raise TypeError(msg)
        if not name:
            msg = "actor name must be a non-empty str"
            raise ValueError(msg)
        if not isinstance(capacity, int) or isinstance(capacity, bool):
            msg = f"mailbox capacity must be an int, got {type(capacity).__name__}"
            raise TypeError(msg)
        if capacity < 0:
            msg = f"mailbox capacity must be >= 0, got {capacity}"
            raise ValueError(msg)
        self.name = name
        self.capacity = capacity
        self._send, self._receive = trio.open_memory_channel[Any](capacity)
        self._put = self._send.send_nowait
        # Created only when someone waits: an idle actor needs no Event (~270 bytes).
        self._stopped: trio.Event | None = None
        self._is_stopped = False
        self._discarded = False
        self.put_count = 0
        self.taken = 0
        self.dropped = 0
        self.peak = 0
        self.closed = False
        hooks = _hooks.hooks
        if hooks is not None:
            hooks.mailbox_opened(self)

    # The senders' side.

    def try_put(self, message: Any) -> bool:
        """Queue ``message`` if there is room now; return whether it was queued.

        Raises:
            ActorStoppedError: the mailbox is closed.
        """
        try:
            self._put(message)
        except trio.WouldBlock:
            return False
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            raise ActorStoppedError(self.name) from None
        self.put_count += 1
        depth = self.put_count - self.taken
        if depth > self.peak:
            self.peak = depth
        return True

    def put_nowait(self, message: Any) -> None:
        """Queue ``message`` or raise MailboxFullError at once."""
        if not self.try_put(message):
            raise MailboxFullError(self.name, self.capacity)

    async def put(self, message: Any) -> None:
        """Queue ``message``, waiting for room while the mailbox is full.

        A checkpoint: it raises trio.Cancelled when cancelled, and waits (a schedule
        point) when the mailbox is full.
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        if self.try_put(message):
            return
        try:
            await self._send.send(message)
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            raise ActorStoppedError(self.name) from None
        # Counted once the message is in, so the counts never overstate what is buffered.
        self.put_count += 1
        depth = self.put_count - self.taken
        if depth > self.peak:
            self.peak = depth

    # The actor's side.

    def take_nowait(self) -> Any:
        """Take the next queued message, or return ``EMPTY`` when none is queued.

        Raises:
            trio.EndOfChannel: the mailbox is closed and drained, or discarded.
        """
        # The counts never overstate what is buffered, so this never raises WouldBlock
        # and an idle mailbox costs no exception per message.
        if self.put_count <= self.taken:
            if self.closed:
                raise trio.EndOfChannel
            return EMPTY
        try:
            item = self._receive.receive_nowait()
        except trio.ClosedResourceError:
            raise trio.EndOfChannel from None
        self.taken += 1
        return item

    async def take(self) -> Any:
        """Wait for the next message and take it.

        Raises:
            trio.EndOfChannel: the mailbox is closed and drained, or discarded.
        """
        try:
            item = await self._receive.receive()
        except trio.ClosedResourceError:
            raise trio.EndOfChannel from None
        self.taken += 1
        return item

    def receive(self) -> Coroutine[Any, Any, Any]:
        """Return the channel's own receive, for a caller that counts the take itself.

        Awaiting it is :meth:`take` without its frame (the idle actor's wait), except
        that a discarded mailbox raises trio.ClosedResourceError and the caller adds
        one to ``taken``.
        """
        return self._receive.receive()

    def drop(self, request: Request) -> None:
        """Count a request taken but not handled; fail it if its asker still waits.

        Its asker gave up (abandoned) or its deadline passed while it was queued; an
        asker whose own deadline was moved later gets trio.TooSlowError, as ``ask``
        documents, rather than waiting for a reply that will never come.
        """
        self.dropped += 1
        if not request.abandoned:
            request.fail(
                trio.TooSlowError(
                    f"actor {self.name!r}: the request's deadline passed while it was queued"
                )
            )

    # Closing.

    def close(self) -> None:
        """Refuse new messages; the actor handles what is queued, then stops."""
        self.closed = True
        self._send.close()

    def discard(self, reason: str) -> None:
        """Close the mailbox and fail every queued ask with ActorStoppedError.

        Used when no actor will serve this mailbox again. Discarding twice does nothing
        more.
        """
        if self._discarded:
            return
        self._discarded = True
        self.close()
        while True:
            try:
                item = self._receive.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel):
                break
            self.taken += 1
            if type(item) is Request and not item.abandoned:
                item.fail(ActorStoppedError(self.name, reason))
        self._receive.close()
        self.mark_stopped()

    def mark_stopped(self) -> None:
        """Record that no actor serves this mailbox any more."""
        self._is_stopped = True
        if self._stopped is not None:
            self._stopped.set()

    async def wait_stopped(self) -> None:
        """Wait until no actor serves this mailbox any more."""
        if self._is_stopped:
            await trio.lowlevel.checkpoint()
            return
        if self._stopped is None:
            self._stopped = trio.Event()
        await self._stopped.wait()

    def statistics(self) -> MailboxStatistics:
        """Return a snapshot of the mailbox's counters."""
        channel = self._send.statistics()
        return MailboxStatistics(
            name=self.name,
            capacity=self.capacity,
            depth=self.put_count - self.taken,
            peak=self.peak,
            waiting_senders=channel.tasks_waiting_send,
            taken=self.taken,
            dropped=self.dropped,
            closed=self.closed,
        )
