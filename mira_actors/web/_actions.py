"""What the web view lets a visitor do when it is served with --allow-actions."""

from __future__ import annotations

import logging
import secrets

import trio

from supervisors import WorkflowSupervisor

from ._bounded import short

logger = logging.getLogger("mira_actors.web")


class Actions:
    """What --allow-actions lets a visitor do: resume a run, or cancel one that goes on.

    A resume runs in this server's nursery, on its live system. A cancel is a request
    in the store, which the run's owner (in this process or another) sees at its next
    heartbeat.
    """

    def __init__(self, system: WorkflowSupervisor, nursery: trio.Nursery) -> None:
        self.system = system
        self.nursery = nursery
        # A form must carry this server's token: another site cannot post for a visitor.
        self.token = secrets.token_urlsafe(24)

    def resume(self, workflow_id: str, timeout: float) -> None:
        """Start resuming the run in the background; the run page shows its progress."""
        self.nursery.start_soon(self._resume, workflow_id, timeout)

    async def cancel(self, workflow_id: str) -> bool:
        """Ask the run's owner to cancel it; False when it has already finished."""
        return await self.system.store.request_cancel(workflow_id)

    async def _resume(self, workflow_id: str, timeout: float) -> None:
        try:
            await self.system.resume(workflow_id, timeout=timeout)
        except (LookupError, RuntimeError, ValueError) as exc:  # gone, taken, or damaged
            logger.warning(
                "a resume asked for from the web view did not run",
                extra={
                    "workflow_id": short(workflow_id),
                    "error_type": type(exc).__name__,
                },
            )
