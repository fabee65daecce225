"""The actor base class: behaviour and lifecycle hooks, no concurrency of its own."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._serving import current_runner

if TYPE_CHECKING:
    from ._ref import ActorRef


class Actor:
    """Behaviour that handles one message at a time from its mailbox.

    Subclass it and override :meth:`handle`; the runtime calls it from a single task, so
    the actor's state needs no locks. The hooks run in that same task.

    Usage::

        class Counter(Actor):
            def __init__(self) -> None:
                self.count = 0

            async def handle(self, message: int) -> int:
                self.count += message
                return self.count
    """

    crash_on_error: bool = True
    """Whether an exception from :meth:`handle` crashes the actor (the default, as in OTP:
    its supervisor then restarts it). When False, the exception fails only the request
    that raised it (its asker gets ActorCrashedError) and the actor handles the next."""

    blocking_threshold: float = 0.1
    """Seconds one handler call may hold the trio thread without yielding before the
    runtime logs a ``loop_blocked`` warning (every other task waited that long).
    ``math.inf`` turns the warning off for this actor."""

    # Set by the runtime when the actor starts serving its mailbox.
    ref: ActorRef

    async def handle(self, message: Any) -> Any:
        """Handle one message and return the reply an ``ask`` receives."""
        msg = f"{type(self).__name__} must override handle()"
        raise NotImplementedError(msg)

    async def on_start(self) -> None:
        """Run before the first message is handled (and again after each restart)."""

    async def on_stop(self) -> None:
        """Run after the last message, when the actor stops normally."""

    async def on_failure(self, exc: BaseException) -> None:
        """Run when :meth:`handle` or :meth:`on_start` raised ``exc`` (before the crash, if
        the actor crashes on errors)."""

    def stop(self) -> None:
        """Stop after the current message, leaving the mailbox open for a restart.

        Called in ``on_start``, the actor stops before taking any message, and
        ``on_stop`` runs. The supervisor then applies the actor's restart kind: a
        permanent actor starts again on the same mailbox; transient and temporary ones
        stay stopped, and asks still queued fail with ActorStoppedError.

        Call it from the actor's own handler or hooks; other tasks use
        ``await ref.stop()``.

        Raises:
            RuntimeError: called from outside this actor's own code, or the actor is not
                running.
        """
        runner = current_runner.get()
        if runner is None or runner.actor is not self:
            msg = (
                f"{type(self).__name__}.stop() must be called from the running actor's own "
                "handler or hooks; from another task, use 'await ref.stop()'"
            )
            raise RuntimeError(msg)
        runner.stop_requested = True
