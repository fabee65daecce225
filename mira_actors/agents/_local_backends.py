"""The backends in this process: inline on the trio thread, and in a worker thread."""

from __future__ import annotations

import logging
import threading
from typing import Any

import attrs
import trio

from mira_actors import instrumentation

from ._response import Response, StepAgent
from ._step import StepContext, run_step

logger = logging.getLogger("mira_actors.agents.thread")


class InlineBackend:
    """Run steps on the trio thread, in the actor's own task: the default.

    For agents that never block: at the deadline the handler is cancelled at its next
    ``await``, so a ``respond()`` that blocks would stall every task until it returns.
    """

    name = "inline"

    async def call(self, agent: StepAgent, message: Any, step: StepContext) -> Response:
        """Answer ``message`` here and now."""
        return agent.respond(message)


DEFAULT_MAX_THREADS = 16
"""How many steps a :class:`ThreadBackend` runs at once unless told otherwise."""


@attrs.frozen(kw_only=True)
class ThreadStatistics:
    """How a :class:`ThreadBackend` is doing, and what it has left behind at deadlines.

    Attributes:
        max_threads: How many steps may run at once (its limiter's size).
        running: Step threads running now, abandoned ones included.
        abandoned: Steps whose thread was still running when their caller gave up.
        abandoned_running: Of those, the ones whose thread has not finished yet.
    """

    max_threads: int
    running: int
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
    """Run steps in worker threads of its own, off the trio thread.

    The caller's response still comes at the deadline, but a thread cannot be stopped:
    a step still running then is abandoned (logged with event_type
    'thread_step_abandoned', and counted in :meth:`statistics`) and runs on until its
    code returns, or until it calls :func:`mira_actors.check_deadline`, which the
    built-in agents do in their loops. A step that had not started by then never starts.

    The backend owns its threads: at most ``max_threads`` steps run at once, under a
    limiter of its own (never trio's process-wide default one, so abandoned steps here
    cannot starve anything else). A step waits for a free thread at most until its
    deadline; when every thread is held by an abandoned step, it gets an 'error'
    response at once that says so.

    Args:
        max_threads: How many steps may run at once (default :data:`DEFAULT_MAX_THREADS`).
        limiter: A limiter to share with other code instead (``max_threads`` is then
            its size).
    """

    name = "thread"

    def __init__(
        self,
        *,
        max_threads: int = DEFAULT_MAX_THREADS,
        limiter: trio.CapacityLimiter | None = None,
    ) -> None:
        if isinstance(max_threads, bool) or not isinstance(max_threads, int) or max_threads < 1:
            msg = f"max_threads must be an int >= 1, got {max_threads!r}"
            raise ValueError(msg)
        self._max_threads = max_threads
        self._limiter = limiter
        # One limiter per trio run: a thread abandoned by a run that has ended can no
        # longer hand its token back to that run's limiter.
        self._run_limiter: trio.lowlevel.RunVar[trio.CapacityLimiter] = trio.lowlevel.RunVar(
            "mira_actors_thread_limiter"
        )
        self._lock = threading.Lock()
        self._running = 0
        self._abandoned = 0
        self._abandoned_running = 0

    def limiter(self) -> trio.CapacityLimiter:
        """Return the limiter that steps in this trio run take a thread from."""
        if self._limiter is not None:
            return self._limiter
        try:
            return self._run_limiter.get()
        except LookupError:
            limiter = trio.CapacityLimiter(self._max_threads)
            self._run_limiter.set(limiter)
            return limiter

    async def call(self, agent: StepAgent, message: Any, step: StepContext) -> Response:
        """Answer ``message`` in a worker thread; at the deadline, return without it."""
        limiter = self.limiter()
        if limiter.available_tokens == 0:
            with self._lock:
                stuck = self._abandoned_running
            if stuck >= limiter.total_tokens:
                # Waiting would only end at the deadline: say why now.
                error = (
                    f"thread backend saturated: {stuck} abandoned steps still running "
                    f"(max_threads={int(limiter.total_tokens)}); their agents should call "
                    "mira_actors.check_deadline() in their loops, or use the 'process' backend"
                )
                await trio.lowlevel.checkpoint()
                return agent.error_response(error)
        state = _ThreadStep()
        try:
            return await trio.to_thread.run_sync(
                self._run,
                agent,
                message,
                step,
                state,
                abandon_on_cancel=True,
                limiter=limiter,
            )
        except trio.Cancelled:
            with self._lock:
                state.cancelled = True
                if state.started and not state.finished:
                    state.abandoned = True
                    self._abandoned += 1
                    self._abandoned_running += 1
                    still_running = self._abandoned_running
            if state.abandoned and (hooks := instrumentation.current()) is not None:
                hooks.thread_step_abandoned(step.agent_id)
            if state.abandoned:
                logger.warning(
                    "a thread step ran past its deadline and was abandoned",
                    extra={
                        "event_type": "thread_step_abandoned",
                        "agent_id": step.agent_id,
                        "message_type": step.message_type,
                        "abandoned_running": still_running,
                    },
                )
            raise

    def _run(self, agent: StepAgent, message: Any, step: StepContext, state: _ThreadStep) -> Any:
        with self._lock:
            if state.cancelled:  # the caller gave up before this thread got going
                return None
            state.started = True
            self._running += 1
        try:
            return run_step(agent, message, step)
        finally:
            with self._lock:
                state.finished = True
                self._running -= 1
                if state.abandoned:
                    self._abandoned_running -= 1

    def statistics(self) -> ThreadStatistics:
        """Return how many steps run, were abandoned, and of those still run."""
        with self._lock:
            return ThreadStatistics(
                max_threads=self._max_threads
                if self._limiter is None
                else int(self._limiter.total_tokens),
                running=self._running,
                abandoned=self._abandoned,
                abandoned_running=self._abandoned_running,
            )
