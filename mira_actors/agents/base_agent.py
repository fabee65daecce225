"""BaseAgent: a MIRA agent as an actor, answering ``{'type', 'data'}`` messages."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import trio

from mira_actors import Actor

Response = dict[str, Any]


class BaseAgent(Actor):
    """An actor that answers MIRA messages with MIRA agent responses.

    A subclass sets ``agent_id`` and ``handlers`` (message type to the name of a method
    that takes the message's ``data`` and returns the result). :meth:`respond` is the
    synchronous core; :meth:`handle` is what the actor runtime calls. A subclass may
    override :meth:`handle` for its own message types and call ``await
    super().handle(message)`` for the rest. An agent whose methods block sets
    ``blocking = True`` so that they run in a worker thread, off the trio thread.

    Usage::

        class EchoAgent(BaseAgent):
            agent_id = "echo_agent"
            handlers = {"echo": "echo"}

            def echo(self, data: dict[str, Any]) -> dict[str, Any]:
                return data
    """

    agent_id: ClassVar[str] = "base_agent"
    handlers: ClassVar[Mapping[str, str]] = {}
    blocking: ClassVar[bool] = False

    @property
    def message_types(self) -> frozenset[str]:
        """The message types this agent answers."""
        return frozenset(self.handlers)

    async def handle(self, message: Any) -> Response:
        """Answer ``message``, in a worker thread when the agent is blocking."""
        if self.blocking:
            # The thread cannot be stopped, but the asker is not kept waiting for it.
            return await trio.to_thread.run_sync(self.respond, message, abandon_on_cancel=True)
        return self.respond(message)

    def respond(self, message: Any) -> Response:
        """Answer ``message`` synchronously; failures become 'error' responses."""
        if not isinstance(message, Mapping) or "type" not in message or "data" not in message:
            return self.error_response("Invalid message format")
        method_name = (
            self.handlers.get(message["type"]) if isinstance(message["type"], str) else None
        )
        if method_name is None:
            return self.error_response(f"Unknown message type: {message['type']}")
        method: Callable[[Any], Any] = getattr(self, method_name)
        try:
            result = method(message["data"])
        except Exception as exc:  # an agent answers with its failure; it never raises
            return self.error_response(str(exc) or type(exc).__name__)
        return self.success_response(result)

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
