"""Case 3 under each OpenTelemetry setting: none, the API alone, the SDK exporting in
batches, and the SDK's floor (only the SDK calls a traced run makes, see _otel_floor)."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from mira_actors.instrumentation import current, set_instrumentation

from ._results import Metric, ratio_metric

OTEL_KINDS = ("none", "api", "sdk", "floor")
"""No instrumentation (as without the extra); the API with no SDK configured; the SDK;
the same SDK configuration called only as a traced run needs (the floor)."""


def available_kinds() -> tuple[str, ...]:
    """The settings this environment can measure: the API and SDK need the otel extra."""
    if importlib.util.find_spec("opentelemetry.sdk") is None:
        return ("none",)
    return OTEL_KINDS


@contextmanager
def instrumented(kind: str) -> Iterator[None]:
    """Run the block with the instrumentation ``kind`` names, then restore the one before."""
    before = current()
    shutdown: Callable[[], None] | None = None
    if kind == "none":
        # The hooks see None: exactly what they see when opentelemetry is not installed.
        set_instrumentation(None)
    else:
        from mira_actors.instrumentation.otel import OpenTelemetry

        if kind == "api":
            set_instrumentation(OpenTelemetry())  # the global providers, which record nothing
        else:
            tracer_provider, meter_provider = sdk_providers()
            if kind == "floor":
                from ._otel_floor import SdkFloor

                set_instrumentation(SdkFloor(tracer_provider, meter_provider))
            else:
                set_instrumentation(
                    OpenTelemetry(tracer_provider=tracer_provider, meter_provider=meter_provider)
                )

            def shutdown() -> None:
                tracer_provider.shutdown()
                meter_provider.shutdown()

    try:
        yield
    finally:
        set_instrumentation(before)
        if shutdown is not None:
            shutdown()


def sdk_providers() -> tuple[Any, Any]:
    """The tracer and meter providers of the SDK variant: batch spans dropped, metrics kept."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    class Discard(SpanExporter):
        """Takes the batches and drops them: the SDK's own cost, without a network's."""

        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(Discard()))
    return tracer_provider, MeterProvider(metric_readers=[InMemoryMetricReader()])


LABELS = {
    "none": "process_async inside running(), no OpenTelemetry (hooks off)",
    "api": "the same, OpenTelemetry API alone (no SDK configured)",
    "sdk": "the same, OpenTelemetry SDK: batch span processor, metrics",
    "floor": "the same SDK, called only as a traced run needs (the SDK's floor)",
}


def otel_variants(
    n: int, workflows: Callable[[int, bool], Any]
) -> dict[str, Callable[[], dict[str, float]]]:
    """Case 3's ``workflows(n, True)`` (seconds for ``n`` runs) under each available setting."""
    import trio

    def variant(kind: str) -> Callable[[], dict[str, float]]:
        def measure() -> dict[str, float]:
            with instrumented(kind):
                return {"rate": n / trio.run(workflows, n, True)}

        return measure

    return {f"otel_{kind}": variant(kind) for kind in available_kinds()}


def otel_metrics(rate: dict[str, list[float]]) -> list[Metric]:
    """The rates of the OpenTelemetry variants, and their cost as ratios to none."""
    found = [
        Metric(
            key=f"workflow.otel_{kind}",
            label=LABELS[kind],
            unit="runs/s",
            samples=rate[f"otel_{kind}"],
            better="higher",
        )
        for kind in OTEL_KINDS
        if f"otel_{kind}" in rate
    ]
    for kind, label, target in (
        ("api", "workflows, OpenTelemetry API alone / none", 0.98),
        ("sdk", "workflows, OpenTelemetry SDK (batch spans) / none", 0.85),
        # No target: what the SDK's own calls leave of the throughput, the best the SDK
        # variant could reach.
        ("floor", "workflows, the SDK's calls alone (floor) / none", None),
    ):
        if f"otel_{kind}" in rate:
            found.append(
                ratio_metric(
                    f"workflow.ratio.otel_{kind}",
                    label,
                    rate[f"otel_{kind}"],
                    rate["otel_none"],
                    better="higher",
                    target=target,
                )
            )
    for kind, label in (
        ("sdk", "OpenTelemetry SDK: time it adds to a run"),
        ("floor", "of which the SDK's own calls (the floor)"),
    ):
        if f"otel_{kind}" in rate:
            found.append(
                Metric(
                    key=f"workflow.otel_{kind}_cost",
                    label=label,
                    unit="us/run",
                    samples=[
                        1e6 / traced - 1e6 / none
                        for traced, none in zip(
                            rate[f"otel_{kind}"], rate["otel_none"], strict=True
                        )
                    ],
                    better="lower",
                )
            )
    return found
