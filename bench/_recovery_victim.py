"""The worker that dies in bench case 11: it starts runs, says so, and is SIGKILLed.

``python -m bench._recovery_victim LEDGER RUNS LEASE_TIME`` opens the SQLite ledger,
starts RUNS two-step runs whose first step never ends here, prints ``ready`` once all
of them are stored (leased to it), and waits to be killed.
"""

from __future__ import annotations

import sys
from functools import partial
from typing import Any

import trio

from mira_actors import Actor
from supervisors import open_store, open_workflow_supervisor

from ._case_leases import RUN_TIMEOUT, STEPS, TWO


class Stuck(Actor):
    """Never answers: the runs are mid-step when their worker dies."""

    async def handle(self, message: Any) -> Any:
        await trio.sleep_forever()


async def main(ledger: str, runs: int, lease_time: float) -> None:
    async with (
        open_store(ledger) as store,
        open_workflow_supervisor(workflows=[TWO], store=store, lease_time=lease_time) as system,
    ):
        await system.spawn(Stuck, name="stuck", handles=STEPS)
        async with trio.open_nursery() as nursery:
            for _ in range(runs):
                nursery.start_soon(partial(system.run, "two", {}, timeout=RUN_TIMEOUT))
            # Stored and leased to this worker: what the survivor will find.
            while sum(1 for r in await store.list_runs() if r.status == "running") < runs:  # noqa: ASYNC110
                await trio.sleep(0.01)
            print("ready", flush=True)


if __name__ == "__main__":
    trio.run(main, sys.argv[1], int(sys.argv[2]), float(sys.argv[3]))
