"""The ray backend: steps as Ray tasks on a Ray cluster, force-cancelled at the deadline.

Ray is optional (the ``ray`` extra) and imported only when this backend is used, so
``import mira_actors.agents`` never needs it.
"""

from __future__ import annotations

import logging
import os
import pickle
from types import ModuleType
from typing import Any

import trio

from ._response import Response, StepAgent
from ._step import StepContext, StepShippingError, run_pickled_step

logger = logging.getLogger("mira_actors.agents.ray")

ADDRESS_VARIABLE = "MIRA_RAY_ADDRESS"
"""The environment variable that :func:`init_ray` reads the cluster's address from."""

DEFAULT_MAX_WAITING = 64
"""How many steps a :class:`RayBackend` has in flight at once unless told otherwise."""

# A local instance is for a laptop, tests and examples: no dashboard, and no worker
# output copied to the driver's console.
_LOCAL_DEFAULTS: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}


def _import_ray() -> ModuleType:
    try:
        import ray
    except ImportError:
        msg = "the 'ray' backend needs Ray: pip install 'mira-actors[ray]'"
        raise ImportError(msg) from None
    return ray


def init_ray(address: str | None = None, **options: Any) -> None:
    """Connect to Ray, unless it already is: call it before ``trio.run``, in the main thread.

    ``address`` is ``'auto'`` or a cluster's URL (``ray://host:10001``); when None, it
    is read from the ``MIRA_RAY_ADDRESS`` environment variable, and when that is unset
    too, a local instance is started (without its dashboard). ``options`` go to
    ``ray.init``. Ray ties the processes it starts to the calling thread, so do not call
    this from a worker thread. ``ray.shutdown()`` ends it.

    Raises:
        ImportError: the ray extra is not installed.
    """
    ray = _import_ray()
    if ray.is_initialized():
        return
    address = address or os.environ.get(ADDRESS_VARIABLE) or None
    settings = dict(options) if address else {**_LOCAL_DEFAULTS, **options}
    ray.init(address=address, **settings)


class RayStep:
    """A step submitted as a Ray task: its ``ref``, and its response when it comes."""

    def __init__(self, backend: RayBackend, ref: Any, agent: StepAgent, step: StepContext) -> None:
        self.ref = ref
        self._ray = backend.ray
        self._backend = backend
        self._agent = agent
        self._step = step

    async def response(self) -> Response:
        """Wait for the task's response, off the trio thread.

        When cancelled (the deadline passed), cancel the task with ``force=True`` and
        re-raise. Ray then kills the worker running it, asynchronously: a few
        milliseconds after this returns, on a local instance.
        """
        try:
            packed = await trio.to_thread.run_sync(
                self._get, abandon_on_cancel=True, limiter=self._backend.waiters()
            )
        except trio.Cancelled:
            try:
                self._ray.cancel(self.ref, force=True)
            except Exception:  # the cluster is unreachable: say so, and still give up
                logger.warning("could not cancel the Ray task of a step", exc_info=True)
            raise
        except (StepShippingError, self._ray.exceptions.RayError) as exc:
            return self._agent.error_response(self._step.failure(self._backend.name, exc))
        response: Response = pickle.loads(packed)
        return response

    def _get(self) -> bytes:
        try:
            packed: bytes = self._ray.get(self.ref)
        except self._ray.exceptions.RayTaskError as exc:
            # The task raised: a step that could not be shipped, or the agent's own error,
            # which propagates as it would inline.
            if isinstance(exc.cause, Exception):
                raise exc.cause from None
            raise
        return packed


class RayBackend:
    """Run steps as Ray tasks, on the cluster that :func:`init_ray` connected to.

    The agent, the message and the step's budget are pickled (with Ray's cloudpickle) to
    a Ray worker, which calls ``agent.respond(message)``; the response comes back
    through the same ask and ledger as any other. At the deadline the task is cancelled
    with ``ray.cancel(ref, force=True)``, which kills its worker (asynchronously: a few
    milliseconds after the caller has its answer, on a local instance). A step is never
    retried behind its caller's back (``max_retries=0``), and ``respond`` runs on a copy
    of the agent, so changes it makes to the agent's state stay in the worker.

    Each step in flight has a thread of the backend's own waiting for its result (at
    most ``max_waiting``; never trio's default thread limiter).

    Args:
        max_waiting: How many steps may be in flight at once; more wait for a turn.
        options: Ray task options (``num_cpus``, ``num_gpus``, ``resources``, ...).

    Raises:
        ImportError: the ray extra is not installed.
    """

    name = "ray"

    def __init__(self, *, max_waiting: int = DEFAULT_MAX_WAITING, **options: Any) -> None:
        if isinstance(max_waiting, bool) or not isinstance(max_waiting, int) or max_waiting < 1:
            msg = f"max_waiting must be an int >= 1, got {max_waiting!r}"
            raise ValueError(msg)
        self.ray = _import_ray()
        self._options = {"max_retries": 0, **options}
        self._task: Any = None
        self._max_waiting = max_waiting
        # One limiter per trio run, as the thread backend has (see there why).
        self._waiters: trio.lowlevel.RunVar[trio.CapacityLimiter] = trio.lowlevel.RunVar(
            "mira_actors_ray_waiters"
        )

    def waiters(self) -> trio.CapacityLimiter:
        """Return the limiter of the threads that wait for results in this trio run."""
        try:
            return self._waiters.get()
        except LookupError:
            limiter = trio.CapacityLimiter(self._max_waiting)
            self._waiters.set(limiter)
            return limiter

    def submit(self, agent: StepAgent, message: Any, step: StepContext) -> RayStep:
        """Submit the step as a Ray task and return it, without waiting.

        Raises:
            RuntimeError: Ray is not initialized (call :func:`init_ray` first).
            Exception: what pickling the agent or the message raised.
        """
        if not self.ray.is_initialized():
            msg = "Ray is not initialized: call init_ray() (or ray.init()) before trio.run"
            raise RuntimeError(msg)
        job = self.ray.cloudpickle.dumps((agent, message, step))
        if self._task is None:
            self._task = self.ray.remote(run_pickled_step).options(**self._options)
        return RayStep(self, self._task.remote(job), agent, step)

    async def call(self, agent: StepAgent, message: Any, step: StepContext) -> Response:
        """Answer ``message`` in a Ray task; at the deadline, force-cancel the task."""
        try:
            submitted = self.submit(agent, message, step)
        except Exception as exc:  # not initialized, or the step does not pickle
            return agent.error_response(step.failure(self.name, exc))
        return await submitted.response()
