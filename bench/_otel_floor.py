"""The SDK floor of case 3: only the OpenTelemetry SDK calls one traced run makes.

:class:`SdkFloor` stands in for :class:`~mira_actors.instrumentation.otel.OpenTelemetry`
behind the same hooks, and makes exactly the SDK calls a traced ``project_initialization``
run makes, where it makes them, with the same attributes: the run's span (three
attributes at its start, two at its end), one span per step attempt (four attributes at
its start; the ask's three and the outcome in one call at its end), one
``mira.step.duration`` record per attempt (in the run's context, as exemplars see it)
and one ``mira.runs`` count. Nothing of ours around them but the engine's hook calls: no
context made current, no ask hooks (``recording`` is False), no headers.

The difference between this variant and no OpenTelemetry is what recording these spans
and metrics through the Python SDK costs a run, whatever the library around it does: the
floor under the SDK variant.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import trio
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.metrics import Counter, Histogram, MeterProvider
from opentelemetry.trace import Span, Status, StatusCode, Tracer, TracerProvider

from mira_actors.instrumentation.otel import NAME


class SdkFloor:
    """Hooks that make only the SDK calls of a traced run (see the module's docstring)."""

    recording = False  # asks skip their hooks: an attempt's span stands for its ask

    def __init__(self, tracer_provider: TracerProvider, meter_provider: MeterProvider) -> None:
        self.tracer: Tracer = tracer_provider.get_tracer(NAME)
        meter = meter_provider.get_meter(NAME)
        self.runs: Counter = meter.create_counter("mira.runs", unit="{run}")
        self.step_duration: Histogram = meter.create_histogram("mira.step.duration", unit="s")
        self.attribute_sets: dict[tuple[str, ...], dict[str, str]] = {}

    def attribute_set(self, *pairs: str) -> dict[str, str]:
        """The metric attributes ``{pairs[0]: pairs[1], ...}``, made once (as ours are)."""
        found = self.attribute_sets.get(pairs)
        if found is None:
            found = self.attribute_sets[pairs] = dict(zip(pairs[::2], pairs[1::2], strict=True))
        return found

    def run_started(self, *, workflow_id: str, workflow_type: str, timeout: float) -> _FloorRun:
        span = self.tracer.start_span(
            f"workflow {workflow_type}",
            attributes={
                "mira.workflow_id": workflow_id,
                "mira.workflow_type": workflow_type,
                "mira.timeout": timeout,
            },
        )
        return _FloorRun(self, span, workflow_type, timeout)

    def ask_sent(self, actor: str, headers: Mapping[str, Any] | None) -> None:
        return None

    def ask_ended(self, ask: Any, error: BaseException | None) -> None:
        pass

    def mailbox_opened(self, mailbox: Any) -> None:
        pass

    def actor_restarted(self, supervisor: str, actor: str) -> None:
        pass

    def thread_step_abandoned(self, agent: str) -> None:
        pass

    def trace_context(self) -> dict[str, str]:
        return {}

    def worker_step(
        self, headers: Mapping[str, Any], agent: str, message_type: str | None
    ) -> AbstractContextManager[None]:
        return nullcontext()


class _FloorRun:
    def __init__(self, floor: SdkFloor, span: Span, workflow_type: str, timeout: float) -> None:
        self.floor = floor
        self.span = span
        self.workflow_type = workflow_type
        self.timeout = timeout
        self.deadline = trio.current_time() + timeout
        self.context: Context = trace.set_span_in_context(span)  # the steps' parent

    def attempt_started(
        self, *, step: str, attempt: int, idempotency_key: str, budget: float
    ) -> _FloorAttempt:
        span = self.floor.tracer.start_span(
            f"step {step}",
            context=self.context,
            attributes={
                "mira.step": step,
                "mira.attempt": attempt,
                "mira.idempotency_key": idempotency_key,
                "mira.budget": budget,
            },
        )
        return _FloorAttempt(self, span, step)

    def deadline_expired(self) -> None:
        self.span.add_event("deadline_expired", {"mira.timeout": self.timeout})

    def finished(self, status: str, *, error: str | None = None) -> None:
        lateness = max(0.0, trio.current_time() - self.deadline)
        self.span.set_attributes({"mira.status": status, "mira.lateness": lateness})
        self.span.end()
        self.floor.runs.add(
            1,
            self.floor.attribute_set(
                "mira.workflow_type", self.workflow_type, "mira.status", status
            ),
        )


class _FloorAttempt:
    def __init__(self, run: _FloorRun, span: Span, step: str) -> None:
        self.run = run
        self.span = span
        self.step = step
        self.began = trio.current_time()

    def finished(self, status: str, error: str | None) -> None:
        if status != "success":
            self.span.set_status(Status(StatusCode.ERROR, error or status))
        self._end(status)

    def cut_short(self, *, timed_out: bool) -> None:
        self._end("timeout" if timed_out else "cancelled")

    def _end(self, outcome: str) -> None:
        took = trio.current_time() - self.began
        # The ask's attributes (actor, time queued, time handled) and the outcome.
        self.span.set_attributes(
            {
                "mira.actor": self.step,
                "mira.ask.queued": 0.0,
                "mira.ask.handled": took,
                "mira.outcome": outcome,
            }
        )
        self.span.end()
        run = self.run
        run.floor.step_duration.record(
            took,
            run.floor.attribute_set(
                "mira.workflow_type",
                run.workflow_type,
                "mira.step",
                self.step,
                "mira.outcome",
                outcome,
            ),
            context=run.context,
        )
