"""A worker process for the hand-over test: it recovers runs, and hands them over on SIGTERM.

``python handover_worker.py LEDGER`` recovers the abandoned runs of a two-step workflow
from the SQLite file LEDGER; its agent takes 60 s a step, so the runs are mid-step
when it is stopped. SIGTERM makes it hand its runs over (as ``mira-actors worker``
does) and exit.
"""

from __future__ import annotations

import signal
import sys
from typing import Any

import trio

from mira_actors import Actor
from supervisors import (
    Recovery,
    Step,
    Workflow,
    open_store,
    open_workflow_supervisor,
    serve_recovery,
)

STEPS = ("first", "second")
TWO = Workflow(name="two", steps=[Step(name=name, message_type=name) for name in STEPS])


class Slow(Actor):
    """Takes a minute a step: longer than the test waits."""

    async def handle(self, message: Any) -> Any:
        await trio.sleep(60)
        return {"status": "success", "data": None}


async def main(ledger: str) -> None:
    async with (
        open_store(ledger) as store,
        open_workflow_supervisor(workflows=[TWO], store=store, lease_time=30.0) as system,
    ):
        await system.spawn(Slow, name="slow", handles=STEPS)
        with trio.open_signal_receiver(signal.SIGTERM) as terms:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(serve_recovery, system, Recovery(interval=0.1))
                print("ready", system.keeper.owner, flush=True)
                async for _ in terms:
                    system.hand_over()
                    nursery.cancel_scope.cancel()
                    break


if __name__ == "__main__":
    trio.run(main, sys.argv[1])
