"""What the pages and the JSON API show of stored runs: plain values, every user value bounded."""

from __future__ import annotations

import math
import time
from typing import Any

import attrs

from supervisors import RunCursor, RunSummary, StepRecord, StoredRun

from ._bounded import API_RESULT, PREVIEW, json_preview, short
from ._timeline import Session, split_sessions, timeline

ERROR_CHARS = 200


def seconds_or_none(value: float) -> float | None:
    """JSON has no infinity: a run with no deadline says null."""
    return value if math.isfinite(value) else None


def age(seconds: float) -> str:
    """Say how long ago, in the largest whole unit: '42s', '5m', '3h', '2d'."""
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def clock_time(wall: float) -> str:
    """A wall-clock time as UTC ISO 8601, to the second."""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(wall))


def encode_cursor(cursor: RunCursor) -> str:
    """The cursor as a query parameter: '<created_at>:<workflow_id>'."""
    return f"{cursor.created_at!r}:{cursor.workflow_id}"


def decode_cursor(text: str) -> RunCursor:
    """Read a cursor made by :func:`encode_cursor`.

    Raises:
        ValueError: it is not one.
    """
    created, sep, workflow_id = text.partition(":")
    try:
        created_at = float(created)
    except ValueError:
        created_at = math.nan
    if not sep or not math.isfinite(created_at):
        msg = f"before must be a cursor from a page's 'next', got {short(text)!r}"
        raise ValueError(msg)
    return RunCursor(created_at=created_at, workflow_id=workflow_id)


def summary_json(summary: RunSummary, *, now: float) -> dict[str, Any]:
    """A run of a page, as the API lists it."""
    return {
        "workflow_id": summary.workflow_id,
        "workflow_type": summary.workflow_type,
        "status": summary.status,
        "timeout": seconds_or_none(summary.timeout),
        "created_at": summary.created_at,
        "updated_at": summary.updated_at,
        "age_seconds": max(0.0, now - summary.created_at),
        "resumes": summary.resumes,
        "steps_done": summary.steps_done,
    }


@attrs.frozen(kw_only=True)
class StepView:
    """A step record as the run page shows it: result bounded, error cut short."""

    record: StepRecord
    session: int
    error: str | None
    preview: str
    truncated: bool


@attrs.frozen(kw_only=True)
class Event:
    """One line of the run's history, as its ledger tells it."""

    when: str
    text: str
    kind: str


@attrs.frozen(kw_only=True)
class RunView:
    """Everything the run page shows of one stored run."""

    run: StoredRun
    sessions: tuple[Session, ...]
    steps: tuple[StepView, ...]
    events: tuple[Event, ...]
    outcome_error: str | None
    data_preview: str
    data_truncated: bool

    @property
    def live(self) -> bool:
        """Whether the run may still change (started or resumed and not finished)."""
        return self.run.status == "running"


def run_view(run: StoredRun) -> RunView:
    """Build the run page's view of ``run``."""
    groups = split_sessions(run.records, run.timeout)
    sessions = timeline(run.records, timeout=run.timeout, resumes=run.resumes)
    steps = []
    for session in sessions:
        for bar in session.bars:
            record = bar.record
            preview, truncated = json_preview(record.result, PREVIEW)
            steps.append(
                StepView(
                    record=record,
                    session=session.number,
                    error=None if record.error is None else short(record.error, ERROR_CHARS),
                    preview=preview,
                    truncated=truncated,
                )
            )
    data_preview, data_truncated = json_preview(run.data, PREVIEW)
    error = (run.response or {}).get("error")
    return RunView(
        run=run,
        sessions=tuple(sessions),
        steps=tuple(steps),
        events=tuple(_events(run, groups)),
        outcome_error=None if error is None else short(error, ERROR_CHARS),
        data_preview=data_preview,
        data_truncated=data_truncated,
    )


def _events(run: StoredRun, groups: list[list[StepRecord]]) -> list[Event]:
    """The run's history from its ledger: starts, each step's end, the outcome."""
    timeout = "no deadline" if not math.isfinite(run.timeout) else f"{run.timeout:g} s"
    events = [Event(when=clock_time(run.created_at), text="run created", kind="start")]
    for number, group in enumerate(groups):
        start = min(r.started_at for r in group)
        if number:
            events.append(Event(when="", text=f"resume {number} started", kind="start"))
        for record in group:
            offset = f"+{record.ended_at - start:.3f} s"
            attempts = f"{record.attempts} attempt{'s' * (record.attempts != 1)}"
            text = f"step {short(record.step)} {record.status} after {attempts}"
            if record.error_type:
                text += f" ({short(record.error_type)})"
            events.append(Event(when=offset, text=text, kind=record.status))
    if run.resumes and len(groups) < run.resumes + 1:
        events.append(Event(when="", text=f"resumed {run.resumes} times in all", kind="start"))
    if run.status != "running":
        events.append(
            Event(
                when=clock_time(run.updated_at),
                text=f"run finished: {run.status} (timeout {timeout})",
                kind=run.status,
            )
        )
    return events


def run_json(view: RunView, *, now: float) -> dict[str, Any]:
    """A run as the API gives it: its steps with bounded results, and its sessions."""
    run = view.run
    steps = []
    bars = [bar for session in view.sessions for bar in session.bars]
    for step, bar in zip(view.steps, bars, strict=True):
        record = step.record
        whole, cut = json_preview(record.result, API_RESULT)
        steps.append(
            {
                "step": record.step,
                "agent": record.agent,
                "status": record.status,
                "attempts": record.attempts,
                "session": step.session,
                "offset_seconds": bar.offset,
                "seconds": bar.seconds,
                "time_left_at_start": bar.time_left,
                "error": step.error,
                "error_type": record.error_type,
                "tries": [
                    {"attempt": t.attempt, "status": t.status, "error_type": t.error_type}
                    for t in bar.tries
                ],
                "result": None if cut else record.result,
                "result_truncated": cut,
                "result_preview": whole if cut else None,
            }
        )
    return {
        "workflow_id": run.workflow_id,
        "workflow_type": run.workflow_type,
        "status": run.status,
        "timeout": seconds_or_none(run.timeout),
        "created_at": run.created_at,
        "updated_at": run.updated_at,
        "age_seconds": max(0.0, now - run.created_at),
        "resumes": run.resumes,
        "steps_done": len(run.completed_steps),
        "error": view.outcome_error,
        "data_preview": view.data_preview,
        "data_truncated": view.data_truncated,
        "sessions": [
            {"number": s.number, "deadline_seconds": s.deadline, "steps": len(s.bars)}
            for s in view.sessions
        ],
        "steps": steps,
    }
