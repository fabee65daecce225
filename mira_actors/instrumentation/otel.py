"""OpenTelemetry instrumentation: spans for runs, step attempts and asks, and metrics.

Only ``opentelemetry-api`` is used (the ``otel`` extra), as OpenTelemetry asks of
libraries: the application configures the SDK and its exporters. With none configured
a run costs two provider checks and an ask one current-span check; nothing is recorded.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext
from contextvars import ContextVar, Token
from typing import Any

import trio
from opentelemetry import context, metrics, trace
from opentelemetry.context import Context
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.metrics import _internal as _metrics_api
from opentelemetry.trace import Link, Span, SpanContext, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from ._hooks import AskTrace

NAME = "mira_actors"
"""The name of the tracer and the meter."""

# The idempotency key is part of a step's attributes; other values the engine reports
# (error texts) may hold user data, so they are cut to this many characters.
SHORT = 100
# Runs whose span a later run of the same workflow_id (a resume) links to.
REMEMBERED_RUNS = 10_000

# Providers the API hands out before an SDK is configured: they record nothing.
_UNCONFIGURED = frozenset(
    {"ProxyTracerProvider", "NoOpTracerProvider", "_ProxyMeterProvider", "NoOpMeterProvider"}
)
_PROPAGATOR = TraceContextTextMapPropagator()
# The attempt whose span is current in this task, until its ask takes that span.
_ATTEMPT: ContextVar[_AttemptTrace | None] = ContextVar("mira_actors_attempt", default=None)
_FAILED = frozenset({"error", "timeout"})


def short(text: str) -> str:
    """``text`` cut to a safe length for a span."""
    return text if len(text) <= SHORT else text[:SHORT] + "..."


class OpenTelemetry:
    """Report runs, step attempts and asks as OpenTelemetry spans, and count them.

    Used automatically when ``opentelemetry-api`` is installed: spans and metrics go to
    the global providers that the application configures with the SDK. Pass providers
    to send them elsewhere, and install it with
    :func:`~mira_actors.instrumentation.set_instrumentation`.

    Args:
        tracer_provider: Where spans go; the global one if None.
        meter_provider: Where metrics go; the global one if None.
    """

    def __init__(
        self,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
    ) -> None:
        self._tracer_provider = tracer_provider
        self._meter_provider = meter_provider
        self._explicit = tracer_provider is not None or meter_provider is not None
        self.tracer = trace.get_tracer(NAME, tracer_provider=tracer_provider)
        meter = metrics.get_meter(NAME, meter_provider=meter_provider)
        self.runs = meter.create_counter(
            "mira.runs", unit="{run}", description="Workflow runs ended, by workflow and status"
        )
        self.restarts = meter.create_counter(
            "mira.actor.restarts", unit="{restart}", description="Actors restarted by supervisors"
        )
        self.abandoned = meter.create_counter(
            "mira.thread_steps.abandoned",
            unit="{step}",
            description="Steps whose worker thread still ran when their caller gave up",
        )
        self.step_duration = meter.create_histogram(
            "mira.step.duration", unit="s", description="Step attempts, from start to end"
        )
        self.lateness = meter.create_histogram(
            "mira.deadline.lateness",
            unit="s",
            description="How long after its deadline a timed-out run answered",
        )
        meter.create_observable_gauge(
            "mira.mailbox.depth",
            callbacks=[self._observe_depths],
            unit="{message}",
            description="Messages queued in each open mailbox",
        )
        meter.create_observable_gauge(
            "mira.asks.in_flight",
            callbacks=[self._observe_asks],
            unit="{ask}",
            description="Asks sent and not yet answered",
        )
        self.asks_in_flight = 0
        # Read by the metric reader's thread while the trio thread adds: hence the lock.
        self._mailboxes: weakref.WeakSet[Any] = weakref.WeakSet()
        self._mailboxes_lock = threading.Lock()
        self._run_spans: OrderedDict[str, SpanContext] = OrderedDict()

    # -- runs and steps -----------------------------------------------------------

    def run_started(
        self, *, workflow_id: str, workflow_type: str, timeout: float
    ) -> _RunTrace | None:
        """Open the run's span (current until it ends), or return None if nothing records."""
        if not self._configured():
            return None
        links = []
        earlier = self._run_spans.get(workflow_id)
        if earlier is not None:  # a resume: it continues that run
            links.append(Link(earlier, {"mira.link": "resumes"}))
        span = self.tracer.start_span(
            f"workflow {workflow_type}",
            attributes={
                "mira.workflow_id": workflow_id,
                "mira.workflow_type": workflow_type,
                "mira.timeout": timeout,
            },
            links=links,
        )
        self._remember(workflow_id, span.get_span_context())
        return _RunTrace(self, span, workflow_type, trio.current_time() + timeout, timeout)

    def _configured(self) -> bool:
        if self._explicit:
            return True
        return (
            type(trace.get_tracer_provider()).__name__ not in _UNCONFIGURED
            or type(metrics.get_meter_provider()).__name__ not in _UNCONFIGURED
        )

    @property
    def recording(self) -> bool:
        """Whether a provider is set (explicitly, or globally by the application).

        Read on every ask, so it reads the API's globals directly: a fraction of the
        public getters' cost. An API without them is taken as always recording.
        """
        return (
            self._explicit
            or getattr(trace, "_TRACER_PROVIDER", True) is not None
            or getattr(_metrics_api, "_METER_PROVIDER", True) is not None
        )

    def _remember(self, workflow_id: str, span_context: SpanContext) -> None:
        if not span_context.is_valid:
            return
        runs = self._run_spans
        runs[workflow_id] = span_context
        runs.move_to_end(workflow_id)
        if len(runs) > REMEMBERED_RUNS:
            runs.popitem(last=False)

    # -- asks -----------------------------------------------------------------------

    def ask_sent(self, actor: str, headers: Mapping[str, Any] | None) -> _AskTrace | None:
        """Count the ask; trace it when it is asked inside a recording span.

        A step attempt is one ask: its span is the ask's too, so the first ask sent in
        an attempt's span gets no span of its own (a span costs the SDK more than the
        rest of the ask). Any other ask, from a handler say, gets its own span.
        """
        self.asks_in_flight += 1
        current = trace.get_current_span()
        if not current.is_recording():
            return None
        attempt = _ATTEMPT.get()
        if attempt is not None and not attempt.asked and attempt.span is current:
            attempt.asked = True
            span, owned = current, False
        else:
            span = self.tracer.start_span(f"ask {actor}", attributes={"mira.actor": actor})
            owned = True
        carried = dict(headers) if headers is not None else {}
        span_context = span.get_span_context()
        carried["traceparent"] = (
            f"00-{span_context.trace_id:032x}-{span_context.span_id:016x}-"
            f"{int(span_context.trace_flags):02x}"
        )
        if span_context.trace_state:
            carried["tracestate"] = span_context.trace_state.to_header()
        return _AskTrace(span, actor, carried, owned)

    def ask_ended(self, ask: AskTrace | None, error: BaseException | None) -> None:
        """Uncount the ask and end its span, with the error (if any) as its status."""
        self.asks_in_flight -= 1
        if not isinstance(ask, _AskTrace):
            return
        span = ask.span
        span.set_attributes(ask.attributes(error))
        if ask.owned:
            if error is not None and not isinstance(error, trio.Cancelled):
                span.set_status(Status(StatusCode.ERROR, short(f"{type(error).__name__}: {error}")))
            span.end()

    # -- the rest -------------------------------------------------------------------

    def mailbox_opened(self, mailbox: Any) -> None:
        """Observe ``mailbox``'s depth while it lives."""
        with self._mailboxes_lock:
            self._mailboxes.add(mailbox)

    def actor_restarted(self, supervisor: str, actor: str) -> None:
        """Count a restart."""
        self.restarts.add(1, {"mira.supervisor": supervisor, "mira.actor": actor})

    def thread_step_abandoned(self, agent: str) -> None:
        """Count an abandoned thread step."""
        self.abandoned.add(1, {"mira.agent": agent})

    def worker_step(
        self, headers: Mapping[str, Any], agent: str, message_type: str | None
    ) -> AbstractContextManager[Any]:
        """A span for a step run in a worker, in the trace its ``traceparent`` names."""
        if "traceparent" not in headers:
            return nullcontext()
        attributes: dict[str, Any] = {"mira.agent": agent, "mira.worker.pid": os.getpid()}
        if message_type is not None:
            attributes["mira.message_type"] = message_type
        return self.tracer.start_as_current_span(
            f"worker {agent}", context=_PROPAGATOR.extract(headers), attributes=attributes
        )

    def _observe_depths(self, options: CallbackOptions) -> Iterable[Observation]:
        with self._mailboxes_lock:
            mailboxes = list(self._mailboxes)
        for mailbox in mailboxes:
            stats = mailbox.statistics()
            if not stats.closed:
                yield Observation(stats.depth, {"mira.actor": stats.name})

    def _observe_asks(self, options: CallbackOptions) -> Iterator[Observation]:
        yield Observation(self.asks_in_flight)


class _AskTrace:
    # The times are kept here and set on the span in one call when the ask ends: each
    # set_attribute takes the SDK's lock.
    __slots__ = (
        "actor",
        "handled_at",
        "headers",
        "owned",
        "queued_at",
        "span",
        "started_at",
        "token",
    )

    def __init__(self, span: Span, actor: str, headers: dict[str, Any], owned: bool) -> None:
        self.span = span
        self.actor = actor
        self.headers = headers
        self.owned = owned
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
        attributes: dict[str, Any] = {} if self.owned else {"mira.actor": self.actor}
        if self.started_at is not None:  # taken by the actor, not dropped unhandled
            # The asker may end before the handler has unwound: then it is handling still.
            ended = self.handled_at if self.handled_at is not None else trio.current_time()
            attributes["mira.ask.queued"] = self.started_at - self.queued_at
            attributes["mira.ask.handled"] = ended - self.started_at
        if isinstance(error, trio.Cancelled):
            attributes["mira.ask.cancelled"] = True
        return attributes


class _RunTrace:
    __slots__ = ("deadline", "expired", "otel", "span", "timeout", "token", "workflow_type")

    def __init__(
        self, otel: OpenTelemetry, span: Span, workflow_type: str, deadline: float, timeout: float
    ) -> None:
        self.otel = otel
        self.span = span
        self.workflow_type = workflow_type
        self.deadline = deadline
        self.timeout = timeout
        self.expired = False
        self.token = context.attach(trace.set_span_in_context(span))

    def attempt_started(
        self, *, step: str, attempt: int, idempotency_key: str, budget: float
    ) -> _AttemptTrace:
        span = self.otel.tracer.start_span(
            f"step {step}",
            attributes={
                "mira.step": step,
                "mira.attempt": attempt,
                "mira.idempotency_key": short(idempotency_key),
                "mira.budget": budget,
            },
        )
        return _AttemptTrace(self, span, step)

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
        attributes = {"mira.workflow_type": self.workflow_type, "mira.status": status}
        self.otel.runs.add(1, attributes)
        if self.expired:
            self.otel.lateness.record(lateness, {"mira.workflow_type": self.workflow_type})


class _AttemptTrace:
    __slots__ = ("asked", "attempt_token", "began", "run", "span", "step", "token")

    def __init__(self, run: _RunTrace, span: Span, step: str) -> None:
        self.run = run
        self.span = span
        self.step = step
        self.asked = False
        self.began = trio.current_time()
        # Current in this task while the attempt's ask goes, which it stands for.
        self.token = context.attach(trace.set_span_in_context(span))
        self.attempt_token = _ATTEMPT.set(self)

    def finished(self, status: str, error: str | None) -> None:
        if status != "success":
            self.span.set_status(Status(StatusCode.ERROR, short(error or status)))
        self._end("success" if status == "success" else _outcome(status))

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
        span.set_attribute("mira.outcome", outcome)
        span.end()
        _ATTEMPT.reset(self.attempt_token)
        context.detach(self.token)
        self.run.otel.step_duration.record(
            trio.current_time() - self.began,
            {
                "mira.workflow_type": self.run.workflow_type,
                "mira.step": self.step,
                "mira.outcome": outcome,
            },
        )


def _outcome(status: str) -> str:
    # An agent may answer any status; the span's outcome is one of four.
    return "timeout" if status == "timeout" else "error"
