"""Ask cycles: the call chain travels with each request, so a cycle fails at once."""

from __future__ import annotations

from typing import Any

import pytest
import trio

from mira_actors import Actor, ActorCrashedError, AskCycleError, MiraError, open_actor


class Relay(Actor):
    """Asks ``next`` (set after start) with the message and returns the reply."""

    next: Any = None

    async def handle(self, message: Any) -> Any:
        if message == "self":
            return await self.ref.ask("echo")
        if message == "echo":
            return "echo"
        return await self.next.ask(message)


async def test_an_actor_asking_itself_fails_at_once(autojump_clock: trio.abc.Clock) -> None:
    """A handler that asks its own actor gets AskCycleError naming it, with no waiting."""
    with pytest.RaisesGroup(AskCycleError):
        async with open_actor(Relay(), name="a") as a:
            with pytest.raises(ActorCrashedError) as info:
                await a.ask("self")
            cause = info.value.__cause__
            assert isinstance(cause, AskCycleError)
            assert isinstance(cause, MiraError)
            assert cause.chain == ("a", "a")
            assert "ask cycle: actor 'a' -> 'a'" in str(cause)
            assert trio.current_time() == 0
            await trio.sleep_forever()  # the crash ends the block


async def test_a_cycle_through_a_chain_of_asks_fails_at_once(
    autojump_clock: trio.abc.Clock,
) -> None:
    """a asks b asks c asks a: the last ask fails at once, naming the whole chain."""
    relays = {name: Relay() for name in "abc"}
    relays["a"].next, relays["b"].next = None, None
    errors: list[BaseException] = []

    class Guard(Relay):
        async def handle(self, message: Any) -> Any:
            try:
                return await self.next.ask(message)
            except AskCycleError as exc:
                errors.append(exc)
                return "refused"

    c_actor = Guard()
    async with (
        open_actor(relays["a"], name="a") as a,
        open_actor(relays["b"], name="b") as b,
        open_actor(c_actor, name="c") as c,
    ):
        relays["a"].next, relays["b"].next, c_actor.next = b, c, a
        with trio.fail_after(10):
            assert await a.ask("go") == "refused"
        assert trio.current_time() == 0
    [error] = errors
    assert isinstance(error, AskCycleError)
    assert error.chain == ("a", "b", "c", "a")


async def test_tasks_inside_a_handler_carry_its_chain(autojump_clock: trio.abc.Clock) -> None:
    """A task a handler starts in its own nursery (which it waits for) is part of the chain."""
    errors: list[BaseException] = []

    class Fanout(Actor):
        async def handle(self, message: Any) -> Any:
            async def ask_self() -> None:
                try:
                    await self.ref.ask("inner")
                except AskCycleError as exc:
                    errors.append(exc)

            if message == "outer":
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(ask_self)
            return message

    async with open_actor(Fanout(), name="f") as ref:
        assert await ref.ask("outer") == "outer"
    assert [type(e) for e in errors] == [AskCycleError]


async def test_a_task_started_elsewhere_is_not_part_of_the_chain(
    autojump_clock: trio.abc.Clock,
) -> None:
    """A task a handler starts in an outside nursery outlives it: its asks are no cycle."""
    replies: list[Any] = []

    async with trio.open_nursery() as outside:

        class Spawner(Actor):
            async def handle(self, message: Any) -> Any:
                if message == "spawn":

                    async def later() -> None:
                        await trio.sleep(1)
                        replies.append(await self.ref.ask("ping"))

                    outside.start_soon(later)
                return message

        async with open_actor(Spawner()) as ref:
            await ref.ask("spawn")
            await trio.sleep(2)
    assert replies == ["ping"]


async def test_plain_asks_between_actors_are_not_cycles(autojump_clock: trio.abc.Clock) -> None:
    """a asks b, then later b asks a: no cycle, as neither waits on the other at once."""
    relays = {name: Relay() for name in "ab"}

    class Echo(Actor):
        async def handle(self, message: Any) -> Any:
            return message

    async with (
        open_actor(relays["a"], name="a") as a,
        open_actor(relays["b"], name="b") as b,
        open_actor(Echo(), name="e") as e,
    ):
        relays["a"].next, relays["b"].next = b, e
        assert await a.ask("x") == "x"
        relays["b"].next = a
        relays["a"].next = e
        assert await b.ask("y") == "y"
