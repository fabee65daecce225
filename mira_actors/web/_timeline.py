"""A run's timeline from its stored ledger: one bar per step record, on a time axis.

What a store keeps decides what a timeline can show. A step's records share the start
of its first attempt; a failed attempt that was retried has a record of its own, ending
when that attempt ended, and the step's last record ends with its last attempt. So a
step is one row: a bar from its start to its last end, and, when it was retried, a
segment per attempt (from the previous attempt's end, backoff included, to its own
end). Step times are trio times of the process that ran them: comparable within one
start or resume, not across processes. So the records are split into sessions (the
first start and each resume), each on its own axis, from its first step's start (the
run starts its first step at once). A new session begins where a step starts again
(a record of a step already seen, with another start), or where the clock jumps back
or past the deadline. The stored timeout is the latest session's; that session shows
it as the deadline, with the time left at each step's start.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import attrs

from supervisors import StepRecord

from ._bounded import short

# The drawing's coordinates (an SVG viewBox 1000 units wide).
LABEL_WIDTH = 190.0
PLOT_LEFT = 200.0
PLOT_WIDTH = 600.0
ROW_HEIGHT = 30.0
AXIS_HEIGHT = 26.0
MIN_BAR = 2.0
# Past this x, a bar's text would run off the drawing: it goes before or inside the bar.
LABEL_ROOM = 640.0


@attrs.frozen(kw_only=True)
class Try:
    """One attempt of a retried step, drawn over the step's bar."""

    attempt: int
    status: str
    error_type: str | None
    x: float
    width: float


@attrs.frozen(kw_only=True)
class Bar:
    """One step on its session's axis: its final record, and its attempts.

    Attributes:
        step: The step's name.
        agent: The actor that served it.
        status: Its status ('success', 'error', 'timeout', 'cancelled', ...).
        attempts: How many attempts it took in all (numbered on across resumes).
        error: Why it failed, cut short to 100 characters.
        error_type: What kind of failure.
        offset: Seconds from the session's start to the step's start.
        seconds: How long the step took, all its attempts together.
        time_left: Seconds left before the deadline when it started (None: unknown).
        marks: What the bar is marked with: 'retried', 'timeout', 'cancelled', 'error'.
        x: Where the bar starts in the drawing.
        width: How wide it is in the drawing.
        y: Its row's top in the drawing.
        record: The step's final record in the session.
        tries: Each attempt's segment, when the store kept more than one.
    """

    step: str
    agent: str
    status: str
    attempts: int
    error: str | None
    error_type: str | None
    offset: float
    seconds: float
    time_left: float | None
    marks: tuple[str, ...]
    x: float
    width: float
    y: float
    record: StepRecord
    tries: tuple[Try, ...] = ()

    @property
    def label_place(self) -> tuple[float, str]:
        """Where the bar's text goes, and how: after the bar, before it, or inside it."""
        after = self.x + self.width + 6.0
        if after <= LABEL_ROOM:
            return after, "after"
        if self.width >= LABEL_WIDTH + 40.0:
            return self.x + 6.0, "inside"
        return self.x - 6.0, "before"


@attrs.frozen(kw_only=True)
class Session:
    """The first start of a run or one of its resumes, with its own time axis.

    Attributes:
        number: 0 for the first start, then 1, 2, ... in order found.
        bars: Its step records, in the order written.
        span: Seconds the axis covers.
        deadline: Seconds from the start to the deadline, when known.
        deadline_x: Where the deadline line is drawn, when known.
        ticks: Axis marks as (x, label).
        height: The drawing's height.
    """

    number: int
    bars: tuple[Bar, ...]
    span: float
    deadline: float | None
    deadline_x: float | None
    ticks: tuple[tuple[float, str], ...]
    height: float

    @property
    def title(self) -> str:
        """'first start' or 'resume N'."""
        return "first start" if self.number == 0 else f"resume {self.number}"


def split_sessions(records: Sequence[StepRecord], timeout: float) -> list[list[StepRecord]]:
    """Group records by the start or resume that wrote them (see the module's notes)."""
    sessions: list[list[StepRecord]] = []
    seen: dict[str, float] = {}  # each step's start in this session
    start = math.inf
    for record in records:
        new = (
            not sessions
            or seen.get(record.step, record.started_at) != record.started_at
            or record.started_at < start
            or (math.isfinite(timeout) and record.started_at > start + timeout)
        )
        if new:
            sessions.append([])
            seen = {}
            start = record.started_at
        sessions[-1].append(record)
        seen[record.step] = record.started_at
    return sessions


def step_rows(records: Sequence[StepRecord]) -> list[list[StepRecord]]:
    """Group one session's records by step, in the order the steps first appear."""
    rows: dict[str, list[StepRecord]] = {}
    for record in records:
        rows.setdefault(record.step, []).append(record)
    return list(rows.values())


def timeline(records: Sequence[StepRecord], *, timeout: float, resumes: int) -> list[Session]:
    """Return the run's sessions, laid out for drawing.

    The deadline is known only for the latest session (the store keeps the latest
    timeout), and only when each start and resume left records (else the last group
    of records may not be the latest session).
    """
    groups = split_sessions(records, timeout)
    sessions = []
    for number, group in enumerate(groups):
        latest = number == len(groups) - 1 and len(groups) == resumes + 1
        deadline = timeout if latest and math.isfinite(timeout) else None
        sessions.append(_lay_out(number, group, deadline))
    return sessions


def _lay_out(number: int, records: list[StepRecord], deadline: float | None) -> Session:
    start = min(r.started_at for r in records)
    end = max(r.ended_at for r in records) - start
    span = max(end, deadline or 0.0) or 1.0
    scale = PLOT_WIDTH / span
    bars = []
    rows = step_rows(records)
    for row, attempts in enumerate(rows):
        record = attempts[-1]
        offset = record.started_at - start
        seconds = max(record.ended_at - record.started_at, 0.0)
        tries = []
        if len(attempts) > 1:
            began = record.started_at
            for attempt in attempts:
                tries.append(
                    Try(
                        attempt=attempt.attempts,
                        status=attempt.status,
                        error_type=attempt.error_type,
                        x=PLOT_LEFT + (began - start) * scale,
                        width=max((attempt.ended_at - began) * scale, MIN_BAR),
                    )
                )
                began = attempt.ended_at
        bars.append(
            Bar(
                step=record.step,
                agent=record.agent,
                status=record.status,
                attempts=record.attempts,
                error=None if record.error is None else short(record.error),
                error_type=record.error_type,
                offset=offset,
                seconds=seconds,
                time_left=None if deadline is None else deadline - offset,
                marks=_marks(record, len(attempts)),
                x=PLOT_LEFT + offset * scale,
                width=max(seconds * scale, MIN_BAR),
                y=AXIS_HEIGHT + row * ROW_HEIGHT,
                record=record,
                tries=tuple(tries),
            )
        )
    every = _tick_step(span)
    ticks = tuple(
        (PLOT_LEFT + i * every * scale, f"{i * every:g} s")
        for i in range(int(span / every + 1e-9) + 1)
    )
    return Session(
        number=number,
        bars=tuple(bars),
        span=span,
        deadline=deadline,
        deadline_x=None if deadline is None else PLOT_LEFT + deadline * scale,
        ticks=ticks,
        height=AXIS_HEIGHT + len(rows) * ROW_HEIGHT + 6.0,
    )


def _tick_step(span: float) -> float:
    """A round step (1, 2 or 5 times a power of ten) that gives the axis 4 to 10 ticks."""
    raw = span / 4
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def _marks(record: StepRecord, records: int) -> tuple[str, ...]:
    marks = []
    if record.attempts > 1 or records > 1:
        marks.append("retried")
    if record.status in ("timeout", "cancelled", "error"):
        marks.append(record.status)
    return tuple(marks)
