"""The errors the runtime raises; each message names the actor and what to do."""

from __future__ import annotations

import trio


class MiraError(Exception):
    """Raised for every error that mira-actors itself detects; the base of the others."""


class ActorStoppedError(MiraError, RuntimeError):
    """Raised when a message is sent to, or waits on, an actor that has stopped."""

    def __init__(self, actor: str, detail: str = "it has stopped") -> None:
        self.actor = actor
        super().__init__(f"actor {actor!r} cannot take the message: {detail}")


class MailboxFullError(MiraError, trio.WouldBlock):
    """Raised when ``tell_nowait`` finds the actor's mailbox full."""

    def __init__(self, actor: str, capacity: int) -> None:
        self.actor = actor
        self.capacity = capacity
        super().__init__(
            f"actor {actor!r} has a full mailbox ({capacity} messages); "
            "use 'await ref.tell(message)' to wait for room"
        )


class ActorCrashedError(MiraError):
    """Raised to an asker when the handler serving its request raised.

    The handler's exception is the ``__cause__``; ``crashed`` says whether the actor
    crashed with it or went on to its next message (``Actor.crash_on_error``).
    """

    def __init__(self, actor: str, exc: BaseException, *, crashed: bool = True) -> None:
        self.actor = actor
        self.crashed = crashed
        what = "crashed handling the request" if crashed else "raised handling the request"
        super().__init__(f"actor {actor!r} {what}: {type(exc).__name__}: {exc}")


class AskCycleError(MiraError, RuntimeError):
    """Raised when an ask would close a cycle of actors waiting on each other's replies.

    An actor handles one message at a time, so an actor whose handler waits (directly
    or through a chain of asks) for a reply from itself would wait forever. ``chain``
    holds the actors' names, from the first asker to the actor asked again.
    """

    def __init__(self, chain: tuple[str, ...]) -> None:
        self.chain = chain
        path = " -> ".join(repr(name) for name in chain)
        super().__init__(
            f"ask cycle: actor {path}; that actor is busy waiting for this very reply. "
            "Use tell for one of the messages, or move the shared work to another actor"
        )
