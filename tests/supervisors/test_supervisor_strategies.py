"""Restart strategies: which children restart when one crashes, and no message lost."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

from mira_actors import Actor, ActorStoppedError
from supervisors import (
    Strategy,
    open_supervisor,
)
from tests.supervisors.workers import TE, TR, P, spawn_workers

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
