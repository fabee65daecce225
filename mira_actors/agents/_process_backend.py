"""The process backend: steps in a pool of worker processes, killed at the deadline."""

from __future__ import annotations

import os
import pickle
from typing import Any

import trio
import trio_parallel

from ._response import Response, StepAgent
from ._step import StepContext, StepShippingError, run_pickled_step


class ProcessBackend:
    """Run steps in worker processes (trio-parallel), so that a deadline stops them.

    The agent, the message and the step's budget are pickled to a worker, which calls
    ``agent.respond(message)``. At the deadline the worker running the step is killed
    (SIGKILL): no step code runs after it, and the next step gets a fresh worker.
    ``respond`` runs on a copy of the agent, so changes it makes to the agent's state
    stay in the worker.

    Workers are cached between steps (trio-parallel's default pool, sized by its
    limiter to the CPU count), and an idle one exits on its own. To keep the workers
    to a block, run it under ``trio_parallel.cache_scope()``, or pass a context from
    ``trio_parallel.open_worker_context()``.

    At most ``limiter``'s tokens of steps run at once: by default a limiter of the
    backend's own, one token per CPU (never trio's or trio-parallel's shared default
    limiter, which other code in the process may fill).

    Args:
        context: The worker pool; trio-parallel's current default if None.
        limiter: How many steps may run at once; one per CPU, the backend's own, if None.
    """

    name = "process"

    def __init__(
        self,
        *,
        context: trio_parallel.WorkerContext | None = None,
        limiter: trio.CapacityLimiter | None = None,
    ) -> None:
        self._context = context
        self._limiter = limiter
        # One limiter per trio run, as the thread backend has.
        self._run_limiter: trio.lowlevel.RunVar[trio.CapacityLimiter] = trio.lowlevel.RunVar(
            "mira_actors_process_limiter"
        )

    def limiter(self) -> trio.CapacityLimiter:
        """Return the limiter that steps in this trio run take a worker from."""
        if self._limiter is not None:
            return self._limiter
        try:
            return self._run_limiter.get()
        except LookupError:
            limiter = trio.CapacityLimiter(os.cpu_count() or 1)
            self._run_limiter.set(limiter)
            return limiter

    async def call(self, agent: StepAgent, message: Any, step: StepContext) -> Response:
        """Answer ``message`` in a worker process; at the deadline, kill the worker."""
        try:
            job = pickle.dumps((agent, message, step), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # the agent or the message does not pickle
            return agent.error_response(step.failure(self.name, exc))
        run = trio_parallel.run_sync if self._context is None else self._context.run_sync
        try:
            # kill_on_cancel: a cancelled step's worker is killed before this returns.
            packed = await run(run_pickled_step, job, kill_on_cancel=True, limiter=self.limiter())
        except (StepShippingError, trio_parallel.BrokenWorkerError) as exc:
            return agent.error_response(step.failure(self.name, exc))
        response: Response = pickle.loads(packed)
        return response
