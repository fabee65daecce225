"""An owner's leases: the heartbeat that keeps them, and the runs it cancels on request.

Each workflow supervisor holds its runs through one owner id. While it is open, its
keeper beats every ``interval`` seconds: one store write renews the leases of all the
owner's runs, however many. A run whose owner stops beating (its process died) is
abandoned once ``lease_time`` has passed since the last beat, and another orchestrator
may recover it. The same beat brings back the owner's runs that someone asked, through
the store, to cancel; the keeper cancels them here.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Callable

import trio

from .stores._protocol import HEARTBEAT_INTERVAL, LEASE_TIME, LedgerStore, check_lease_time

logger = logging.getLogger("supervisors.leases")

CancelRun = Callable[[], None]


def new_owner_id() -> str:
    """A new owner id: unique across processes and machines."""
    return uuid.uuid4().hex


class LeaseKeeper:
    """Beats for one owner in one store, and cancels its runs when the store asks.

    Args:
        store: Where the leases are.
        owner: The owner id (a new one by default).
        lease_time: How long a beat holds the owner's leases, in seconds.
        interval: Seconds between beats (default: a third of ``lease_time``).
    """

    def __init__(
        self,
        store: LedgerStore,
        *,
        owner: str | None = None,
        lease_time: float = LEASE_TIME,
        interval: float | None = None,
    ) -> None:
        self.store = store
        self.owner = owner if owner is not None else new_owner_id()
        self.lease_time = check_lease_time(lease_time)
        if interval is None:
            interval = HEARTBEAT_INTERVAL * self.lease_time / LEASE_TIME
        if not 0 < interval < self.lease_time:
            msg = f"the heartbeat interval must be above 0 and under lease_time, got {interval!r}"
            raise ValueError(msg)
        self.interval = interval
        self._runs: dict[str, CancelRun] = {}
        self.last_beat = -math.inf

    def hold(self, workflow_id: str, cancel: CancelRun) -> None:
        """Say this owner's run ``workflow_id`` is going here; ``cancel`` ends it on request."""
        self._runs[workflow_id] = cancel

    def let_go(self, workflow_id: str) -> None:
        """Say the run has ended here."""
        self._runs.pop(workflow_id, None)

    async def beat(self) -> None:
        """Renew the owner's leases now, and cancel its runs that the store says to cancel."""
        requested = await self.store.heartbeat(self.owner, lease_time=self.lease_time)
        self.last_beat = trio.current_time()
        for workflow_id in requested:
            cancel = self._runs.pop(workflow_id, None)
            if cancel is not None:
                logger.info(
                    "cancelling a run on request",
                    extra={"event_type": "run_cancel_requested", "workflow_id": workflow_id},
                )
                cancel()

    async def serve(self) -> None:
        """Beat every ``interval`` until cancelled.

        Starting or claiming a run beats too (in its own write), so the first beat
        comes one interval on. A beat that fails (the store is locked or unreachable)
        is logged and tried again at the next interval: the runs go on, and their
        leases lapse only if the store stays unreachable for ``lease_time``.
        """
        while True:
            await trio.sleep(self.interval)
            try:
                await self.beat()
            except Exception as exc:  # a store error: runs go on; Cancelled is not caught
                logger.warning(
                    "heartbeat failed; trying again in %.1f s",
                    self.interval,
                    extra={
                        "error_type": "heartbeat_failed",
                        "exception_type": type(exc).__name__,
                        "owner": self.owner,
                    },
                )
