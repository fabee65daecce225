"""Laying out a run's stored ledger as a timeline: sessions, bars, deadline, time left."""

from __future__ import annotations

import math

from mira_actors.web._timeline import PLOT_LEFT, PLOT_WIDTH, split_sessions, timeline
from supervisors import StepRecord


def rec(
    step: str, start: float, end: float, status: str = "success", attempts: int = 1
) -> StepRecord:
    """A record of ``step`` from ``start`` to ``end`` (trio times)."""
    return StepRecord(
        step=step, agent="a", status=status, started_at=start, ended_at=end, attempts=attempts
    )


def test_bars_sit_on_the_axis_with_the_deadline_and_time_left() -> None:
    """Each bar starts at its offset; the deadline is drawn; time left is deadline - offset."""
    records = [
        rec("a", 100.0, 101.0),
        rec("b", 101.0, 104.0, attempts=3),
        rec("c", 104.0, 108.0, "timeout"),
    ]
    [session] = timeline(records, timeout=8.0, resumes=0)
    a, b, c = session.bars
    assert (a.offset, b.offset, c.offset) == (0.0, 1.0, 4.0)
    assert (a.time_left, b.time_left, c.time_left) == (8.0, 7.0, 4.0)
    assert session.deadline_x == PLOT_LEFT + PLOT_WIDTH
    assert (b.x, b.width) == (PLOT_LEFT + PLOT_WIDTH / 8, 3 * PLOT_WIDTH / 8)
    assert b.marks == ("retried",)
    assert c.marks == ("timeout",)
    assert [label for _, label in session.ticks] == ["0 s", "2 s", "4 s", "6 s", "8 s"]


def test_a_repeated_step_or_a_clock_from_another_process_starts_a_new_session() -> None:
    """A step seen again, or a start time before the session's, begins a resume's session."""
    first = [rec("a", 10.0, 11.0), rec("b", 11.0, 13.0, "timeout")]
    same_process_resume = [rec("b", 20.0, 21.0)]
    other_process_resume = [rec("c", 5.0, 6.0)]
    groups = split_sessions([*first, *same_process_resume, *other_process_resume], 3.0)
    assert groups == [first, same_process_resume, other_process_resume]


def test_only_the_latest_session_has_the_stored_deadline() -> None:
    """The store keeps the latest timeout: only the last session shows a deadline."""
    records = [rec("a", 10.0, 12.0, "timeout"), rec("a", 50.0, 51.0)]
    earlier, latest = timeline(records, timeout=5.0, resumes=1)
    assert (earlier.deadline, earlier.bars[0].time_left) == (None, None)
    assert (latest.deadline, latest.bars[0].time_left) == (5.0, 5.0)
    assert latest.title == "resume 1"


def test_a_resume_that_left_no_records_hides_the_deadline() -> None:
    """With fewer sessions found than starts, the last one found may be old: no deadline."""
    [session] = timeline([rec("a", 1.0, 2.0)], timeout=5.0, resumes=1)
    assert session.deadline is None


def test_no_deadline_means_no_line_and_no_time_left() -> None:
    """A run with an infinite timeout is drawn to its last end, with no deadline."""
    [session] = timeline([rec("a", 0.0, 0.5), rec("b", 0.5, 2.0)], timeout=math.inf, resumes=0)
    assert session.deadline_x is None
    assert session.span == 2.0
    assert [bar.time_left for bar in session.bars] == [None, None]


def test_a_retried_steps_attempt_records_make_one_row_with_a_segment_each() -> None:
    """Records of one step with one start are its attempts: one bar, one segment each."""
    records = [
        rec("a", 10.0, 11.0),
        rec("b", 11.0, 12.0, "error", attempts=1),
        rec("b", 11.0, 13.5, "error", attempts=2),
        rec("b", 11.0, 14.0, attempts=3),
    ]
    [session] = timeline(records, timeout=10.0, resumes=0)
    a, b = session.bars
    assert (b.offset, b.seconds, b.attempts, b.status) == (1.0, 3.0, 3, "success")
    assert b.marks == ("retried",)
    scale = PLOT_WIDTH / 10.0
    assert [(t.attempt, t.status, t.x, t.width) for t in b.tries] == [
        (1, "error", PLOT_LEFT + 1.0 * scale, 1.0 * scale),
        (2, "error", PLOT_LEFT + 2.0 * scale, 1.5 * scale),
        (3, "success", PLOT_LEFT + 3.5 * scale, 0.5 * scale),
    ]
    assert a.tries == ()
