"""Worker, the journaling actor the supervisor tests share, and spawn_workers."""

from __future__ import annotations

from typing import Any

import trio
import trio.testing

from mira_actors import Actor
from supervisors import Restart


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
