"""What travels with a step to wherever it runs, and the function that runs it there."""

from __future__ import annotations

import math
import pickle
import sys
import time
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from types import TracebackType
from typing import Any

import attrs

from mira_actors import (
    DeadlineExceededError,
    instrumentation,
    request_headers,
    time_left,
    using_headers,
    wall_clock_deadline,
)

from ._response import Response, StepAgent


@attrs.frozen(kw_only=True)
class StepContext:
    """The step as a backend carries it to a worker, beside the agent and the message.

    Small and picklable, so that it reaches a worker thread, a worker process or a Ray
    task alike.

    Attributes:
        agent_id: The agent that answers the step.
        message_type: The message's type, when it has one: it names the step.
        deadline: When the step's budget runs out, in seconds since the epoch
            (:func:`time.time`); ``math.inf`` for no deadline.
        headers: The request's headers (a workflow step's ``idempotency_key`` among
            them), which ``request_headers()`` returns in the worker, and the trace
            context (``traceparent``) when a span is recording.
    """

    agent_id: str
    message_type: str | None = None
    deadline: float = math.inf
    headers: dict[str, Any] = attrs.Factory(dict)

    @classmethod
    def for_message(cls, agent_id: str, message: Any) -> StepContext:
        """Return the context of ``message`` now, its deadline read from ``time_left()``."""
        kind = message.get("type") if isinstance(message, Mapping) else None
        headers = dict(request_headers())
        if (hooks := instrumentation.current()) is not None:
            # The trace context, so that the worker's span joins the run's trace.
            headers.update(hooks.trace_context())
        return cls(
            agent_id=agent_id,
            message_type=kind if isinstance(kind, str) else None,
            deadline=time.time() + time_left(),
            headers=headers,
        )

    def failure(self, backend: str, exc: BaseException) -> str:
        """Describe a backend's failure to run this step, naming the agent and the step."""
        step = "" if self.message_type is None else f" for {self.message_type!r}"
        return (
            f"the {backend} backend could not run agent {self.agent_id!r}{step}: "
            f"{type(exc).__name__}: {exc}"
        )


def run_step(agent: StepAgent, message: Any, step: StepContext) -> Response:
    """Answer ``message`` with ``agent.respond`` under the step's budget, in a worker.

    Inside, :func:`mira_actors.time_left` counts down to the step's deadline. A step
    whose budget is already spent when a worker picks it up is not run.
    """
    # A span of the run's trace, when the step came with its context (``traceparent``).
    span: AbstractContextManager[Any] = nullcontext()
    if "traceparent" in step.headers and (hooks := instrumentation.current()) is not None:
        span = hooks.worker_step(step.headers, step.agent_id, step.message_type)
    with wall_clock_deadline(step.deadline), using_headers(step.headers), span:
        if time_left() == 0:
            # Not the agent's failure: the caller's side waits for trio's cancellation,
            # so the step ends as the deadline's timeout, even if the two clocks differ
            # by a hair and this answer would otherwise arrive just before it.
            msg = "the step's deadline passed before a worker started it"
            raise DeadlineExceededError(msg)
        try:
            return agent.respond(message)
        except DeadlineExceededError as exc:
            release_in_slices(exc.__traceback__)
            raise


SLICE = 1_000
"""How many items of a stopped step's lists are freed at a time (see release_in_slices)."""
YIELD_EVERY = 10_000  # items freed between explicit hand-overs of the GIL


def release_in_slices(traceback: TracebackType | None) -> None:
    """Free the big lists a step stopped at its deadline had built, a slice at a time.

    Freeing a list of a million dicts is one C call that holds the GIL for tens of
    milliseconds: the trio thread, answering the caller at that very deadline, would
    wait for it. Slices let the interpreter switch threads between them. Only lists
    that the stopped code alone held are touched.
    """
    while traceback is not None:
        frame = traceback.tb_frame
        for value in frame.f_locals.values():
            # Only a list that nothing else holds (not the message's own data): the
            # references are the frame's variable, its f_locals, `value` and the call's
            # argument.
            if isinstance(value, list) and len(value) > SLICE and sys.getrefcount(value) <= 4:
                while value:
                    del value[-SLICE:]
                    # The interpreter switches threads between slices every 5 ms; hand
                    # the GIL over sooner now and then, as the caller is answered now.
                    if len(value) % YIELD_EVERY < SLICE:
                        time.sleep(0)
        traceback = traceback.tb_next


class StepShippingError(Exception):
    """Raised in a worker when a step cannot be unpacked, or its response packed."""


def run_pickled_step(job: bytes) -> bytes:
    """Unpack ``(agent, message, step)`` from ``job``, run it, and pack the response.

    The worker entry of the process and Ray backends: their steps travel as bytes, so
    that a step that cannot be shipped fails as such, never as the agent's own error.

    Raises:
        StepShippingError: ``job`` does not unpickle here, or the response does not pickle.
    """
    try:
        agent, message, step = pickle.loads(job)
    except Exception as exc:
        msg = f"the step could not be unpickled in the worker: {type(exc).__name__}: {exc}"
        raise StepShippingError(msg) from None
    response = run_step(agent, message, step)
    try:
        return pickle.dumps(response, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        msg = f"the agent's response could not be pickled: {type(exc).__name__}: {exc}"
        raise StepShippingError(msg) from None
