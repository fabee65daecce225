"""The live system in this process: its actors, and its runs in flight with their time left."""

from __future__ import annotations

import math
import time
from typing import Any

import attrs
import trio

from supervisors import DamagedRunError, StoredRun, WorkflowSupervisor

from ._timeline import split_sessions

# The most runs in flight one view loads: each is a store read.
MAX_IN_FLIGHT = 100


@attrs.frozen(kw_only=True)
class ActorRow:
    """One supervised actor: whether it runs, its restarts and its mailbox."""

    name: str
    running: bool
    restarts: int
    depth: int | None
    capacity: int | None
    peak: int | None


@attrs.frozen(kw_only=True)
class FlightRow:
    """One run going on in this process.

    ``time_left`` is None when it cannot be told: a resume whose steps have not
    finished yet (the store keeps when a run was created, not when it was resumed).
    """

    workflow_id: str
    workflow_type: str
    resumes: int
    steps_done: int
    time_left: float | None


@attrs.frozen(kw_only=True)
class SystemView:
    """A snapshot of the live system."""

    actors: tuple[ActorRow, ...]
    runs: tuple[FlightRow, ...]
    more_runs: int


def actor_rows(system: WorkflowSupervisor) -> list[ActorRow]:
    """The system's actors, in start order, with their mailboxes where routed."""
    refs = {ref.name: ref for ref in system.routes.values()}
    rows = []
    for child in system.actors.children:
        ref = refs.get(child.name)
        stats = None if ref is None else ref.statistics()
        rows.append(
            ActorRow(
                name=child.name,
                running=child.running,
                restarts=child.restarts,
                depth=None if stats is None else stats.depth,
                capacity=None if stats is None else stats.capacity,
                peak=None if stats is None else stats.peak,
            )
        )
    return rows


async def system_view(system: WorkflowSupervisor) -> SystemView:
    """Snapshot the actors and the runs in flight (at most MAX_IN_FLIGHT loaded)."""
    live = sorted(system.live_runs)
    rows = []
    for workflow_id in live[:MAX_IN_FLIGHT]:
        try:
            run = await system.store.load_run(workflow_id)
        except DamagedRunError:
            continue
        if run is not None:
            rows.append(_flight_row(run))
    return SystemView(
        actors=tuple(actor_rows(system)),
        runs=tuple(rows),
        more_runs=max(0, len(live) - MAX_IN_FLIGHT),
    )


def _flight_row(run: StoredRun) -> FlightRow:
    left: float | None = None
    if not math.isfinite(run.timeout):
        left = math.inf
    elif run.resumes == 0:
        left = run.created_at + run.timeout - time.time()
    else:
        # This process runs the resume, so its step times are on this trio clock.
        groups = split_sessions(run.records, run.timeout)
        if len(groups) == run.resumes + 1:
            start = min(r.started_at for r in groups[-1])
            left = start + run.timeout - trio.current_time()
    return FlightRow(
        workflow_id=run.workflow_id,
        workflow_type=run.workflow_type,
        resumes=run.resumes,
        steps_done=len(run.completed_steps),
        time_left=left,
    )


def system_json(view: SystemView) -> dict[str, Any]:
    """The snapshot as the API gives it."""
    return {
        "actors": [attrs.asdict(row) for row in view.actors],
        "runs_in_flight": [
            {
                **attrs.asdict(row),
                "time_left": None
                if row.time_left is None or not math.isfinite(row.time_left)
                else row.time_left,
            }
            for row in view.runs
        ],
        "more_runs_in_flight": view.more_runs,
    }
