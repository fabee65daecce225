"""BaseAgent: a MIRA agent as an actor, answering ``{'type', 'data'}`` messages."""

from __future__ import annotations

import datetime
import math
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import trio

from mira_actors import Actor, DeadlineExceededError, safe_str, time_left
from mira_actors._budget import reset_wall_clock_deadline, set_wall_clock_deadline
from mira_actors._deadlines import current_deadline

from ._backend import Backend, resolve_backend
from ._local_backends import InlineBackend
from ._payload import (
    DEFAULT_INLINE_MAX_ITEMS,
    DEFAULT_MAX_MESSAGE_ITEMS,
    DEFAULT_MAX_RESULT_ITEMS,
    message_items,
)
from ._response import Response as Response
from ._step import StepContext

_INLINE = resolve_backend("inline")


class BaseAgent(Actor):
    """An actor that answers MIRA messages with MIRA agent responses.

    A subclass sets ``agent_id`` and ``handlers`` (message type to the name of a method
    that takes the message's ``data`` and returns the result). :meth:`respond` is the
    synchronous core; :meth:`handle` is what the actor runtime calls. A subclass may
    override :meth:`handle` for its own message types and call ``await
    super().handle(message)`` for the rest.

    ``backend`` says where :meth:`respond` runs: ``'inline'`` (the default: on the trio
    thread, for code that never blocks), ``'thread'``, ``'process'``, ``'ray'``, or a
    :class:`Backend`. An agent whose methods block sets ``backend = 'process'`` (stopped
    at a deadline) or ``'thread'`` (which cannot be stopped);
    ``OrchestratorAgent.register_agent(agent, backend=...)`` overrides it for one agent.

    A message whose data holds more than ``max_message_items`` items (default
    1,000,000; see ``message_items``) gets an 'error' response at once, and a result of
    more than ``max_result_items`` (100,000) becomes one. An inline
    agent's message of more than ``inline_max_items`` items (default 10,000) runs on
    the 'thread' backend instead, so that one big step never holds the trio thread.

    Synchronous methods that loop call ``mira_actors.check_deadline()`` in their loops:
    it raises :class:`~mira_actors.DeadlineExceededError` once the step's budget is
    spent, on every backend, and the step then ends as a timeout (not as an error).

    Usage::

        class EchoAgent(BaseAgent):
            agent_id = "echo_agent"
            handlers = {"echo": "echo"}

            def echo(self, data: dict[str, Any]) -> dict[str, Any]:
                return data
    """

    # An agent answers its failures (AGENTS.md): a raising handler fails only its own
    # request, and one bad message cannot crash the agent for everyone else.
    crash_on_error = False
    agent_id: ClassVar[str] = "base_agent"
    handlers: ClassVar[Mapping[str, str]] = {}
    backend: str | Backend = "inline"
    max_message_items: ClassVar[int] = DEFAULT_MAX_MESSAGE_ITEMS
    max_result_items: ClassVar[int] = DEFAULT_MAX_RESULT_ITEMS
    inline_max_items: ClassVar[int] = DEFAULT_INLINE_MAX_ITEMS

    @property
    def message_types(self) -> frozenset[str]:
        """The message types this agent answers."""
        return frozenset(self.handlers)

    async def handle(self, message: Any) -> Response:
        """Answer ``message`` with :meth:`respond`, on the agent's backend.

        The step's budget (``mira_actors.time_left()``) travels with it. A step whose
        budget is already spent is not dispatched, and a step that runs out of it (its
        code raised :class:`~mira_actors.DeadlineExceededError`, or an inline step
        returned after its deadline) ends as the deadline's cancellation, never as an
        answer that came too late.
        """
        backend = _INLINE if self.backend == "inline" else resolve_backend(self.backend)
        inline = type(backend) is InlineBackend
        items = message_items(message)
        if items > self.max_message_items:
            return self.error_response(
                f"message too large: about {items} items in its data, over this agent's "
                f"limit of {self.max_message_items} (BaseAgent.max_message_items)"
            )
        if items > self.inline_max_items and inline:
            # A big step would hold the trio thread: run it off the loop, where its
            # deadline still stops it (the built-in agents call check_deadline()).
            backend, inline = resolve_backend("thread"), False
        try:
            if inline:
                # The hot path: the actor loop drops a request whose deadline has passed,
                # and here the cancel scopes already are the budget.
                deadline = current_deadline()
                if deadline == math.inf:
                    return self._bounded(self.respond(message))
                # As a wall-clock deadline, check_deadline() reads it with one clock read.
                token = set_wall_clock_deadline(time.time() + (deadline - trio.current_time()))
                try:
                    response = self.respond(message)
                finally:
                    reset_wall_clock_deadline(token)
                if trio.current_time() >= deadline:  # it held the loop past its deadline
                    await trio.lowlevel.checkpoint()  # where the deadline's cancel lands
                return self._bounded(response)
            if time_left() == 0:
                await trio.sleep_forever()  # cancelled at once: the deadline has passed
            step = StepContext.for_message(self.agent_id, message)
            return self._bounded(await backend.call(self, message, step))
        except DeadlineExceededError as exc:
            return await self._out_of_time(exc)

    def _bounded(self, response: Response) -> Response:
        # A result past the limit would cost the loop its copying and encoding (a
        # durable store encodes every result): answer with an error instead.
        items = message_items(response)
        if items <= self.max_result_items:
            return response
        return self.error_response(
            f"result too large: about {items} items, over this agent's limit of "
            f"{self.max_result_items} (BaseAgent.max_result_items)"
        )

    async def _out_of_time(self, exc: DeadlineExceededError) -> Response:
        # The step's code saw its deadline pass by the wall clock; trio's cancellation is
        # due now, or in a moment when the two clocks differ by a hair.
        if time_left() != math.inf:
            await trio.sleep_forever()
        return self.error_response(str(exc))  # no deadline here: code raised it itself

    def respond(self, message: Any) -> Response:
        """Answer ``message`` synchronously; failures become 'error' responses."""
        if not isinstance(message, Mapping) or "type" not in message or "data" not in message:
            return self.error_response("Invalid message format")
        method_name = (
            self.handlers.get(message["type"]) if isinstance(message["type"], str) else None
        )
        if method_name is None:
            return self.error_response(f"Unknown message type: {safe_str(message['type'])}")
        method: Callable[[Any], Any] = getattr(self, method_name)
        try:
            result = method(message["data"])
        except DeadlineExceededError:
            raise  # not a failure of the agent: handle() ends the step as a timeout
        except Exception as exc:  # an agent answers with its failure; it never raises
            return self.error_response(str(exc) or type(exc).__name__)
        return self.success_response(result)

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the agent for a worker: its own state, without the runtime's or backend's."""
        state = dict(self.__dict__)
        state.pop("ref", None)  # the actor's mailbox stays with the runtime
        state.pop("backend", None)  # a worker runs respond() itself; it needs no backend
        return state

    def success_response(self, data: Any) -> Response:
        """Build a 'success' response carrying ``data``."""
        return self._response("success", data, None)

    def error_response(self, error: str) -> Response:
        """Build an 'error' response carrying ``error``."""
        return self._response("error", None, error)

    def _response(self, status: str, data: Any, error: str | None) -> Response:
        return {
            "agent_id": self.agent_id,
            "timestamp": datetime.datetime.now(datetime.UTC).isoformat(),
            "status": status,
            "data": data,
            "error": error,
        }
