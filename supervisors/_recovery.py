"""Automatic recovery: take the runs of dead owners from the store and resume them here.

A run whose owner stopped beating (its process died) is abandoned once its lease has
lapsed. A recovering supervisor polls the store, takes such runs a batch at a time
(:meth:`~supervisors.LedgerStore.claim_expired`: each run goes to one claimer
only) and resumes each under its own lease: completed steps are not run again, and a
step whose outcome is unknown is sent again with the same idempotency key. A run keeps
its deadline: it resumes under the time it had left, by the store's clock, and one
whose time ran out while nobody held it is stored as a timeout, not resumed.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING

import attrs
import trio

from ._ledger import ErrorType, Status
from ._options import RunOptions
from ._report import RunReport
from .stores._protocol import StoredRun

if TYPE_CHECKING:
    from ._workflow_supervisor import WorkflowSupervisor

logger = logging.getLogger("supervisors.recovery")


def _positive(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0 < value < math.inf:
        msg = f"{attribute.name} must be a positive, finite number of seconds, got {value!r}"
        raise ValueError(msg)


def _at_least_one(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        msg = f"{attribute.name} must be an int >= 1, got {value!r}"
        raise ValueError(msg)


@attrs.frozen(kw_only=True)
class Recovery:
    """How a supervisor recovers abandoned runs.

    Attributes:
        interval: Seconds between looks at the store for abandoned runs.
        max_runs: The most recovered runs going on here at once; a look takes no more
            than the room left.
        timeout: A new deadline for each recovered run, in seconds from its recovery
            (None: the time its own timeout had left, counted from its latest start
            or claim by the store's clock; a run with none left is stored as a
            timeout with its partial progress, not resumed).
    """

    interval: float = attrs.field(default=1.0, validator=_positive)
    max_runs: int = attrs.field(default=100, validator=_at_least_one)
    timeout: float | None = None


async def serve_recovery(supervisor: WorkflowSupervisor, recovery: Recovery) -> None:
    """Recover abandoned runs into ``supervisor`` every ``recovery.interval``, until cancelled.

    A store error is logged and tried again at the next look; a run that cannot be
    resumed here (its workflow is not registered, it is damaged) is logged and given up.
    """
    live = 0

    async def resume(workflow_id: str) -> None:
        nonlocal live
        try:
            await _resume(supervisor, workflow_id, recovery.timeout)
        finally:
            live -= 1

    async with trio.open_nursery() as nursery:
        while True:
            room = recovery.max_runs - live
            if room > 0:
                try:
                    taken = await supervisor.store.claim_expired(
                        supervisor.keeper.owner, limit=room
                    )
                except Exception as exc:  # the store is down or locked: look again later
                    logger.warning(
                        "could not look for abandoned runs: %s",
                        type(exc).__name__,
                        extra={"error_type": "recovery_failed"},
                    )
                    taken = []
                for workflow_id in taken:
                    live += 1
                    logger.info(
                        "recovering an abandoned run",
                        extra={"event_type": "run_recovered", "workflow_id": workflow_id},
                    )
                    nursery.start_soon(resume, workflow_id)
            await trio.sleep(recovery.interval)


async def _finish_out_of_time(supervisor: WorkflowSupervisor, stored: StoredRun) -> None:
    """Store a recovered run whose deadline passed while nobody held it as a timeout."""
    report = RunReport(
        workflow_id=stored.workflow_id,
        workflow_type=stored.workflow_type,
        outcome=Status.TIMEOUT,
        timeout=stored.timeout,
        records=stored.records,
        error=(
            f"Workflow execution timed out after {stored.timeout} seconds "
            "(its owner stopped, and its time ran out before it was recovered)"
        ),
        error_type=ErrorType.TIMEOUT,
    )
    await supervisor.store.finish_run(
        stored.workflow_id,
        outcome=Status.TIMEOUT,
        response=report.response(),
        owner=supervisor.keeper.owner,
    )
    logger.info(
        "a recovered run had no time left: stored as a timeout",
        extra={"event_type": "run_recovered_timed_out", "workflow_id": stored.workflow_id},
    )


async def _resume(supervisor: WorkflowSupervisor, workflow_id: str, timeout: float | None) -> None:
    """Resume one recovered run here; give it back to the store when it cannot be."""
    try:
        stored = await supervisor.store.load_run(workflow_id)
        if stored is None:
            return
        if timeout is None:
            timeout = stored.time_left(await supervisor.store.now())
            if timeout <= 0:
                await _finish_out_of_time(supervisor, stored)
                return
        await supervisor.resume(workflow_id, options=RunOptions(timeout=timeout))
    except Exception as exc:  # not this run's fault to end the worker: log it, let it go
        logger.warning(
            "a recovered run could not be resumed here: %s",
            type(exc).__name__,
            extra={"error_type": "recovery_failed", "workflow_id": workflow_id},
        )
        with trio.CancelScope(shield=True):
            try:
                await supervisor.store.release(workflow_id, supervisor.keeper.owner)
            except Exception:  # the lease lapses on its own
                logger.warning(
                    "could not release a run after a failed recovery",
                    extra={"error_type": "recovery_failed", "workflow_id": workflow_id},
                )
