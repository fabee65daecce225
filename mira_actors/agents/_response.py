"""What an agent answers, and the part of an agent that a backend needs to run a step.

Backends depend on this module, never on ``base_agent``, so that the agent (which picks
its backend) and the backends do not import each other.
"""

from __future__ import annotations

from typing import Any, Protocol

Response = dict[str, Any]
"""An agent's answer: ``{'agent_id', 'timestamp', 'status', 'data', 'error'}``."""


class StepAgent(Protocol):
    """An agent as a backend sees it: something that answers messages synchronously."""

    @property
    def agent_id(self) -> str:
        """The agent's id, for errors that name it."""
        ...

    def respond(self, message: Any) -> Response:
        """Answer ``message``; failures become 'error' responses."""
        ...

    def error_response(self, error: str) -> Response:
        """Build an 'error' response carrying ``error``."""
        ...
