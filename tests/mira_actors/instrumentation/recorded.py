"""Spans and metrics recorded by an in-memory SDK, and ways to look at them."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mira_actors.instrumentation.otel import OpenTelemetry


class Recorded:
    """An OpenTelemetry instrumentation whose spans and metrics stay in memory."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])
        self.instrumentation = OpenTelemetry(
            tracer_provider=self.tracer_provider, meter_provider=self.meter_provider
        )

    def spans(self) -> list[ReadableSpan]:
        """The finished spans, in the order they ended."""
        return list(self.exporter.get_finished_spans())

    def named(self, name: str) -> list[ReadableSpan]:
        """The finished spans called ``name``, in the order they ended."""
        return [span for span in self.spans() if span.name == name]

    def tree(self) -> list[tuple[int, str]]:
        """Every finished span as (depth, name), parents before children, by start time."""
        spans = self.spans()
        ids = {span.context.span_id for span in spans}
        children: dict[int | None, list[ReadableSpan]] = {}
        for span in spans:
            parent = span.parent.span_id if span.parent is not None else None
            children.setdefault(parent if parent in ids else None, []).append(span)
        lines: list[tuple[int, str]] = []

        def walk(parent: int | None, depth: int) -> None:
            for span in sorted(children.get(parent, []), key=lambda s: s.start_time or 0):
                lines.append((depth, span.name))
                walk(span.context.span_id, depth + 1)

        walk(None, 0)
        return lines

    def points(self, metric: str) -> list[tuple[dict[str, Any], Any]]:
        """The data points of ``metric`` now: (attributes, point), for every stream."""
        data = self.reader.get_metrics_data()
        found = []
        for resource in data.resource_metrics if data is not None else []:
            for scope in resource.scope_metrics:
                for recorded in scope.metrics:
                    if recorded.name == metric:
                        found.extend(
                            (dict(point.attributes or {}), point)
                            for point in recorded.data.data_points
                        )
        return found

    def counts(self, metric: str) -> dict[tuple[tuple[str, Any], ...], Any]:
        """A counter's values (a histogram's counts), by sorted attribute items."""
        return {
            tuple(sorted(attributes.items())): getattr(point, "value", None)
            if hasattr(point, "value")
            else point.count
            for attributes, point in self.points(metric)
        }


def export_spans_to(path: str) -> None:
    """Configure this process's SDK to append each span to ``path`` as a JSON line.

    A worker process's ``init``: the worker's spans reach the test through the file.
    """
    from opentelemetry import trace
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter

    out = open(path, "a", encoding="utf-8")  # noqa: SIM115 (open for the worker's life)
    provider = TracerProvider()
    provider.add_span_processor(
        SimpleSpanProcessor(
            ConsoleSpanExporter(out=out, formatter=lambda span: span.to_json(indent=None) + "\n")
        )
    )
    trace.set_tracer_provider(provider)
