"""What the CLI's ``--otel`` sets up: an OpenTelemetry SDK for the command's runs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any, TextIO

from mira_actors.instrumentation import current, set_instrumentation

OTEL_CHOICES = ("console", "otlp")
"""``console``: each run's span tree on stderr; ``otlp``: spans and metrics to a collector."""

_MISSING = "--otel needs the otel extra: pip install 'mira-actors[otel]'"
_MISSING_OTLP = "--otel otlp needs the OTLP exporter: pip install opentelemetry-exporter-otlp"


@contextmanager
def exporting(kind: str | None, stream: TextIO) -> Iterator[None]:
    """Record the block's runs with an SDK that exports them as ``kind`` says (None: no).

    The OTLP exporters read the standard variables (``OTEL_EXPORTER_OTLP_ENDPOINT``,
    ``OTEL_EXPORTER_OTLP_PROTOCOL``, ``OTEL_EXPORTER_OTLP_HEADERS``, ...), and the
    service is named by ``OTEL_SERVICE_NAME`` (default ``mira-actors``). Spans still
    buffered are sent when the block ends.

    Raises:
        ImportError: the SDK (or, for ``otlp``, the OTLP exporter) is not installed.
    """
    if kind is None:
        yield
        return
    try:
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

        from mira_actors.instrumentation.otel import OpenTelemetry

        from ._span_tree import SpanTreePrinter
    except ImportError:
        raise ImportError(_MISSING) from None
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "mira-actors")})
    tracer_provider = TracerProvider(resource=resource)
    meter_provider: Any = None
    if kind == "console":
        tracer_provider.add_span_processor(SimpleSpanProcessor(SpanTreePrinter(stream)))
    else:
        span_exporter, metric_reader = _otlp()
        tracer_provider.add_span_processor(BatchSpanProcessor(span_exporter))
        meter_provider = MeterProvider(resource=resource, metric_readers=[metric_reader])
    before = current()
    with ExitStack() as stack:
        stack.callback(tracer_provider.shutdown)  # flushes what is buffered
        if meter_provider is not None:
            stack.callback(meter_provider.shutdown)
        stack.callback(set_instrumentation, before)
        set_instrumentation(
            OpenTelemetry(tracer_provider=tracer_provider, meter_provider=meter_provider)
        )
        yield


def _otlp() -> tuple[Any, Any]:
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    grpc = os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf") == "grpc"
    try:
        if grpc:
            from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        else:
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        raise ImportError(_MISSING_OTLP) from None
    return OTLPSpanExporter(), PeriodicExportingMetricReader(OTLPMetricExporter())
