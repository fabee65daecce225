"""The hooks every layer calls, and the instrumentation behind them (none by default).

The runtime, the run engine and the backends call these at a few points: a run starts
and ends, a step attempt starts and ends, an ask is queued and handled, a deadline
expires, an actor restarts, a thread step is abandoned. With no instrumentation (no
OpenTelemetry in use, or switched off) each point costs one attribute read and a
``None`` check.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any, Protocol


class AskTrace(Protocol):
    """One traced ask: the asker ends it; the actor serving it marks its handling."""

    @property
    def headers(self) -> Mapping[str, Any]:
        """The headers the request carries: the asker's, with what the instrumentation adds."""

    def handling(self) -> None:
        """The actor took the request and its handler starts (in the actor's task)."""

    def handled(self) -> None:
        """The handler is done (in the actor's task, after :meth:`handling`)."""


class AttemptTrace(Protocol):
    """One attempt of a step, current while its ask goes (in the run's task)."""

    def finished(self, status: str, error: str | None) -> None:
        """The attempt answered: 'success', or a failure's status and why."""

    def cut_short(self, *, timed_out: bool) -> None:
        """The attempt was cancelled: by the run's deadline (``timed_out``) or its caller."""


class RunTrace(Protocol):
    """One run of a workflow, current in the run's task until it ends."""

    def attempt_started(
        self, *, step: str, attempt: int, idempotency_key: str, budget: float
    ) -> AttemptTrace:
        """An attempt of ``step`` starts with ``budget`` seconds."""

    def deadline_expired(self) -> None:
        """The run's deadline has passed (noted once, however many steps it cut)."""

    def finished(self, status: str, *, error: str | None = None) -> None:
        """The run ended with ``status`` (and ``error``, why it failed); it is current no more."""


class Instrumentation(Protocol):
    """What the layers report to; ``mira_actors.instrumentation.otel.OpenTelemetry`` is
    the built-in one. Every method must be cheap and must never raise."""

    @property
    def recording(self) -> bool:
        """Whether anything records asks now: when not, an ask skips its hooks (and costs
        one check)."""

    def run_started(
        self, *, workflow_id: str, workflow_type: str, timeout: float
    ) -> RunTrace | None:
        """A run starts; return its trace, or None when nothing would record it."""

    def ask_sent(self, actor: str, headers: Mapping[str, Any] | None) -> AskTrace | None:
        """An ask to ``actor`` is about to be queued; return its trace, or None."""

    def ask_ended(self, ask: AskTrace | None, error: BaseException | None) -> None:
        """The ask that :meth:`ask_sent` announced has its answer (or ``error``)."""

    def mailbox_opened(self, mailbox: Any) -> None:
        """A mailbox was created (its depth is observed while it lives)."""

    def actor_restarted(self, supervisor: str, actor: str) -> None:
        """A supervisor restarted one of its actors."""

    def thread_step_abandoned(self, agent: str) -> None:
        """A step's worker thread was still running when its caller gave up."""

    def trace_context(self) -> Mapping[str, str]:
        """Headers that carry the current trace context (``traceparent``) to a worker."""

    def worker_step(
        self, headers: Mapping[str, Any], agent: str, message_type: str | None
    ) -> AbstractContextManager[None]:
        """Wrap a step run in a worker (thread, process, Ray task) in a span of its run."""


hooks: Instrumentation | None
"""The instrumentation in force; chosen on first read (see :func:`current`)."""

# Whether set_instrumentation chose it: then it is never chosen again automatically.
_chosen = False
# The API's module that configuring the SDK imports: the sign that an application uses it.
_API = "opentelemetry.trace"


def __getattr__(name: str) -> Any:
    # The first read of ``hooks`` chooses it; later reads are plain attribute reads.
    if name == "hooks":
        return _choose()
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)


def current() -> Instrumentation | None:
    """Return the instrumentation in force, or None when there is none.

    Until :func:`set_instrumentation` is called, it is OpenTelemetry once the
    application has imported OpenTelemetry's API (configuring its SDK does that), and
    none before: mira-actors never imports it itself, so that it costs nothing to
    those who do not use it. It is chosen when the first actor starts, and chosen
    again as each run starts, so an SDK configured later is used from the next run on.
    """
    found: Instrumentation | None = globals().get("hooks", _UNSET)
    if found is _UNSET or (found is None and not _chosen and _API in sys.modules):
        return _choose()
    return found


def set_instrumentation(instrumentation: Instrumentation | None) -> None:
    """Send every layer's hooks to ``instrumentation``; None switches them off for good.

    Usage::

        from mira_actors.instrumentation import set_instrumentation
        from mira_actors.instrumentation.otel import OpenTelemetry

        set_instrumentation(OpenTelemetry(tracer_provider=provider))
    """
    global _chosen
    _chosen = True
    globals()["hooks"] = instrumentation


_UNSET: Any = object()


def _choose() -> Instrumentation | None:
    chosen: Instrumentation | None = None
    if _API in sys.modules:
        from .otel import OpenTelemetry

        chosen = OpenTelemetry()
    globals()["hooks"] = chosen
    return chosen
