"""Restart kinds, the restart intensity, and handler failures reaching the asker."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

from mira_actors import Actor, ActorCrashedError, ActorStoppedError
from supervisors import (
    ChildStatus,
    Restart,
    RestartIntensityError,
    open_supervisor,
)
from tests.supervisors.workers import TE, TR, P, Worker, spawn_workers

# Restart kinds


@pytest.mark.parametrize(
    ("restart", "restarted"), [(P, True), (TR, True), (TE, False)], ids=lambda v: str(v)
)
async def test_crash_restarts_permanent_and_transient_but_not_temporary(
    restart: Restart, restarted: bool
) -> None:
    """After a crash, permanent and transient children restart; a temporary one is retired."""
    journal: list[str] = []
    async with open_supervisor() as supervisor:
        ref = await supervisor.spawn(Worker, "w", journal, name="w", restart=restart)
        with pytest.raises(ActorCrashedError):
            await ref.ask("crash")
        if restarted:
            assert await ref.ask("again") == ("w", "again")
            assert supervisor.children == [
                ChildStatus(name="w", restart=restart, restarts=1, running=True)
            ]
            assert journal == ["start w", "fail w: ValueError", "start w"]
        else:
            with pytest.raises(ActorStoppedError, match="'w' cannot take the message"):
                await ref.ask("again")
            assert supervisor.children == []
            assert not ref.is_alive()
            assert journal == ["start w", "fail w: ValueError"]


@pytest.mark.parametrize(
    ("restart", "restarted"), [(P, True), (TR, False), (TE, False)], ids=lambda v: str(v)
)
async def test_actor_stop_restarts_only_a_permanent_child(
    autojump_clock: trio.abc.Clock, restart: Restart, restarted: bool
) -> None:
    """Actor.stop() in a handler restarts a permanent child; others retire, failing queued asks."""
    journal: list[str] = []
    async with open_supervisor() as supervisor:
        ref = await supervisor.spawn(Worker, "w", journal, name="w", restart=restart)
        await ref.tell(1)  # keeps the actor busy until t=1
        await ref.tell("quit")
        if restarted:
            assert await ref.ask("queued") == ("w", "queued")
            assert supervisor.children[0].restarts == 1
            assert journal == ["start w", "stop w", "start w"]
        else:
            with pytest.raises(ActorStoppedError, match="'w' cannot take the message"):
                await ref.ask("queued")
            assert supervisor.children == []
            assert journal == ["start w", "stop w"]
        assert trio.current_time() == 1


async def test_restart_builds_a_fresh_instance_from_the_factory() -> None:
    """A restarted child is a new factory(*args) instance: its state starts over."""

    class Counter(Actor):
        def __init__(self, start: int) -> None:
            self.count = start

        async def handle(self, message: Any) -> int:
            if message == "crash":
                raise ValueError(message)
            self.count += message
            return self.count

    async with open_supervisor() as supervisor:
        ref = await supervisor.spawn(Counter, 100, name="counter")
        assert await ref.ask(5) == 105
        with pytest.raises(ActorCrashedError):
            await ref.ask("crash")
        assert await ref.ask(1) == 101


async def test_ref_stop_is_never_restarted(autojump_clock: trio.abc.Clock) -> None:
    """ref.stop() lets a permanent child drain its queue and run on_stop; it stays stopped."""
    journal: list[str] = []
    async with open_supervisor() as supervisor:
        refs = await spawn_workers(supervisor, journal, ("a", P), ("b", P))
        worker_a = refs["a"]
        await worker_a.tell(1)
        await worker_a.tell(2)
        await worker_a.stop()
        assert trio.current_time() == 3
        assert journal == ["start a", "start b", "stop a"]
        assert [c.name for c in supervisor.children] == ["b"]
        assert not worker_a.is_alive()
        with pytest.raises(ActorStoppedError, match="'a' cannot take the message"):
            await worker_a.tell("late")


# Handler failures reach the asker


async def test_ask_to_a_crashing_handler_gets_the_cause_and_the_child_restarts() -> None:
    """The asker gets ActorCrashedError naming the actor, with the original as its cause."""
    journal: list[str] = []
    async with open_supervisor() as supervisor:
        ref = await supervisor.spawn(Worker, "w", journal, name="w")
        with pytest.raises(ActorCrashedError, match="actor 'w' crashed handling the request") as e:
            await ref.ask("crash")
        assert type(e.value.__cause__) is ValueError
        assert str(e.value.__cause__) == "w was told to crash"
        assert await ref.ask("after") == ("w", "after")
        assert supervisor.children[0].restarts == 1


# Intensity


async def test_intensity_exceeded_fails_the_supervisor(
    autojump_clock: trio.abc.Clock, live_tasks: Any
) -> None:
    """The restart past max_restarts within `within` raises RestartIntensityError naming both."""
    journal: list[str] = []
    before = len(live_tasks())
    with pytest.RaisesGroup(
        pytest.RaisesExc(
            RestartIntensityError,
            match=r"^supervisor 'sup' gave up: more than 2 restarts within 10 seconds, "
            r"the last after actor 'b' crashed; fix the crash or raise max_restarts$",
            check=lambda e: type(e.__cause__) is ValueError and e.child == "b",
        )
    ):
        async with open_supervisor(name="sup", max_restarts=2, within=10) as supervisor:
            await spawn_workers(supervisor, journal, ("a", P))
            ref = (await spawn_workers(supervisor, journal, ("b", P)))["b"]
            for _ in range(3):
                await trio.sleep(1)
                await ref.tell("crash")
            await trio.sleep_forever()
    assert trio.current_time() == 3
    assert journal.count("start b") == 3
    assert len(live_tasks()) == before


async def test_restarts_spread_wider_than_within_do_not_trip(
    autojump_clock: trio.abc.Clock,
) -> None:
    """Only restarts inside the sliding window count: spaced out, any number are allowed."""
    journal: list[str] = []
    with pytest.RaisesGroup(
        pytest.RaisesExc(RestartIntensityError, match="more than 1 restarts.*actor 'w'")
    ):
        async with open_supervisor(max_restarts=1, within=5) as supervisor:
            ref = (await spawn_workers(supervisor, journal, ("w", P)))["w"]
            for at in (0, 6, 12, 18):
                await trio.sleep_until(at)
                await ref.tell("crash")
            await trio.sleep(1)
            assert supervisor.children[0].restarts == 4
            await ref.tell("crash")  # at 19, one second after the restart at 18
            await trio.sleep_forever()
    assert trio.current_time() == 19


async def test_intensity_counts_restarts_of_every_child(autojump_clock: trio.abc.Clock) -> None:
    """The intensity is the supervisor's: crashes of different children add up."""
    journal: list[str] = []
    with pytest.RaisesGroup(
        pytest.RaisesExc(RestartIntensityError, match="the last after actor 'c' crashed")
    ):
        async with open_supervisor(max_restarts=2, within=5) as supervisor:
            refs = await spawn_workers(supervisor, journal, ("a", P), ("b", P), ("c", P))
            for name in "abc":
                await trio.sleep(1)
                await refs[name].tell("crash")
            await trio.sleep_forever()
    assert trio.current_time() == 3


async def test_restart_whose_on_start_keeps_failing_exceeds_intensity(
    autojump_clock: trio.abc.Clock,
) -> None:
    """Each failed restart counts; the on_start error is the RestartIntensityError's cause."""

    class BadRestart(Actor):
        starts = 0

        async def on_start(self) -> None:
            BadRestart.starts += 1
            if BadRestart.starts > 1:
                await trio.sleep(1)
                msg = "cannot reconnect"
                raise ConnectionError(msg)

        async def handle(self, message: Any) -> None:
            raise ValueError(message)

    with pytest.RaisesGroup(
        pytest.RaisesExc(
            RestartIntensityError,
            match="more than 3 restarts within 10 seconds, the last after actor 'flaky'",
            check=lambda e: type(e.__cause__) is ConnectionError,
        )
    ):
        async with open_supervisor(max_restarts=3, within=10) as supervisor:
            ref = await supervisor.spawn(BadRestart, name="flaky")
            await ref.tell("crash")
            await trio.sleep_forever()
    assert BadRestart.starts == 4
    assert trio.current_time() == 3
