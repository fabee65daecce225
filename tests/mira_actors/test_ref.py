"""ActorRef: tell, tell_nowait, ask, stop and statistics."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.lowlevel

from mira_actors import (
    Actor,
    ActorCrashedError,
    ActorStoppedError,
    MailboxFullError,
    open_actor,
)
from mira_actors._ref import TELLS_PER_SCHEDULE_POINT


class Recorder(Actor):
    def __init__(self) -> None:
        self.seen: list[Any] = []

    async def handle(self, message: Any) -> Any:
        self.seen.append(message)
        return ("got", message)


class Gate(Actor):
    """Holds every message until its gate opens."""

    def __init__(self) -> None:
        self.gate = trio.Event()
        self.seen: list[Any] = []

    async def handle(self, message: Any) -> Any:
        await self.gate.wait()
        self.seen.append(message)
        return message


async def test_tells_arrive_in_order_per_sender() -> None:
    """Messages from one sender are handled in the order they were sent."""
    actor = Recorder()
    async with open_actor(actor) as ref:
        for i in range(500):
            await ref.tell(i)
    assert actor.seen == list(range(500))


async def test_ask_returns_the_handlers_reply() -> None:
    """ask returns exactly what handle returned."""
    async with open_actor(Recorder()) as ref:
        assert await ref.ask("hello") == ("got", "hello")


async def test_tell_waits_while_the_mailbox_is_full(autojump_clock: trio.abc.Clock) -> None:
    """tell blocks when the mailbox is full and resumes once the actor takes a message."""
    actor = Gate()
    async with open_actor(actor, capacity=2) as ref:
        await ref.tell(0)  # taken by the actor, which waits on the gate
        await trio.lowlevel.checkpoint()
        await ref.tell(1)
        await ref.tell(2)  # the mailbox now holds 2
        with trio.move_on_after(5) as scope:
            await ref.tell(3)
        assert scope.cancelled_caught
        assert trio.current_time() == 5
        assert ref.statistics().depth == 2
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ref.tell, 3)
            await trio.sleep(1)
            assert ref.statistics().waiting_senders == 1
            actor.gate.set()
    assert actor.seen == [0, 1, 2, 3]


async def test_tell_nowait_raises_when_full() -> None:
    """tell_nowait raises MailboxFullError, a trio.WouldBlock, naming the actor."""
    actor = Gate()
    async with open_actor(actor, name="slow", capacity=1) as ref:
        ref.tell_nowait("a")  # handed straight to the waiting actor
        ref.tell_nowait("b")  # fills the one slot
        with pytest.raises(MailboxFullError, match="'slow' has a full mailbox") as info:
            ref.tell_nowait("c")
        assert isinstance(info.value, trio.WouldBlock)
        actor.gate.set()


async def test_ask_failure_carries_the_original_as_cause() -> None:
    """A handler that raises gives its asker ActorCrashedError caused by the original."""

    class Broken(Actor):
        async def handle(self, message: Any) -> Any:
            raise KeyError(message)

    with pytest.RaisesGroup(KeyError):
        async with open_actor(Broken(), name="broken") as ref:
            with pytest.raises(ActorCrashedError, match="'broken' crashed") as info:
                await ref.ask("x")
            assert isinstance(info.value.__cause__, KeyError)
            await trio.sleep_forever()  # the crash ends the block


async def test_stopped_actor_refuses_messages() -> None:
    """After stop(), tell, tell_nowait and ask raise ActorStoppedError naming the actor."""
    actor = Recorder()
    async with open_actor(actor, name="done") as ref:
        await ref.tell(1)
        await ref.stop()
        assert actor.seen == [1]  # stop waits for the queue to be handled
        assert not ref.is_alive()
        with pytest.raises(ActorStoppedError, match="'done'"):
            await ref.tell(2)
        with pytest.raises(ActorStoppedError):
            ref.tell_nowait(2)
        with pytest.raises(ActorStoppedError):
            await ref.ask(2)


async def test_statistics_track_depth_and_peak() -> None:
    """statistics() reports depth, peak, taken and capacity."""
    actor = Gate()
    async with open_actor(actor, name="stats", capacity=10) as ref:
        for i in range(4):
            ref.tell_nowait(i)
        stats = ref.statistics()
        assert (stats.name, stats.capacity, stats.depth, stats.peak) == ("stats", 10, 4, 4)
        actor.gate.set()
        await trio.testing.wait_all_tasks_blocked()
        stats = ref.statistics()
        assert (stats.depth, stats.peak, stats.taken, stats.closed) == (0, 4, 4, False)


async def test_a_loop_of_tells_lets_other_tasks_run() -> None:
    """tell is a schedule point at least every TELLS_PER_SCHEDULE_POINT tells."""
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await trio.lowlevel.checkpoint()

    async with open_actor(Recorder(), capacity=100_000) as ref, trio.open_nursery() as nursery:
        nursery.start_soon(ticker)
        await trio.lowlevel.checkpoint()
        before = ticks
        for i in range(6400):
            await ref.tell(i)
        assert ticks - before >= 6400 // TELLS_PER_SCHEDULE_POINT - 1
        nursery.cancel_scope.cancel()


async def test_tell_checks_for_cancellation_every_time() -> None:
    """Every tell raises Cancelled in a cancelled scope, before sending anything."""
    actor = Recorder()
    async with open_actor(actor) as ref:
        with trio.CancelScope() as scope:
            scope.cancel()
            for i in range(3):
                with pytest.raises(trio.Cancelled):
                    await ref.tell(i)
        await ref.tell("after")
    assert actor.seen == ["after"]


async def test_ask_from_a_cancelled_caller_sends_nothing() -> None:
    """An ask in an already cancelled scope raises Cancelled; nothing reaches the mailbox."""
    actor = Recorder()
    async with open_actor(actor) as ref:
        with trio.CancelScope() as scope:
            scope.cancel()
            for i in range(3):
                with pytest.raises(trio.Cancelled):
                    await ref.ask(i)
        assert await ref.ask("after") == ("got", "after")
        stats = ref.statistics()
        assert (stats.taken, stats.dropped) == (1, 0)
    assert actor.seen == ["after"]


async def test_stop_says_whether_it_stopped_the_actor() -> None:
    """ref.stop() returns True the first time, False once the actor is already stopped."""
    async with open_actor(Recorder()) as ref:
        assert await ref.stop() is True
        assert await ref.stop() is False
