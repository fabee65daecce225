"""check_deadline(): synchronous code's cooperative stop at the step's deadline."""

from __future__ import annotations

import pickle
import time

import pytest
import trio

from mira_actors import DeadlineExceededError, check_deadline, wall_clock_deadline


async def test_it_raises_once_the_trio_deadline_has_passed(autojump_clock: trio.abc.Clock) -> None:
    """On the trio thread it reads the cancel scopes: quiet before the deadline, raises at it."""
    with trio.CancelScope(deadline=trio.current_time() + 1):
        check_deadline()
        with trio.CancelScope(shield=True):
            await trio.sleep(1)
        assert trio.current_time() == 1
        with pytest.raises(DeadlineExceededError, match="the step's deadline has passed"):
            check_deadline()


async def test_it_never_raises_without_a_deadline(autojump_clock: trio.abc.Clock) -> None:
    """With no deadline anywhere it is a no-op, in trio and outside it."""
    await trio.sleep(10**6)
    check_deadline()


def test_it_reads_a_wall_clock_deadline_outside_trio() -> None:
    """In a worker (no trio task), the deadline that came with the step is the one read."""
    check_deadline()  # none set
    with wall_clock_deadline(time.time() + 60):
        check_deadline()
    with wall_clock_deadline(time.time() - 1), pytest.raises(DeadlineExceededError):
        check_deadline()


def test_the_error_is_a_timeout_that_travels_from_a_worker_process() -> None:
    """The error is a TimeoutError and a MiraError, and pickles back from a worker."""
    error = pickle.loads(pickle.dumps(DeadlineExceededError()))
    assert isinstance(error, TimeoutError)
    assert str(error) == "the step's deadline has passed"
