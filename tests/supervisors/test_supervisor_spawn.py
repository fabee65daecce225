"""spawn and its errors, the supervisor's options, and finding children."""

from __future__ import annotations

import gc
import math
from typing import Any

import pytest
import trio
import trio.testing

from mira_actors import Actor
from supervisors import (
    RestartIntensityError,
    Strategy,
    open_supervisor,
)
from supervisors._child import StartWatch
from tests.supervisors.workers import TE, TR, P, Worker, spawn_workers

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


async def test_spawn_returns_the_reference_the_actor_holds() -> None:
    """spawn, lookup and the actor's own self.ref are one ActorRef per child, not copies."""

    class Idle(Actor):
        async def handle(self, message: Any) -> Any:
            return message

    async with open_supervisor() as supervisor:
        ref = await supervisor.spawn(Idle, name="idle")
        (actor,) = [c for c in gc.get_objects() if isinstance(c, Idle)]
        assert actor.ref is ref
        assert supervisor.lookup("idle") is ref


@pytest.mark.parametrize("strategy", list(Strategy))
async def test_an_idle_child_keeps_no_start_watch(strategy: Strategy) -> None:
    """Once started, a child holds nothing of its start (the watch of nursery.start) while idle."""

    class Idle(Actor):
        async def handle(self, message: Any) -> Any:
            return message

    async with open_supervisor(strategy=strategy) as supervisor:
        ref = await supervisor.spawn(Idle, name="idle")
        await trio.testing.wait_all_tasks_blocked()
        gc.collect()
        assert [o for o in gc.get_objects() if isinstance(o, StartWatch)] == []
        assert await ref.ask(1) == 1


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
