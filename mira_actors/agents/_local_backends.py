"""The backends in this process: inline on the trio thread, and in a worker thread."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import attrs
import trio

from mira_actors import instrumentation

from ._step import StepContext, run_step

if TYPE_CHECKING:
    from .base_agent import BaseAgent, Response


class InlineBackend:
    """Run steps on the trio thread, in the actor's own task: the default.

    For agents that never block: at the deadline the handler is cancelled at its next
    ``await``, so a ``respond()`` that blocks would stall every task until it returns.
    """

    name = "inline"

    async def call(self, agent: BaseAgent, message: Any, step: StepContext) -> Response:
        """Answer ``message`` here and now."""
        return agent.respond(message)


@attrs.frozen(kw_only=True)
class ThreadStatistics:
    """What a :class:`ThreadBackend` has left behind at deadlines.

    Attributes:
        abandoned: Steps whose thread was still running when their caller gave up.
        abandoned_running: Of those, the ones whose thread has not finished yet.
    """

    abandoned: int
    abandoned_running: int


@attrs.define(eq=False)
class _ThreadStep:
    # Written by the trio thread and the worker thread, each under the backend's lock.
    cancelled: bool = False
    started: bool = False
    finished: bool = False
    abandoned: bool = False


class ThreadBackend:
    """Run steps in a worker thread (``trio.to_thread``), off the trio thread.

    The caller's response still comes at the deadline, but a thread cannot be stopped:
    a step still running then is abandoned, finishes its work on its own, and is counted
    in :meth:`statistics`. A step that had not started by then never starts. This is the
    one backend that cannot stop work at a deadline.

    Args:
        limiter: How many steps may run at once; trio's default thread limiter if None.
    """

    name = "thread"

    def __init__(self, *, limiter: trio.CapacityLimiter | None = None) -> None:
        self._limiter = limiter
        self._lock = threading.Lock()
        self._abandoned = 0
        self._abandoned_running = 0

    async def call(self, agent: BaseAgent, message: Any, step: StepContext) -> Response:
        """Answer ``message`` in a worker thread; at the deadline, return without it."""
        state = _ThreadStep()
        try:
            return await trio.to_thread.run_sync(
                self._run,
                agent,
                message,
                step,
                state,
                abandon_on_cancel=True,
                limiter=self._limiter,
            )
        except trio.Cancelled:
            with self._lock:
                state.cancelled = True
                if state.started and not state.finished:
                    state.abandoned = True
                    self._abandoned += 1
                    self._abandoned_running += 1
            if state.abandoned and (hooks := instrumentation.current()) is not None:
                hooks.thread_step_abandoned(step.agent_id)
            raise

    def _run(self, agent: BaseAgent, message: Any, step: StepContext, state: _ThreadStep) -> Any:
        with self._lock:
            if state.cancelled:  # the caller gave up before this thread got going
                return None
            state.started = True
        try:
            return run_step(agent, message, step)
        finally:
            with self._lock:
                state.finished = True
                if state.abandoned:
                    self._abandoned_running -= 1

    def statistics(self) -> ThreadStatistics:
        """Return how many steps were abandoned, and how many of those still run."""
        with self._lock:
            return ThreadStatistics(
                abandoned=self._abandoned, abandoned_running=self._abandoned_running
            )
