"""A worker process for the real recovery test: it recovers runs of a four-step workflow.

``python recovery_worker.py STORE SIDE`` opens the ledger STORE (a SQLite path or a
PostgreSQL URL) and recovers its abandoned runs until SIGTERM. Its agent serves each
step once per idempotency key: the key goes into a side table (in SIDE, a database of
the same kind) in the same breath as the step's effect, and a key already there is
answered without doing the work again, as an agent with side effects should.
"""

from __future__ import annotations

import signal
import sqlite3
import sys
from collections.abc import Callable
from typing import Any

import trio

from mira_actors import Actor, request_headers
from supervisors import Recovery, Step, Workflow, open_store, open_workflow_supervisor
from supervisors import serve_recovery as recover

STEPS = ("one", "two", "three", "four")
FOUR = Workflow(name="four", steps=[Step(name=name, message_type=name) for name in STEPS])
LEASE_TIME = 3.0


def side_table(target: str) -> Callable[[str, str, str], bool]:
    """Return note(key, workflow_id, step): True when the key is new (and now kept)."""
    if target.startswith("postgresql://"):
        import psycopg

        connection: Any = psycopg.connect(target, autocommit=True)
        insert = (
            "INSERT INTO served (key, workflow_id, step) VALUES (%s, %s, %s)"
            " ON CONFLICT (key) DO NOTHING"
        )
    else:
        connection = sqlite3.connect(
            target, timeout=30, isolation_level=None, check_same_thread=False
        )
        insert = "INSERT OR IGNORE INTO served (key, workflow_id, step) VALUES (?, ?, ?)"

    def note(key: str, workflow_id: str, step: str) -> bool:
        return bool(connection.execute(insert, (key, workflow_id, step)).rowcount)

    return note


class Once(Actor):
    """Does each step's work once per idempotency key, and keeps the key in the side table."""

    def __init__(self, note: Callable[[str, str, str], bool]) -> None:
        self.note = note
        self.limiter = trio.CapacityLimiter(1)  # its own thread, not trio's shared limiter

    async def handle(self, message: Any) -> Any:
        headers = request_headers()
        await trio.sleep(0.05)  # the work
        await trio.to_thread.run_sync(
            self.note,
            headers["idempotency_key"],
            headers["workflow_id"],
            headers["step"],
            limiter=self.limiter,
        )
        return {"status": "success", "data": {"step": headers["step"]}}


async def main(target: str, side: str) -> None:
    note = side_table(side)
    async with (
        open_store(target) as store,
        open_workflow_supervisor(workflows=[FOUR], store=store, lease_time=LEASE_TIME) as system,
    ):
        await system.spawn(Once, note, name="once", handles=STEPS)
        with trio.open_signal_receiver(signal.SIGTERM) as terms:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(recover, system, Recovery(interval=0.2, max_runs=25))
                print("ready", system.keeper.owner, flush=True)
                async for _ in terms:
                    nursery.cancel_scope.cancel()
                    break


if __name__ == "__main__":
    trio.run(main, sys.argv[1], sys.argv[2])
