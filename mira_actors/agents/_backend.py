"""Where an agent's steps run: the Backend protocol, and the built-in backends by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ._local_backends import InlineBackend, ThreadBackend
from ._process_backend import ProcessBackend
from ._ray_backend import RayBackend
from ._response import Response, StepAgent

if TYPE_CHECKING:
    from ._step import StepContext


@runtime_checkable
class Backend(Protocol):
    """Runs an agent's steps somewhere: on the trio thread, a thread, a process, a cluster.

    ``call`` answers one message with ``agent.respond(message)`` (or its equivalent in a
    worker, see :func:`run_step`) and returns the response. It runs under the asker's
    deadline: when its caller is cancelled it must return promptly, stopping the work
    where the backend can. An exception raised by the agent's own code propagates as it
    would inline; a failure of the backend itself (the step cannot be shipped, the
    worker died) becomes the agent's 'error' response, naming the agent and the step.
    """

    name: str

    async def call(self, agent: StepAgent, message: Any, step: StepContext) -> Response:
        """Answer ``message`` with ``agent``, here or in a worker, under ``step``'s budget."""
        ...


BACKEND_NAMES = ("inline", "thread", "process", "ray")
"""The names of the built-in backends, each a shared instance of its class."""

_FACTORIES: dict[str, Callable[[], Backend]] = {
    "inline": InlineBackend,
    "thread": ThreadBackend,
    "process": ProcessBackend,
    "ray": RayBackend,
}
_SHARED: dict[str, Backend] = {}


def resolve_backend(backend: str | Backend) -> Backend:
    """Return ``backend``, or the shared built-in backend that it names.

    Raises:
        ValueError: an unknown name.
        TypeError: neither a name nor a Backend.
        ImportError: 'ray' without the ray extra installed.
    """
    if isinstance(backend, str):
        shared = _SHARED.get(backend)
        if shared is None:
            factory = _FACTORIES.get(backend)
            if factory is None:
                msg = f"unknown backend {backend!r}: use one of {', '.join(BACKEND_NAMES)}"
                raise ValueError(msg)
            shared = _SHARED[backend] = factory()
        return shared
    if isinstance(backend, Backend):
        return backend
    msg = f"backend must be a backend name or a Backend, got {type(backend).__name__}"
    raise TypeError(msg)
