"""The time a task has left before its effective deadline, on the trio thread or off it."""

from __future__ import annotations

import contextvars
import math
import time

import trio

from ._deadlines import current_deadline
from ._exceptions import MiraError

# Off the trio thread there is no cancel scope to ask, so the deadline travels as a value:
# seconds since the epoch (time.time()), which means the same in every process and host.
_wall_clock_deadline = contextvars.ContextVar("mira_actors_wall_clock_deadline", default=math.inf)


def time_left() -> float:
    """Return the seconds left before the current deadline; ``math.inf`` when there is none.

    Inside a handler serving an ``ask`` this is the asker's remaining budget (or less,
    when the handler set an earlier deadline of its own). Outside trio (in a worker
    thread, a worker process or a Ray task running a step) it is the budget that came
    with the step, under :func:`wall_clock_deadline`. Never below zero.
    """
    try:
        deadline = current_deadline()
    except RuntimeError:  # not in a trio task: a worker running a step, or plain code
        return max(0.0, _wall_clock_deadline.get() - time.time())
    return max(0.0, deadline - trio.current_time())


class DeadlineExceededError(MiraError, TimeoutError):
    """Raised by :func:`check_deadline` when the step's budget is spent.

    It is not an agent's failure: ``BaseAgent`` lets it through its own error handling,
    and the step ends as a timeout, like a cancelled async handler. Code that catches
    ``Exception`` in its loops should re-raise it.
    """

    def __init__(self, message: str = "the step's deadline has passed") -> None:
        # The message is an argument so that the error pickles back from a worker process.
        super().__init__(message)


def check_deadline() -> None:
    """Raise :class:`DeadlineExceededError` once the current step's budget is spent.

    For synchronous agent code, which a deadline cannot interrupt: call it in loops, so
    the work stops at the deadline on every backend (inline on the trio thread, and in a
    worker thread, process or Ray task, where the budget travels with the step). It
    costs about one clock read; with no deadline it never raises.

    Usage::

        def generate(self, data):
            for item in data["items"]:
                check_deadline()
                ...
    """
    # Workers first: a worker thread has no trio task to ask, and asking costs an exception.
    deadline = _wall_clock_deadline.get()
    if deadline != math.inf:
        if time.time() >= deadline:
            raise DeadlineExceededError
        return
    try:
        deadline = current_deadline()
    except RuntimeError:  # plain code outside trio, with no deadline
        return
    if deadline != math.inf and trio.current_time() >= deadline:
        raise DeadlineExceededError


def set_wall_clock_deadline(deadline: float) -> contextvars.Token[float]:
    """Set the wall-clock deadline (a float, not NaN); undo with :func:`reset_wall_clock_deadline`.

    :class:`wall_clock_deadline` without its argument checks, for the agents' hot path.
    """
    return _wall_clock_deadline.set(deadline)


def reset_wall_clock_deadline(token: contextvars.Token[float]) -> None:
    """Undo :func:`set_wall_clock_deadline`."""
    _wall_clock_deadline.reset(token)


class wall_clock_deadline:
    """Make :func:`time_left` count down to ``deadline`` in code that runs outside trio.

    ``deadline`` is in seconds since the epoch, as :func:`time.time` gives, so that it
    can travel to another process or host; ``math.inf`` means none. Code inside a trio
    task keeps reading its cancel scopes in :func:`time_left`; :func:`check_deadline`
    reads this deadline first wherever it is set (it is the cheaper to read), which is
    how ``BaseAgent`` makes the check cost one clock read on the trio thread too.

    Usage::

        with wall_clock_deadline(time.time() + 2.0):
            assert time_left() <= 2.0
    """

    # A class, not a generator: it wraps every synchronous step, so it must be cheap.
    __slots__ = ("_deadline", "_token")

    def __init__(self, deadline: float) -> None:
        if isinstance(deadline, bool) or not isinstance(deadline, int | float):
            msg = (
                "deadline must be seconds since the epoch, as a float, "
                f"got {type(deadline).__name__}"
            )
            raise TypeError(msg)
        if math.isnan(deadline):
            msg = "deadline must be seconds since the epoch or inf, got nan"
            raise ValueError(msg)
        self._deadline = float(deadline)
        self._token: contextvars.Token[float] | None = None

    def __enter__(self) -> None:
        self._token = _wall_clock_deadline.set(self._deadline)

    def __exit__(self, *exc_info: object) -> None:
        if self._token is not None:
            _wall_clock_deadline.reset(self._token)
            self._token = None
