"""run_actor and open_actor: asks obey the asker's deadline and cancellation."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest
import trio

from mira_actors import (
    Actor,
    ActorCrashedError,
    ActorStoppedError,
    open_actor,
    request_headers,
    time_left,
)


class Sleeper(Actor):
    """Sleeps for the requested seconds, recording virtual times as it goes."""

    def __init__(self) -> None:
        self.started: list[float] = []
        self.cancelled_at: list[float] = []
        self.finished: list[float] = []
        self.deadlines: list[float] = []

    async def handle(self, seconds: float) -> float:
        self.started.append(trio.current_time())
        self.deadlines.append(trio.current_effective_deadline())
        try:
            await trio.sleep(seconds)
        except trio.Cancelled:
            self.cancelled_at.append(trio.current_time())
            raise
        self.finished.append(trio.current_time())
        return seconds


async def test_ask_is_cancelled_with_its_asker_at_the_deadline(
    autojump_clock: trio.abc.Clock,
) -> None:
    """At the asker's deadline the handler is cancelled and the asker resumes, both at it."""
    actor = Sleeper()
    async with open_actor(actor) as ref:
        with trio.move_on_after(2.5) as scope:
            await ref.ask(10)
        assert scope.cancelled_caught
        assert trio.current_time() == 2.5
        await trio.sleep(20)
    assert actor.started == [0]
    assert actor.cancelled_at == [2.5]
    assert actor.finished == []


async def test_handler_sees_the_askers_deadline(autojump_clock: trio.abc.Clock) -> None:
    """Inside the handler, current_effective_deadline is the asker's deadline."""
    actor = Sleeper()
    async with open_actor(actor) as ref:
        with trio.move_on_after(7):
            await ref.ask(1)
        await ref.ask(1)
    assert actor.deadlines == [7, math.inf]


async def test_explicit_cancel_cancels_the_handler(autojump_clock: trio.abc.Clock) -> None:
    """Cancelling the asker's scope (no deadline) cancels the handler at that moment."""
    actor = Sleeper()
    async with open_actor(actor) as ref, trio.open_nursery() as nursery:
        scope = trio.CancelScope()

        async def asker() -> None:
            with scope:
                await ref.ask(100)

        nursery.start_soon(asker)
        await trio.sleep(3)
        scope.cancel()
    assert actor.cancelled_at == [3]


async def test_queued_ask_of_a_departed_asker_is_never_handled(
    autojump_clock: trio.abc.Clock,
) -> None:
    """An ask still queued when its asker gives up is dropped unhandled."""
    actor = Sleeper()
    async with open_actor(actor) as ref, trio.open_nursery() as nursery:
        nursery.start_soon(ref.ask, 5)  # occupies the actor for 5 s
        await trio.sleep(0.5)
        with trio.move_on_after(1):
            await ref.ask(0.5)  # queued behind it; gives up at t=1.5
        await trio.sleep(10)
        assert ref.statistics().dropped == 1
    assert actor.started == [0]
    assert actor.finished == [5]


async def test_time_left_inside_a_handler(autojump_clock: trio.abc.Clock) -> None:
    """time_left() in a handler is the asker's remaining budget."""

    class Budget(Actor):
        async def handle(self, message: Any) -> float:
            await trio.sleep(message)
            return time_left()

    async with open_actor(Budget()) as ref:
        with trio.move_on_after(10):
            assert await ref.ask(4) == 6
        assert await ref.ask(0) == math.inf


async def test_nested_ask_passes_the_budget_on(autojump_clock: trio.abc.Clock) -> None:
    """An actor that asks another passes its asker's deadline on."""
    inner = Sleeper()

    class Outer(Actor):
        def __init__(self, downstream: Any) -> None:
            self.downstream = downstream

        async def handle(self, message: Any) -> Any:
            return await self.downstream.ask(message)

    async with open_actor(inner) as inner_ref, open_actor(Outer(inner_ref)) as outer_ref:
        with trio.move_on_after(3):
            await outer_ref.ask(50)
        await trio.sleep(1)
    assert inner.deadlines == [3]
    assert inner.cancelled_at == [3]


async def test_asker_of_a_shielded_handler_resumes_when_it_ends(
    autojump_clock: trio.abc.Clock,
) -> None:
    """A handler that shields itself holds its asker until it ends, then serves on."""

    class Stubborn(Actor):
        async def handle(self, message: Any) -> str:
            with trio.CancelScope(shield=True):
                await trio.sleep(5)
            return "late"

    async with open_actor(Stubborn()) as ref:
        with trio.move_on_after(1) as scope:
            await ref.ask("x")
        assert scope.cancelled_caught
        assert trio.current_time() == 5  # as shielded code in the asker's own scope would
        assert await ref.ask("y") == "late"
        assert trio.current_time() == 10


async def test_moved_deadline_gives_too_slow(autojump_clock: trio.abc.Clock) -> None:
    """If the asker's deadline moves later, the request's own deadline still holds."""
    async with open_actor(Sleeper()) as ref:
        with trio.CancelScope(deadline=trio.current_time() + 2) as scope:

            async def extend() -> None:
                await trio.sleep(1)
                scope.deadline += 10

            async with trio.open_nursery() as nursery:
                nursery.start_soon(extend)
                with pytest.raises(trio.TooSlowError, match="deadline passed"):
                    await ref.ask(5)
        assert trio.current_time() == 2


async def test_crash_fails_queued_asks_with_actor_stopped(
    autojump_clock: trio.abc.Clock,
) -> None:
    """When an unsupervised actor crashes, asks queued behind the crash fail clearly."""

    class Fragile(Actor):
        async def handle(self, message: Any) -> Any:
            await trio.sleep(1)
            if message == "boom":
                raise ValueError("boom")
            return message

    errors: dict[str, Exception] = {}

    async def ask_and_keep(ref: Any, message: str) -> None:
        try:
            await ref.ask(message)
        except Exception as exc:
            errors[message] = exc

    with pytest.RaisesGroup(ValueError):
        async with open_actor(Fragile(), name="fragile") as ref, trio.open_nursery() as nursery:
            nursery.start_soon(ask_and_keep, ref, "boom")
            await trio.sleep(0.5)
            nursery.start_soon(ask_and_keep, ref, "after")
    assert type(errors["boom"]) is ActorCrashedError
    assert type(errors["after"]) is ActorStoppedError
    assert "'fragile' cannot take the message" in str(errors["after"])


async def test_lifecycle_hooks_run_in_order() -> None:
    """on_start runs before the first message, on_stop after the last."""
    events: list[str] = []

    class Hooked(Actor):
        async def on_start(self) -> None:
            events.append("start")

        async def handle(self, message: Any) -> None:
            events.append(message)

        async def on_stop(self) -> None:
            events.append("stop")

    async with open_actor(Hooked()) as ref:
        await ref.tell("m")
    assert events == ["start", "m", "stop"]


async def test_no_task_left_after_open_actor(live_tasks: Any) -> None:
    """open_actor leaves no task behind."""
    before = len(live_tasks())
    async with open_actor(Sleeper()) as ref:
        await ref.ask(0)
        assert len(live_tasks()) > before
    assert len(live_tasks()) == before


async def test_actor_serves_on_after_an_abandoned_ask(autojump_clock: trio.abc.Clock) -> None:
    """After an ask is abandoned mid-handler, later messages run with no leftover deadline."""
    actor = Sleeper()
    async with open_actor(actor) as ref:
        with trio.move_on_after(1):
            await ref.ask(10)
        assert await ref.ask(2) == 2
        with trio.move_on_after(20):
            assert await ref.ask(3) == 3
    assert actor.deadlines == [1, math.inf, 23]
    assert actor.cancelled_at == [1]
    assert actor.finished == [3, 6]


async def test_handler_that_swallows_cancellation_does_not_poison_the_next(
    autojump_clock: trio.abc.Clock,
) -> None:
    """A handler that catches its cancellation and returns leaves the actor serving normally."""
    seen: list[tuple[str, float]] = []

    class Swallower(Actor):
        async def handle(self, message: str) -> str:
            try:
                await trio.sleep(5)
            except trio.Cancelled:
                seen.append((message, trio.current_time()))
                return "swallowed"
            seen.append((message, trio.current_time()))
            return message

    async with open_actor(Swallower()) as ref:
        with trio.move_on_after(1):
            await ref.ask("first")
        await ref.tell("told")
        assert await ref.ask("second") == "second"
    assert seen == [("first", 1), ("told", 6), ("second", 11)]


async def test_tells_never_inherit_an_askers_deadline(autojump_clock: trio.abc.Clock) -> None:
    """A tell handled right after a deadline-bound ask runs with no deadline."""
    actor = Sleeper()
    async with open_actor(actor) as ref:
        with trio.move_on_after(4):
            await ref.ask(1)
        await ref.tell(1)
    assert actor.deadlines == [4, math.inf]
    assert actor.finished == [1, 2]


async def test_request_headers_reach_only_their_handler() -> None:
    """A handler sees its own ask's headers; tells and plain asks see none."""
    seen: list[dict[str, Any]] = []

    class Reader(Actor):
        async def handle(self, message: Any) -> None:
            seen.append(dict(request_headers()))

    async with open_actor(Reader()) as ref:
        await ref.ask("a", headers={"idempotency_key": "run:a:1"})
        await ref.tell("b")
        await ref.ask("c")
    assert seen == [{"idempotency_key": "run:a:1"}, {}, {}]
    assert dict(request_headers()) == {}


async def test_cancelled_handler_unwinds_before_its_asker_resumes(
    autojump_clock: trio.abc.Clock,
) -> None:
    """When the asker gives up, its handler has finished unwinding by the time it resumes."""
    for _ in range(20):  # trio orders same-instant wakeups at random: try both orders
        actor = Sleeper()
        async with open_actor(actor) as ref:
            with trio.move_on_after(1):
                await ref.ask(10)
            assert len(actor.cancelled_at) == 1  # already recorded when the asker resumed


async def test_cancelled_handler_cleanup_finishes_before_its_asker_resumes(
    autojump_clock: trio.abc.Clock,
) -> None:
    """A handler's cleanup ends before its asker resumes, however many checkpoints it makes."""
    unwound: list[float] = []

    class SlowUnwind(Actor):
        async def handle(self, message: Any) -> None:
            try:
                await trio.sleep(10)
            finally:
                with trio.CancelScope(shield=True):
                    for _ in range(3):
                        await trio.lowlevel.checkpoint()
                unwound.append(trio.current_time())

    async with open_actor(SlowUnwind()) as ref:
        for i in range(20):  # trio orders same-instant wakeups at random
            with trio.move_on_after(1):
                await ref.ask("x")
            assert unwound == [float(n + 1) for n in range(i + 1)]


async def test_queued_ask_past_its_deadline_fails_with_too_slow(
    autojump_clock: trio.abc.Clock,
) -> None:
    """A queued ask past its deadline fails with TooSlowError when the asker's deadline moved."""
    actor = Sleeper()
    async with open_actor(actor) as ref, trio.open_nursery() as nursery:
        nursery.start_soon(ref.ask, 5)  # keeps the actor busy until t=5
        await trio.sleep(0.5)
        with trio.CancelScope(deadline=2) as scope:

            async def move_deadline_later() -> None:
                await trio.sleep(1)
                scope.deadline = 100

            nursery.start_soon(move_deadline_later)
            with pytest.raises(trio.TooSlowError, match="deadline passed while it was queued"):
                await ref.ask(1)
        assert trio.current_time() == 5  # when the actor reached it
        assert ref.statistics().dropped == 1
    assert actor.started == [0]


async def test_stop_in_on_start_stops_before_any_message(autojump_clock: trio.abc.Clock) -> None:
    """stop() in on_start: no message is taken, on_stop runs, asks fail with ActorStoppedError."""
    events: list[str] = []

    class Quitter(Actor):
        async def on_start(self) -> None:
            events.append("start")
            self.stop()

        async def handle(self, message: Any) -> None:
            events.append(message)  # pragma: no cover

        async def on_stop(self) -> None:
            events.append("stop")

    async with open_actor(Quitter(), name="quitter") as ref:
        with trio.move_on_after(10), pytest.raises(ActorStoppedError, match="'quitter'"):
            await ref.ask("x")
        assert trio.current_time() == 0
    assert events == ["start", "stop"]


async def test_actor_stop_from_outside_its_own_code_is_refused() -> None:
    """Actor.stop() called by another task raises RuntimeError pointing to ref.stop()."""
    actor = Sleeper()
    async with open_actor(actor):
        with pytest.raises(RuntimeError, match=r"await ref.stop\(\)"):
            actor.stop()


async def test_busy_actor_yields_when_its_slice_of_trio_time_is_used(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The time slice is read from trio's clock: handlers that take virtual time let others run."""
    seen: list[int] = []
    ticks = 0

    class Busy(Actor):
        async def handle(self, message: int) -> None:  # never awaits
            autojump_clock.jump(0.001)  # a millisecond of work, on trio's clock
            seen.append(ticks)

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await trio.lowlevel.checkpoint()

    async with open_actor(Busy()) as ref, trio.open_nursery() as nursery:
        for i in range(6):
            ref.tell_nowait(i)
        nursery.start_soon(ticker)
        while len(seen) < 6:
            await trio.lowlevel.checkpoint()
        nursery.cancel_scope.cancel()
    # One message per scheduling batch, and the ticker runs once per batch, before or after
    # the actor at random: each count is seen at most twice, so at least 3 distinct ones.
    assert len(set(seen)) >= 3, seen


async def test_busy_actor_yields_when_its_time_slice_is_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An actor draining a full mailbox lets other tasks run once its time slice is up."""
    seen: list[tuple[str, int]] = []
    ticks = 0

    class Busy(Actor):
        async def handle(self, message: int) -> None:  # never awaits: pure CPU
            seen.append(("handled", ticks))

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await trio.lowlevel.checkpoint()

    for slice_seconds, interleaved in ((-1.0, True), (60.0, False)):
        monkeypatch.setattr("mira_actors._runner.SLICE", slice_seconds)
        seen.clear()
        async with open_actor(Busy()) as ref, trio.open_nursery() as nursery:
            for i in range(6):
                ref.tell_nowait(i)
            nursery.start_soon(ticker)
            while len(seen) < 6:
                await trio.lowlevel.checkpoint()
            nursery.cancel_scope.cancel()
        ticks_seen = [t for _, t in seen]
        # Interleaved: one message a batch, each tick count seen at most twice (see above).
        assert (len(set(ticks_seen)) >= 3) is interleaved, ticks_seen


class Blocker(Actor):
    """Holds the trio thread with time.sleep, or waits with trio.sleep, for real seconds."""

    blocking_threshold = 0.01

    async def handle(self, message: tuple[str, float]) -> None:
        how, seconds = message
        if how == "block":
            time.sleep(seconds)  # noqa: ASYNC251 - the point: a handler that blocks
        else:
            await trio.sleep(seconds)


async def test_a_handler_that_blocks_the_loop_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    """A handler call holding the thread past blocking_threshold logs a loop_blocked warning."""
    async with open_actor(Blocker(), name="blocker") as ref:
        await ref.ask(("block", 0.05))
        await ref.tell(("block", 0.05))
    records = [r for r in caplog.records if getattr(r, "event_type", None) == "loop_blocked"]
    assert len(records) == 2
    for record in records:
        assert record.levelname == "WARNING"
        assert record.actor == "blocker"
        assert 0.05 <= record.duration_seconds < 5
        assert record.threshold_seconds == 0.01
        assert "'thread' or 'process' backend" in record.getMessage()
        assert "mira_actors.check_deadline()" in record.getMessage()


async def test_a_handler_that_waits_is_not_logged_as_blocking(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Time a handler spends awaiting is not blocking: no loop_blocked warning."""
    async with open_actor(Blocker()) as ref:
        await ref.ask(("wait", 0.05))
        await ref.tell(("wait", 0.05))
    assert not [r for r in caplog.records if getattr(r, "event_type", None) == "loop_blocked"]
