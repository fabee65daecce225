"""A long-lived actor system: tells, asks, a crash and restart, a deadline, a clean stop.

Run it with ``python examples/long_lived_system.py``.
"""

from __future__ import annotations

import logging
from typing import Any

import trio

from mira_actors import Actor, ActorCrashedError, ActorRef
from supervisors import open_supervisor


class Tally(Actor):
    """Keeps a running total of the numbers it is told; answers "total" asks."""

    def __init__(self) -> None:
        self.total = 0

    async def handle(self, message: Any) -> int | None:
        if message == "total":
            return self.total
        self.total += message
        return None

    async def on_stop(self) -> None:
        print(f"tally: stopped with total {self.total}")


class Squarer(Actor):
    """Squares numbers and tells the tally; anything else makes it crash."""

    def __init__(self, tally: ActorRef) -> None:
        self.tally = tally

    async def on_start(self) -> None:
        print("squarer: started")

    async def handle(self, message: Any) -> int:
        square: int = message * message  # a str raises TypeError: a crash
        await self.tally.tell(square)
        return square

    async def on_stop(self) -> None:
        print("squarer: stopped")


class Slowpoke(Actor):
    """Takes a whole second over each job; counts the jobs cancelled with their asker."""

    def __init__(self) -> None:
        self.cancelled = 0

    async def handle(self, message: Any) -> Any:
        if message == "cancelled":
            return self.cancelled
        try:
            await trio.sleep(1)
        except trio.Cancelled:
            self.cancelled += 1
            raise
        return "done"


async def main() -> None:
    async with open_supervisor(name="system", max_restarts=3, within=60) as supervisor:
        tally = await supervisor.spawn(Tally, name="tally")
        squarer = await supervisor.spawn(Squarer, tally, name="squarer")
        slowpoke = await supervisor.spawn(Slowpoke, name="slowpoke")

        for n in (1, 2, 3):
            print(f"squarer: {n} squared is {await squarer.ask(n)}")

        try:
            await squarer.ask("four")
        except ActorCrashedError as exc:
            print(f"crash: {exc}")
        # Sent while the supervisor restarts it: the new squarer serves the same mailbox.
        print(f"squarer: 4 squared is {await squarer.ask(4)}")
        print(f"tally: total is {await tally.ask('total')}")

        with trio.move_on_after(0.05):
            await slowpoke.ask("job")  # the handler runs under this deadline
        print("slowpoke: no answer within 0.05 s")
        print(f"slowpoke: jobs cancelled with their asker: {await slowpoke.ask('cancelled')}")

        for child in supervisor.children:
            print(f"child {child.name}: {child.restarts} restart(s)")
        print("shutting down")
    print("shut down cleanly")


if __name__ == "__main__":
    # The supervisor logs each crash as a warning naming the actor and the exception.
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
    trio.run(main)
