"""open_supervisor: strategies, restart kinds, intensity, mailboxes kept, clean exits."""

from __future__ import annotations

import logging
import math
from typing import Any

import pytest
import trio
import trio.testing

from mira_actors import Actor, ActorCrashedError, ActorStoppedError
from supervisors import (
    ChildStatus,
    Restart,
    RestartIntensityError,
    Strategy,
    open_supervisor,
)


class Worker(Actor):
    """Writes its lifecycle to a shared journal.

    "crash" raises, "park" sleeps 100 s noting a cancellation, "quit" calls Actor.stop(),
    a number sleeps that many seconds; every message is answered with (name, message).
    """

    def __init__(self, name: str, journal: list[str]) -> None:
        self.name = name
        self.journal = journal
        self.seen: list[Any] = []

    async def on_start(self) -> None:
        self.journal.append(f"start {self.name}")

    async def on_stop(self) -> None:
        self.journal.append(f"stop {self.name}")

    async def on_failure(self, exc: BaseException) -> None:
        self.journal.append(f"fail {self.name}: {type(exc).__name__}")

    async def handle(self, message: Any) -> Any:
        if message == "crash":
            msg = f"{self.name} was told to crash"
            raise ValueError(msg)
        if message == "park":
            try:
                await trio.sleep(100)
            except trio.Cancelled:
                self.journal.append(f"cancel {self.name}")
                raise
        if message == "quit":
            self.stop()
        if isinstance(message, int | float):
            await trio.sleep(message)
        self.seen.append(message)
        return (self.name, message)


async def spawn_workers(
    supervisor: Any, journal: list[str], *specs: tuple[str, Restart]
) -> dict[str, Any]:
    """Spawn one Worker per (name, restart kind), in order; return their refs by name."""
    return {
        name: await supervisor.spawn(Worker, name, journal, name=name, restart=restart)
        for name, restart in specs
    }


P, TR, TE = Restart.PERMANENT, Restart.TRANSIENT, Restart.TEMPORARY


# Restart strategies


async def test_one_for_one_restarts_only_the_crashed_child(autojump_clock: trio.abc.Clock) -> None:
    """ONE_FOR_ONE restarts the crashed child and leaves its siblings running untouched."""
    journal: list[str] = []
    async with open_supervisor(strategy=Strategy.ONE_FOR_ONE) as supervisor:
        refs = await spawn_workers(supervisor, journal, ("a", P), ("b", P), ("c", P))
        await refs["a"].tell("park")
        await refs["c"].tell("park")
        await trio.sleep(1)
        journal.clear()
        await refs["b"].tell("crash")
        await trio.sleep(1)
        assert journal == ["fail b: ValueError", "start b"]
        assert [(c.name, c.restarts) for c in supervisor.children] == [
            ("a", 0),
            ("b", 1),
            ("c", 0),
        ]
        journal.clear()
    assert journal == ["stop c", "stop b", "stop a"]  # after a and c finish parking
    assert trio.current_time() == 100


async def test_one_for_all_stops_siblings_in_reverse_and_restarts_all_in_order(
    autojump_clock: trio.abc.Clock,
) -> None:
    """ONE_FOR_ALL cancels the others last-started first, then starts every child in order."""
    journal: list[str] = []
    async with open_supervisor(strategy=Strategy.ONE_FOR_ALL) as supervisor:
        refs = await spawn_workers(supervisor, journal, ("a", P), ("b", P), ("c", P), ("d", P))
        for name in "acd":
            await refs[name].tell("park")
        await trio.sleep(1)
        journal.clear()
        await refs["b"].tell("crash")
        await trio.sleep(1)
        assert journal == [
            "fail b: ValueError",
            "cancel d",
            "cancel c",
            "cancel a",
            "start a",
            "start b",
            "start c",
            "start d",
        ]
        assert [c.restarts for c in supervisor.children] == [1, 1, 1, 1]


async def test_rest_for_one_restarts_the_crashed_child_and_those_after_it(
    autojump_clock: trio.abc.Clock,
) -> None:
    """REST_FOR_ONE restarts the crashed child and later ones; earlier ones keep running."""
    journal: list[str] = []
    async with open_supervisor(strategy=Strategy.REST_FOR_ONE) as supervisor:
        refs = await spawn_workers(supervisor, journal, ("a", P), ("b", P), ("c", P), ("d", P))
        for name in "acd":
            await refs[name].tell("park")
        await trio.sleep(1)
        journal.clear()
        await refs["b"].tell("crash")
        await trio.sleep(1)
        assert journal == [
            "fail b: ValueError",
            "cancel d",
            "cancel c",
            "start b",
            "start c",
            "start d",
        ]
        assert [c.restarts for c in supervisor.children] == [0, 1, 1, 1]
        journal.clear()
    assert journal == ["stop d", "stop c", "stop b", "stop a"]
    assert trio.current_time() == 100  # a, never restarted, finished parking


async def test_group_restart_retires_temporary_siblings(autojump_clock: trio.abc.Clock) -> None:
    """Under ONE_FOR_ALL a temporary sibling is stopped for good, and its mailbox closed."""
    journal: list[str] = []
    async with open_supervisor(strategy=Strategy.ONE_FOR_ALL) as supervisor:
        refs = await spawn_workers(supervisor, journal, ("a", P), ("t", TE), ("c", TR))
        await refs["t"].tell("park")
        await trio.sleep(1)
        journal.clear()
        await refs["a"].tell("crash")
        await trio.sleep(1)
        assert journal == ["fail a: ValueError", "cancel t", "start a", "start c"]
        assert [c.name for c in supervisor.children] == ["a", "c"]
        assert not refs["t"].is_alive()
        with pytest.raises(ActorStoppedError, match="'t' cannot take the message"):
            await refs["t"].ask("hello")


async def test_group_restart_fails_the_asks_its_siblings_were_serving(
    autojump_clock: trio.abc.Clock,
) -> None:
    """A sibling cancelled by a group restart fails its in-flight ask; queued ones survive."""
    journal: list[str] = []
    async with open_supervisor(strategy=Strategy.ONE_FOR_ALL) as supervisor:
        refs = await spawn_workers(supervisor, journal, ("a", P), ("b", P))
        results: dict[str, Any] = {}

        async def ask(key: str, message: Any) -> None:
            try:
                results[key] = await refs["b"].ask(message)
            except ActorStoppedError as exc:
                results[key] = exc

        async with trio.open_nursery() as nursery:
            nursery.start_soon(ask, "in flight", 10)
            await trio.sleep(1)
            nursery.start_soon(ask, "queued", 0)
            await trio.sleep(1)
            await refs["a"].tell("crash")
        assert trio.current_time() == 2
        assert "stopped while handling the request" in str(results["in flight"])
        assert results["queued"] == ("b", 0)


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


# No message lost across a restart


async def test_messages_sent_during_a_restart_are_handled_after_it(
    autojump_clock: trio.abc.Clock,
) -> None:
    """Tells and asks sent while a child is down or restarting reach the restarted instance."""
    handled: list[tuple[float, Any]] = []

    class SlowStart(Actor):
        async def on_start(self) -> None:
            await trio.sleep(1)

        async def handle(self, message: Any) -> Any:
            if message == "crash":
                raise ValueError(message)
            handled.append((trio.current_time(), message))
            return message

    async with open_supervisor() as supervisor:
        ref = await supervisor.spawn(SlowStart, name="slow")
        assert trio.current_time() == 1
        await ref.tell("crash")
        await ref.tell("queued behind the crash")
        await trio.sleep(0.5)  # the restart's on_start is running now
        assert supervisor.children[0].restarts == 1
        await ref.tell("during the restart")
        assert await ref.ask("asked during the restart") == "asked during the restart"
        assert trio.current_time() == 2
    assert handled == [
        (2, "queued behind the crash"),
        (2, "during the restart"),
        (2, "asked during the restart"),
    ]


async def test_children_that_crash_together_restart_once(
    autojump_clock: trio.abc.Clock, live_tasks: Any
) -> None:
    """Two ONE_FOR_ALL children crashing at once cause one group restart, one task each."""
    journal: list[str] = []
    async with open_supervisor(strategy=Strategy.ONE_FOR_ALL, max_restarts=5) as supervisor:
        refs = await spawn_workers(supervisor, journal, ("a", P), ("b", P))
        tasks = len(live_tasks())
        await refs["a"].tell(1)
        await refs["a"].tell("crash")
        await refs["b"].tell(1)
        await refs["b"].tell("crash")
        await trio.sleep(2)
        # the two crashes are handled in either order; each child starts twice
        assert sorted(journal) == [
            "fail a: ValueError",
            "fail b: ValueError",
            "start a",
            "start a",
            "start b",
            "start b",
        ]
        assert [c.restarts for c in supervisor.children] == [1, 1]
        assert len(live_tasks()) == tasks


async def test_sibling_failing_while_being_cancelled_is_not_restarted_twice(
    autojump_clock: trio.abc.Clock, live_tasks: Any
) -> None:
    """A sibling that raises instead of Cancelled during a group restart gets one restart."""
    journal: list[str] = []

    class Stubborn(Actor):
        async def on_start(self) -> None:
            journal.append("start stubborn")

        async def handle(self, message: Any) -> None:
            with trio.CancelScope(shield=True):
                await trio.sleep(message)
            msg = "cleanup failed"
            raise OSError(msg)

    async with open_supervisor(strategy=Strategy.ONE_FOR_ALL, max_restarts=5) as supervisor:
        worker_a = (await spawn_workers(supervisor, journal, ("a", P)))["a"]
        stubborn = await supervisor.spawn(Stubborn, name="stubborn")
        tasks = len(live_tasks())
        await stubborn.tell(2)
        await trio.sleep(1)
        await worker_a.tell("crash")
        await trio.sleep(2)
        assert journal == [
            "start a",
            "start stubborn",
            "fail a: ValueError",
            "start a",
            "start stubborn",
        ]
        assert [c.restarts for c in supervisor.children] == [1, 1]
        assert len(live_tasks()) == tasks


async def test_temporary_sibling_failing_while_being_cancelled_is_retired_once(
    autojump_clock: trio.abc.Clock,
) -> None:
    """A temporary sibling that raises while a group restart cancels it does not break it."""

    class Stubborn(Actor):
        async def handle(self, message: Any) -> None:
            with trio.CancelScope(shield=True):
                await trio.sleep(message)
            msg = "cleanup failed"
            raise OSError(msg)

    journal: list[str] = []
    async with open_supervisor(strategy=Strategy.ONE_FOR_ALL) as supervisor:
        worker_a = (await spawn_workers(supervisor, journal, ("a", P)))["a"]
        stubborn = await supervisor.spawn(Stubborn, name="stubborn", restart=TE)
        await stubborn.tell(2)
        await trio.sleep(1)
        await worker_a.tell("crash")
        await trio.sleep(2)
        assert [c.name for c in supervisor.children] == ["a"]
        assert await worker_a.ask("still here") == ("a", "still here")


# Start order, stop order, exits


async def test_children_start_in_order_and_stop_in_reverse_after_draining(
    autojump_clock: trio.abc.Clock,
) -> None:
    """On a normal exit each child handles its queue and stops, last-started first."""
    journal: list[str] = []
    async with open_supervisor() as supervisor:
        refs = await spawn_workers(supervisor, journal, ("a", P), ("b", TR), ("c", TE))
        assert journal == ["start a", "start b", "start c"]
        for name, seconds in (("a", 1), ("b", 2), ("c", 3)):
            await refs[name].tell(seconds)
            await refs[name].tell("last")
    assert journal == ["start a", "start b", "start c", "stop c", "stop b", "stop a"]
    assert trio.current_time() == 3
    assert [ref.is_alive() for ref in refs.values()] == [False, False, False]


async def test_children_lists_status_in_start_order() -> None:
    """supervisor.children reports name, restart kind, restart count and running."""
    journal: list[str] = []
    async with open_supervisor() as supervisor:
        await spawn_workers(supervisor, journal, ("a", P), ("b", TR), ("c", TE))
        assert supervisor.children == [
            ChildStatus(name="a", restart=P, restarts=0, running=True),
            ChildStatus(name="b", restart=TR, restarts=0, running=True),
            ChildStatus(name="c", restart=TE, restarts=0, running=True),
        ]


async def test_error_exit_cancels_children_and_fails_their_queued_asks(
    autojump_clock: trio.abc.Clock, live_tasks: Any
) -> None:
    """When the body raises, children are cancelled at once and outside askers are told why."""
    journal: list[str] = []
    errors: dict[str, Exception] = {}
    before = len(live_tasks())

    async def ask(ref: Any, message: Any) -> None:
        try:
            await ref.ask(message)
        except ActorStoppedError as exc:
            errors[message] = exc

    async with trio.open_nursery() as outside:
        with pytest.RaisesGroup(pytest.RaisesExc(RuntimeError, match="^body failed$")):
            async with open_supervisor(name="sup") as supervisor:
                ref = (await spawn_workers(supervisor, journal, ("w", P)))["w"]
                outside.start_soon(ask, ref, "park")
                await trio.sleep(1)
                outside.start_soon(ask, ref, "queued")
                await trio.sleep(1)
                msg = "body failed"
                raise RuntimeError(msg)
        assert trio.current_time() == 2
    assert journal == ["start w", "cancel w"]
    assert "stopped while handling the request" in str(errors["park"])
    assert str(errors["queued"]) == (
        "actor 'w' cannot take the message: its supervisor 'sup' has stopped"
    )
    assert len(live_tasks()) == before


async def test_cancelled_supervisor_cancels_its_children(
    autojump_clock: trio.abc.Clock, live_tasks: Any
) -> None:
    """A supervisor cancelled from outside stops at once and leaves no task behind."""
    journal: list[str] = []
    before = len(live_tasks())
    with trio.move_on_after(5) as scope:
        async with open_supervisor() as supervisor:
            refs = await spawn_workers(supervisor, journal, ("a", P), ("b", P))
            await refs["a"].tell("park")
            await refs["b"].tell(100)
            await trio.sleep_forever()
    assert scope.cancelled_caught
    assert trio.current_time() == 5
    assert journal == ["start a", "start b", "cancel a"]
    assert len(live_tasks()) == before


async def test_no_task_outlives_the_supervisor(
    autojump_clock: trio.abc.Clock, live_tasks: Any
) -> None:
    """After the block, the task tree is as it was, restarts and all."""
    journal: list[str] = []
    before = len(live_tasks())
    async with open_supervisor(strategy=Strategy.REST_FOR_ONE) as supervisor:
        refs = await spawn_workers(supervisor, journal, ("a", P), ("b", TR), ("c", TE))
        with pytest.raises(ActorCrashedError):
            await refs["a"].ask("crash")
        await trio.sleep(1)  # b restarts after a
        assert len(live_tasks()) == before + 3  # control, a and b (c was temporary)
    assert len(live_tasks()) == before


async def test_shielded_handler_cancelled_by_an_error_exit_is_not_reported_as_failure(
    autojump_clock: trio.abc.Clock,
) -> None:
    """A child still finishing shielded work when the supervisor fails is not told it crashed."""

    class Shielded(Actor):
        async def handle(self, message: Any) -> None:
            with trio.CancelScope(shield=True):
                await trio.sleep(message)
            journal.append("work done")

        async def on_failure(self, exc: BaseException) -> None:
            journal.append(f"fail: {type(exc).__name__}")

    journal: list[str] = []
    with pytest.RaisesGroup(KeyError):
        async with open_supervisor() as supervisor:
            ref = await supervisor.spawn(Shielded, name="shielded")
            await ref.tell(2)
            await ref.tell(2)
            await trio.sleep(1)
            msg = "body failed"
            raise KeyError(msg)
    assert journal == ["work done"]
    assert trio.current_time() == 2


async def test_ten_thousand_actors_spawned_asked_and_shut_down(live_tasks: Any) -> None:
    """10,000 children each answer one ask, then all stop cleanly with on_stop."""

    class Echo(Actor):
        stopped = 0

        async def handle(self, message: Any) -> Any:
            return message

        async def on_stop(self) -> None:
            Echo.stopped += 1

    before = len(live_tasks())
    async with open_supervisor() as supervisor:
        refs = [await supervisor.spawn(Echo, name=f"echo-{i}", capacity=1) for i in range(10_000)]
        answers: list[int] = []

        async def ask(ref: Any, i: int) -> None:
            answers.append(await ref.ask(i))

        async with trio.open_nursery() as nursery:
            for i, ref in enumerate(refs):
                nursery.start_soon(ask, ref, i)
        assert sorted(answers) == list(range(10_000))
        assert len(supervisor.children) == 10_000
    assert Echo.stopped == 10_000
    assert not any(ref.is_alive() for ref in refs)
    assert len(live_tasks()) == before


# Spawn and argument errors


async def test_spawn_returns_after_on_start(autojump_clock: trio.abc.Clock) -> None:
    """spawn waits for on_start, so the child is ready when it returns."""

    class Slow(Actor):
        async def on_start(self) -> None:
            await trio.sleep(3)

        async def handle(self, message: Any) -> Any:
            return message

    async with open_supervisor() as supervisor:
        ref = await supervisor.spawn(Slow)
        assert trio.current_time() == 3
        assert ref.name == "Slow"  # the factory's name by default
        assert supervisor.children[0].running


async def test_failing_first_on_start_raises_out_of_spawn(live_tasks: Any) -> None:
    """If on_start fails at spawn, spawn raises it, nothing is kept, and the name is free."""

    class Broken(Actor):
        async def on_start(self) -> None:
            msg = "no database"
            raise ConnectionError(msg)

    class Fine(Actor):
        async def handle(self, message: Any) -> Any:
            return message

    before = len(live_tasks())
    async with open_supervisor() as supervisor:
        with pytest.raises(ConnectionError, match="no database"):
            await supervisor.spawn(Broken, name="db")
        assert supervisor.children == []
        assert len(live_tasks()) == before + 1  # the supervisor's control task
        ref = await supervisor.spawn(Fine, name="db")
        assert await ref.ask(1) == 1


async def test_factory_errors_raise_out_of_spawn() -> None:
    """A factory that cannot build the actor (e.g. wrong arguments) fails spawn."""
    async with open_supervisor() as supervisor:
        with pytest.raises(TypeError):
            await supervisor.spawn(Worker, "only one argument", name="w")
        assert supervisor.children == []


async def test_duplicate_name_is_refused() -> None:
    """Two children of one supervisor cannot share a name."""
    journal: list[str] = []
    async with open_supervisor(name="sup") as supervisor:
        await spawn_workers(supervisor, journal, ("w", P))
        with pytest.raises(ValueError, match="supervisor 'sup' already has a child named 'w'"):
            await spawn_workers(supervisor, journal, ("w", P))
        assert len(supervisor.children) == 1


async def test_name_is_taken_while_its_child_is_still_starting(
    autojump_clock: trio.abc.Clock,
) -> None:
    """A second spawn of a name whose first spawn is still in on_start is refused."""

    class SlowStart(Actor):
        async def on_start(self) -> None:
            await trio.sleep(1)

    async with open_supervisor(name="sup") as supervisor, trio.open_nursery() as nursery:
        nursery.start_soon(supervisor.spawn, SlowStart)
        await trio.sleep(0.5)
        with pytest.raises(ValueError, match="already has a child named 'SlowStart'"):
            await supervisor.spawn(SlowStart)
    assert trio.current_time() == 1


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"restart": "permanent"}, TypeError, "restart must be a Restart"),
        ({"capacity": -1}, ValueError, "capacity must be >= 0, got -1"),
        ({"capacity": 1.5}, TypeError, "capacity must be an int, got float"),
        ({"name": ""}, ValueError, "name must be a non-empty str"),
        ({"name": 7}, TypeError, "name must be a str, got int"),
    ],
)
async def test_bad_spawn_options_are_refused(
    options: dict[str, Any], error: type[Exception], match: str
) -> None:
    """spawn rejects a bad restart kind, capacity or name, and keeps nothing."""
    async with open_supervisor() as supervisor:
        with pytest.raises(error, match=match):
            await supervisor.spawn(Worker, "w", [], **options)
        assert supervisor.children == []


async def test_spawn_after_shutdown_is_refused() -> None:
    """Once the block has exited, spawn raises RuntimeError naming the supervisor."""
    async with open_supervisor(name="sup") as supervisor:
        pass
    with pytest.raises(
        RuntimeError, match="supervisor 'sup' is shutting down; it cannot spawn 'w'"
    ):
        await supervisor.spawn(Worker, "w", [], name="w")


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"strategy": "one_for_one"}, TypeError, "strategy must be a Strategy"),
        ({"max_restarts": -1}, ValueError, "max_restarts must be >= 0, got -1"),
        ({"max_restarts": 2.0}, TypeError, "max_restarts must be an int, got float"),
        ({"max_restarts": True}, TypeError, "max_restarts must be an int, got bool"),
        ({"within": 0}, ValueError, "within must be > 0 seconds, got 0"),
        ({"within": -1.0}, ValueError, "within must be > 0 seconds, got -1.0"),
        ({"within": math.nan}, ValueError, "within must be > 0 seconds, got nan"),
        ({"within": "5"}, TypeError, "within must be a number of seconds, got str"),
    ],
)
async def test_bad_supervisor_options_are_refused(
    options: dict[str, Any], error: type[Exception], match: str
) -> None:
    """open_supervisor rejects a bad strategy, max_restarts or within before starting."""
    with pytest.raises(error, match=match):
        async with open_supervisor(**options):
            pass  # pragma: no cover


async def test_max_restarts_zero_gives_up_at_the_first_crash(
    autojump_clock: trio.abc.Clock,
) -> None:
    """With max_restarts=0 the first crash of a restartable child ends the supervisor."""
    journal: list[str] = []
    with pytest.RaisesGroup(pytest.RaisesExc(RestartIntensityError, match="more than 0 restarts")):
        async with open_supervisor(max_restarts=0) as supervisor:
            ref = (await spawn_workers(supervisor, journal, ("w", TR)))["w"]
            await ref.tell("crash")
            await trio.sleep_forever()
    assert journal == ["start w", "fail w: ValueError"]


async def test_child_crashing_right_after_on_start_is_supervised(
    autojump_clock: trio.abc.Clock,
) -> None:
    """A child that crashes on a message it sent itself in on_start is retired cleanly."""

    class SelfStarter(Actor):
        async def on_start(self) -> None:
            self.ref.tell_nowait("load")

        async def handle(self, message: Any) -> None:
            raise KeyError(message)

    async with open_supervisor(strategy=Strategy.REST_FOR_ONE) as supervisor:
        ref = await supervisor.spawn(SelfStarter, name="loader", restart=TE)
        await trio.sleep(1)
        assert supervisor.children == []
        assert not ref.is_alive()


# Crashes at the block's exit, and crash logs


async def test_error_exit_right_after_a_crash_raises_only_the_users_error(
    autojump_clock: trio.abc.Clock,
) -> None:
    """A block raising as a child crashes raises only its own error, no ClosedResourceError."""

    class Crasher(Actor):
        async def handle(self, message: Any) -> None:
            raise KeyError(message)

        async def on_failure(self, exc: BaseException) -> None:
            crashed.set()

    for _ in range(20):  # the crash's exit and the block's error race in one batch
        crashed = trio.Event()
        with pytest.RaisesGroup(pytest.RaisesExc(ValueError, match="^body failed$")):
            async with open_supervisor() as supervisor:
                ref = await supervisor.spawn(Crasher, name="c", restart=TE)
                ref.tell_nowait("boom")
                await crashed.wait()
                msg = "body failed"
                raise ValueError(msg)


async def test_crash_log_names_the_actor_and_the_exception(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The crash warning names the actor, the exception type and a message cut to ~100 chars."""

    class Loud(Actor):
        async def handle(self, message: Any) -> None:
            raise ValueError("x" * 10_000)

    async with open_supervisor(name="sup") as supervisor:
        ref = await supervisor.spawn(Loud, name="loud", restart=TE)
        with pytest.raises(ActorCrashedError):
            await ref.ask("go")
        await trio.testing.wait_all_tasks_blocked()
    [record] = [r for r in caplog.records if getattr(r, "event_type", None) == "actor_crashed"]
    assert record.getMessage() == "actor 'loud' crashed: ValueError: " + "x" * 100 + "..."
    assert (record.actor, record.supervisor, record.error_type) == ("loud", "sup", "ValueError")


async def test_failing_on_failure_does_not_hide_the_crash(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An exception in on_failure is logged, and the handler's own exception stays the crash."""

    class Clumsy(Actor):
        async def handle(self, message: Any) -> None:
            raise KeyError("the real cause")

        async def on_failure(self, exc: BaseException) -> None:
            raise RuntimeError("hook broke")

    async with open_supervisor() as supervisor:
        ref = await supervisor.spawn(Clumsy, name="clumsy", restart=TE)
        with pytest.raises(ActorCrashedError) as info:
            await ref.ask("go")
        assert isinstance(info.value.__cause__, KeyError)
        await trio.testing.wait_all_tasks_blocked()
    messages = [r.getMessage() for r in caplog.records]
    assert (
        "actor 'clumsy': on_failure raised RuntimeError: hook broke while handling "
        "KeyError: 'the real cause'"
    ) in messages
    assert "actor 'clumsy' crashed: KeyError: 'the real cause'" in messages


def test_library_loggers_have_a_null_handler() -> None:
    """The runtime's and the supervisors' loggers carry a NullHandler, as a library's should."""
    for name in ("mira_actors", "supervisors"):
        handlers = logging.getLogger(name).handlers
        assert any(isinstance(h, logging.NullHandler) for h in handlers), name


# Finding children


async def test_lookup_finds_a_child_by_name_until_it_is_retired() -> None:
    """sup.lookup(name) returns the child's reference, and None for unknown or retired names."""
    journal: list[str] = []
    async with open_supervisor() as supervisor:
        refs = await spawn_workers(supervisor, journal, ("a", P), ("b", TE))
        assert supervisor.lookup("a") is refs["a"]
        assert supervisor.lookup("nobody") is None
        await refs["b"].tell("quit")
        await trio.testing.wait_all_tasks_blocked()
        assert supervisor.lookup("b") is None  # a temporary child that stopped is retired


async def test_find_returns_the_children_of_a_class_in_start_order() -> None:
    """sup.find(cls) returns every child whose actor is an instance of cls, subclasses too."""

    class Special(Worker):
        pass

    journal: list[str] = []
    async with open_supervisor() as supervisor:
        a = await supervisor.spawn(Worker, "a", journal, name="a")
        b = await supervisor.spawn(Special, "b", journal, name="b")
        assert supervisor.find(Special) == [b]
        assert supervisor.find(Worker) == [a, b]
        assert supervisor.find(Actor) == [a, b]

        class Unused(Actor):
            pass

        assert supervisor.find(Unused) == []


async def test_plain_def_handle_is_refused_at_spawn() -> None:
    """An actor whose handle is a plain def fails spawn with a clear TypeError."""

    class Sync(Actor):
        def handle(self, message: Any) -> Any:  # type: ignore[override]
            return message

    async with open_supervisor() as supervisor:
        with pytest.raises(TypeError, match=r"Sync.handle must be an 'async def' method"):
            await supervisor.spawn(Sync, name="sync")
        assert supervisor.children == []
