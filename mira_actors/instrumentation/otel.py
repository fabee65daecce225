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
from typing import Any

import trio
from opentelemetry import metrics, trace
from opentelemetry.context import Context
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.metrics import _internal as _metrics_api
from opentelemetry.trace import Link, SpanContext, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from ._hooks import AskTrace
from ._otel_spans import ATTEMPT, AskSpan, RunSpan, short

NAME = "mira_actors"
"""The name of the tracer and the meter."""

# Runs whose span a later run of the same workflow_id (a resume) links to.
REMEMBERED_RUNS = 10_000
# Metric attribute sets kept for reuse (see OpenTelemetry.attribute_set).
ATTRIBUTE_SETS = 1_000

# Providers the API hands out before an SDK is configured: they record nothing.
_UNCONFIGURED = frozenset(
    {"ProxyTracerProvider", "NoOpTracerProvider", "_ProxyMeterProvider", "NoOpMeterProvider"}
)
_PROPAGATOR = TraceContextTextMapPropagator()


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
        # Metric attribute sets, made once per workflow type, step and outcome.
        self._attribute_sets: dict[tuple[str, ...], dict[str, str]] = {}

    # -- runs and steps -----------------------------------------------------------

    def run_started(
        self, *, workflow_id: str, workflow_type: str, timeout: float
    ) -> RunSpan | None:
        """Open the run's span (current until it ends), or return None if nothing records."""
        if not self._configured():
            return None
        earlier = self._run_spans.get(workflow_id)
        # A resume continues the run it links to.
        links = None if earlier is None else [Link(earlier, {"mira.link": "resumes"})]
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
        return RunSpan(self, span, workflow_type, trio.current_time() + timeout, timeout)

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

    def attribute_set(self, *pairs: str) -> dict[str, str]:
        """The metric attributes ``{pairs[0]: pairs[1], ...}``, made once and reused.

        The keys are the workflow types, steps and outcomes the engine reports: a few
        dozen in practice, and forgotten all at once if there ever are too many.
        """
        found = self._attribute_sets.get(pairs)
        if found is None:
            if len(self._attribute_sets) >= ATTRIBUTE_SETS:
                self._attribute_sets.clear()
            found = dict(zip(pairs[::2], pairs[1::2], strict=True))
            self._attribute_sets[pairs] = found
        return found

    def _remember(self, workflow_id: str, span_context: SpanContext) -> None:
        if not span_context.is_valid:
            return
        runs = self._run_spans
        runs[workflow_id] = span_context
        runs.move_to_end(workflow_id)
        if len(runs) > REMEMBERED_RUNS:
            runs.popitem(last=False)

    # -- asks -----------------------------------------------------------------------

    def ask_sent(self, actor: str, headers: Mapping[str, Any] | None) -> AskSpan | None:
        """Count the ask; trace it when it is asked inside a recording span.

        A step attempt is one ask: its span is the ask's too, so the first ask an
        attempt sends from the run's task gets no span of its own (a span costs the SDK
        more than the rest of the ask). Any other ask, from a handler say, gets its own
        span, a child of the span current where it is sent (the attempt's, for a second
        ask from the run's task).
        """
        self.asks_in_flight += 1
        attempt = ATTEMPT.get()
        if attempt is not None and attempt.task is trio.lowlevel.current_task():
            if not attempt.asked:
                attempt.asked = True
                return AskSpan(attempt.span, actor, headers, attempt)
            parent: Context | None = trace.set_span_in_context(attempt.span)
        else:
            if not trace.get_current_span().is_recording():
                return None
            parent = None  # the current context
        span = self.tracer.start_span(
            f"ask {actor}", context=parent, attributes={"mira.actor": actor}
        )
        return AskSpan(span, actor, headers, None)

    def ask_ended(self, ask: AskTrace | None, error: BaseException | None) -> None:
        """Uncount the ask and end its span, with the error (if any) as its status.

        The attempt's own ask leaves its attributes to the attempt, which sets them
        with its outcome in one call as it ends (each call takes the SDK's locks).
        """
        self.asks_in_flight -= 1
        if not isinstance(ask, AskSpan):
            return
        attributes = ask.attributes(error)
        if ask.attempt is not None:
            ask.attempt.ask_attributes = attributes
            return
        span = ask.span
        span.set_attributes(attributes)
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

    def trace_context(self) -> dict[str, str]:
        """The current span's context as W3C headers (``traceparent``), for a worker.

        Empty outside any recording span. Only a step sent to a worker needs it: an ask
        within this process finds its parent through the context the handler runs in.
        """
        carrier: dict[str, str] = {}
        if trace.get_current_span().is_recording():
            _PROPAGATOR.inject(carrier)
        return carrier

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
