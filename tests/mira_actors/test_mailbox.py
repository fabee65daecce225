"""Mailbox: its own bookkeeping of puts, takes and drops, closing and discarding."""

from __future__ import annotations

import math

import pytest
import trio

from mira_actors import ActorStoppedError, Mailbox, MailboxFullError
from mira_actors._mailbox import EMPTY
from mira_actors._request import Request


def test_try_put_says_whether_there_was_room() -> None:
    """try_put queues while there is room and returns False, queuing nothing, when full."""
    mailbox = Mailbox("m", capacity=2)
    assert [mailbox.try_put(i) for i in range(3)] == [True, True, False]
    stats = mailbox.statistics()
    assert (stats.depth, stats.peak) == (2, 2)
    with pytest.raises(MailboxFullError, match="'m' has a full mailbox"):
        mailbox.put_nowait(3)


def test_put_into_a_closed_mailbox_raises_actor_stopped() -> None:
    """A closed mailbox refuses every put with ActorStoppedError naming the actor."""
    mailbox = Mailbox("m")
    mailbox.close()
    with pytest.raises(ActorStoppedError, match="'m'"):
        mailbox.try_put(1)
    with pytest.raises(ActorStoppedError):
        mailbox.put_nowait(1)


def test_take_nowait_takes_in_order_then_reports_empty_and_end() -> None:
    """take_nowait returns queued messages in order, EMPTY when none, EndOfChannel once closed."""
    mailbox = Mailbox("m")
    for i in range(3):
        mailbox.put_nowait(i)
    assert [mailbox.take_nowait() for _ in range(3)] == [0, 1, 2]
    assert mailbox.take_nowait() is EMPTY
    mailbox.put_nowait(3)
    mailbox.close()
    assert mailbox.take_nowait() == 3  # a closed mailbox is still drained
    with pytest.raises(trio.EndOfChannel):
        mailbox.take_nowait()
    assert mailbox.statistics().taken == 4


async def test_take_waits_for_a_message(autojump_clock: trio.abc.Clock) -> None:
    """take waits until a message is put, and put waits for room while the mailbox is full."""
    mailbox = Mailbox("m", capacity=1)
    async with trio.open_nursery() as nursery:

        async def later() -> None:
            await trio.sleep(3)
            await mailbox.put("a")
            await mailbox.put("b")
            await mailbox.put("c")  # waits: "b" fills the one slot until it is taken

        nursery.start_soon(later)
        assert await mailbox.take() == "a"
        assert trio.current_time() == 3
        await trio.sleep(2)
        assert mailbox.statistics().waiting_senders == 1
        assert [await mailbox.take(), await mailbox.take()] == ["b", "c"]
    assert mailbox.statistics().depth == 0


async def test_drop_fails_a_waiting_asker_with_too_slow() -> None:
    """drop counts the request and fails it with TooSlowError, unless its asker has left."""
    mailbox = Mailbox("m")
    waiting, left = Request("a", 1.0), Request("b", 1.0)
    left.abandon()
    mailbox.drop(waiting)
    mailbox.drop(left)
    assert mailbox.statistics().dropped == 2
    with pytest.raises(trio.TooSlowError, match="'m': the request's deadline passed while"):
        waiting.result()
    assert not left.answered


async def test_discard_fails_queued_asks_and_is_harmless_twice() -> None:
    """discard fails each queued ask with ActorStoppedError and its reason; again does nothing."""
    mailbox = Mailbox("m")
    asks = [Request(i, math.inf) for i in range(2)]
    for item in (asks[0], "a tell", asks[1]):
        mailbox.put_nowait(item)
    mailbox.discard("it crashed")
    mailbox.discard("again")
    for ask in asks:
        with pytest.raises(ActorStoppedError, match="'m' cannot take the message: it crashed"):
            ask.result()
    stats = mailbox.statistics()
    assert (stats.depth, stats.taken, stats.closed) == (0, 3, True)
    with pytest.raises(trio.EndOfChannel):
        await mailbox.take()


async def test_wait_stopped_returns_once_marked(autojump_clock: trio.abc.Clock) -> None:
    """wait_stopped returns when the serving actor is marked stopped, at once if it already is."""
    mailbox = Mailbox("m")
    async with trio.open_nursery() as nursery:

        async def stop_later() -> None:
            await trio.sleep(2)
            mailbox.mark_stopped()

        nursery.start_soon(stop_later)
        await mailbox.wait_stopped()
        assert trio.current_time() == 2
    await mailbox.wait_stopped()
    assert trio.current_time() == 2
