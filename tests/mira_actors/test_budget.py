"""time_left() and wall_clock_deadline: the budget on the trio thread and off it."""

from __future__ import annotations

import math
import time

import pytest
import trio

from mira_actors import time_left, wall_clock_deadline


async def test_time_left_reads_the_cancel_scopes_in_trio(autojump_clock: trio.abc.Clock) -> None:
    """Inside trio, time_left() is the effective deadline minus now."""
    assert time_left() == math.inf
    with trio.move_on_after(5):
        await trio.sleep(2)
        assert time_left() == 3


async def test_wall_clock_deadline_does_not_change_trio_tasks(
    autojump_clock: trio.abc.Clock,
) -> None:
    """A trio task keeps reading its cancel scopes under wall_clock_deadline."""
    with wall_clock_deadline(time.time() - 100), trio.move_on_after(5):
        await trio.sleep(1)
        assert time_left() == 4


def test_time_left_outside_trio_without_a_deadline_is_inf() -> None:
    """Outside trio, with no deadline set, time_left() is inf."""
    assert time_left() == math.inf


def test_time_left_outside_trio_counts_down_to_the_wall_clock_deadline() -> None:
    """Outside trio, time_left() counts down to the wall-clock deadline, and back out."""
    with wall_clock_deadline(time.time() + 30):
        assert 29 < time_left() <= 30
        with wall_clock_deadline(math.inf):
            assert time_left() == math.inf
    assert time_left() == math.inf


def test_spent_wall_clock_deadline_leaves_zero() -> None:
    """A wall-clock deadline in the past leaves 0, never less."""
    with wall_clock_deadline(time.time() - 5):
        assert time_left() == 0


async def test_worker_thread_reads_the_deadline_it_was_given() -> None:
    """In a trio worker thread, time_left() reads the wall-clock deadline set there."""

    def in_thread() -> float:
        with wall_clock_deadline(time.time() + 30):
            return time_left()

    assert 29 < await trio.to_thread.run_sync(in_thread) <= 30


@pytest.mark.parametrize(
    ("deadline", "error"),
    [("soon", TypeError), (True, TypeError), (None, TypeError), (math.nan, ValueError)],
)
def test_wall_clock_deadline_rejects_what_is_not_a_time(
    deadline: object, error: type[Exception]
) -> None:
    """A deadline that is not a number of seconds is refused."""
    with (
        pytest.raises(error, match="deadline must be seconds since the epoch"),
        wall_clock_deadline(deadline),  # type: ignore[arg-type]
    ):
        pass
