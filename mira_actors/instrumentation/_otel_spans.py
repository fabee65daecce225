"""The spans of one run, one step attempt and one ask, as OpenTelemetry records them.

:class:`~mira_actors.instrumentation.otel.OpenTelemetry` opens them; the engine and the
runtime end them through the hooks. Each call into the SDK takes its locks and
allocates, so attributes are gathered here and set in as few calls as possible.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar, Token
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import trio
from opentelemetry import context, trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, Status, StatusCode

if TYPE_CHECKING:
    from .otel import OpenTelemetry

# The idempotency key is part of a step's attributes; other values the engine reports
# (error texts) may hold user data, so they are cut to this many characters.
SHORT = 100

# The attempt under way in this task; its ask, sent from the same task, takes its span.
ATTEMPT: ContextVar[AttemptSpan | None] = ContextVar("mira_actors_attempt", default=None)
_FAILED = frozenset({"error", "timeout"})
_NO_HEADERS: Mapping[str, Any] = MappingProxyType({})


def short(text: str) -> str:
    """``text`` cut to a safe length for a span."""
    return text if len(text) <= SHORT else text[:SHORT] + "..."


class AskSpan:
    """One ask: its span (its own, or the attempt's it shares) and its times."""

    # The times are kept here and set on the span in one call when the ask ends: each
    # set_attribute takes the SDK's lock.
    __slots__ = (
        "actor",
        "attempt",
        "handled_at",
        "headers",
        "queued_at",
        "span",
        "started_at",
        "token",
    )

    def __init__(
        self,
        span: Span,
        actor: str,
        headers: Mapping[str, Any] | None,
        attempt: AttemptSpan | None,
    ) -> None:
        self.span = span
        self.actor = actor
        # Unchanged: the trace context reaches a worker through trace_context().
        self.headers: Mapping[str, Any] = _NO_HEADERS if headers is None else headers
        self.attempt = attempt  # the attempt whose span this ask shares, if any
        self.queued_at = trio.current_time()
        self.started_at: float | None = None
        self.handled_at: float | None = None
        self.token: Token[Context] | None = None

    def handling(self) -> None:
        self.started_at = trio.current_time()
        # Current in the actor's task while it handles: nested asks and workers join it.
        self.token = context.attach(trace.set_span_in_context(self.span))

    def handled(self) -> None:
        self.handled_at = trio.current_time()
        if self.token is not None:
            context.detach(self.token)

    def attributes(self, error: BaseException | None) -> dict[str, Any]:
        attributes: dict[str, Any] = {"mira.actor": self.actor}
        if self.started_at is not None:  # taken by the actor, not dropped unhandled
            # The asker may end before the handler has unwound: then it is handling still.
            ended = self.handled_at if self.handled_at is not None else trio.current_time()
            attributes["mira.ask.queued"] = self.started_at - self.queued_at
            attributes["mira.ask.handled"] = ended - self.started_at
        if isinstance(error, trio.Cancelled):
            attributes["mira.ask.cancelled"] = True
        return attributes


class RunSpan:
    """One run: its span, current in the run's task until it ends."""

    __slots__ = (
        "context",
        "deadline",
        "expired",
        "otel",
        "span",
        "timeout",
        "token",
        "workflow_type",
    )

    def __init__(
        self, otel: OpenTelemetry, span: Span, workflow_type: str, deadline: float, timeout: float
    ) -> None:
        self.otel = otel
        self.span = span
        self.workflow_type = workflow_type
        self.deadline = deadline
        self.timeout = timeout
        self.expired = False
        # Current in the run's task until it ends; its attempts' spans are its children.
        self.context = trace.set_span_in_context(span)
        self.token = context.attach(self.context)

    def attempt_started(
        self, *, step: str, attempt: int, idempotency_key: str, budget: float
    ) -> AttemptSpan:
        span = self.otel.tracer.start_span(
            f"step {step}",
            context=self.context,
            attributes={
                "mira.step": step,
                "mira.attempt": attempt,
                "mira.idempotency_key": short(idempotency_key),
                "mira.budget": budget,
            },
        )
        return AttemptSpan(self, span, step)

    def deadline_expired(self) -> None:
        if not self.expired:
            self.expired = True
            self.span.add_event("deadline_expired", {"mira.timeout": self.timeout})

    def finished(self, status: str, *, error: str | None = None) -> None:
        lateness = max(0.0, trio.current_time() - self.deadline)
        span = self.span
        span.set_attributes({"mira.status": status, "mira.lateness": lateness})
        if status in _FAILED:
            span.set_status(Status(StatusCode.ERROR, short(error or status)))
        span.end()
        context.detach(self.token)
        otel = self.otel
        workflow_type = self.workflow_type
        otel.runs.add(
            1, otel.attribute_set("mira.workflow_type", workflow_type, "mira.status", status)
        )
        if self.expired:
            otel.lateness.record(lateness, otel.attribute_set("mira.workflow_type", workflow_type))


class AttemptSpan:
    """One attempt of a step: its span, which its ask shares."""

    # Its span is not made current in the run's task: the attempt's ask, the only
    # thing sent from there meanwhile, finds the attempt through ATTEMPT instead.
    __slots__ = ("ask_attributes", "asked", "began", "run", "span", "step", "task", "token")

    def __init__(self, run: RunSpan, span: Span, step: str) -> None:
        self.run = run
        self.span = span
        self.step = step
        self.asked = False
        self.ask_attributes: dict[str, Any] | None = None  # its ask's, once it ended
        self.began = trio.current_time()
        self.task = trio.lowlevel.current_task()
        self.token = ATTEMPT.set(self)

    def finished(self, status: str, error: str | None) -> None:
        if status != "success":
            self.span.set_status(Status(StatusCode.ERROR, short(error or status)))
        self._end("success" if status == "success" else outcome_of(status))

    def cut_short(self, *, timed_out: bool) -> None:
        if timed_out:
            self.span.add_event("deadline_expired", {"mira.timeout": self.run.timeout})
            self.span.set_status(
                Status(
                    StatusCode.ERROR,
                    f"the run's deadline passed (its timeout of {self.run.timeout:g} seconds)",
                )
            )
        self._end("timeout" if timed_out else "cancelled")

    def _end(self, outcome: str) -> None:
        span = self.span
        attributes = self.ask_attributes if self.ask_attributes is not None else {}
        attributes["mira.outcome"] = outcome
        span.set_attributes(attributes)
        span.end()
        ATTEMPT.reset(self.token)
        run = self.run
        otel = run.otel
        otel.step_duration.record(
            trio.current_time() - self.began,
            otel.attribute_set(
                "mira.workflow_type",
                run.workflow_type,
                "mira.step",
                self.step,
                "mira.outcome",
                outcome,
            ),
        )


def outcome_of(status: str) -> str:
    """The outcome of an attempt that answered ``status`` (not 'success')."""
    # An agent may answer any status; the span's outcome is one of four.
    return "timeout" if status == "timeout" else "error"
