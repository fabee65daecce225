"""Traces and metrics of workflow runs with OpenTelemetry: a success, then a timeout.

Run it with ``python examples/tracing.py`` (it needs the otel extra:
``pip install 'mira-actors[otel]'``). mira-actors reports through the OpenTelemetry API
on its own; the application only configures the SDK, as here. This one keeps the spans
and metrics in memory and prints them; to send them to a collector instead, use an OTLP
exporter (see the README's "Traces and metrics").
"""

from __future__ import annotations

from typing import Any

import trio
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mira_actors.agents import (
    OrchestratorAgent,
    ProjectPlanAgent,
    RiskAssessmentAgent,
    StatusReporterAgent,
)
from supervisors import Step, Workflow

PROJECT = {"name": "Portal", "goals": ["Design", "Build"]}


class SlowReviewAgent(ProjectPlanAgent):
    """Takes a second over each review: longer than its run allows."""

    agent_id = "slow_review_agent"
    handlers = {"review": "generate_plan"}

    async def handle(self, message: Any) -> dict[str, Any]:
        await trio.sleep(1)
        return await super().handle(message)


def configure_sdk() -> tuple[InMemorySpanExporter, InMemoryMetricReader]:
    """Set up the OpenTelemetry SDK, as an application does once at its start."""
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    trace.set_tracer_provider(tracer_provider)
    reader = InMemoryMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    return spans, reader


def print_tree(spans: list[ReadableSpan], parent: int | None = None, depth: int = 0) -> None:
    """Print the spans under ``parent``: name, actor asked, outcome, and why it failed."""
    for span in spans:
        span_parent = span.parent.span_id if span.parent is not None else None
        if span_parent != parent:
            continue
        attributes = dict(span.attributes or {})
        outcome = attributes.get("mira.status", attributes.get("mira.outcome", ""))
        why = f" ({span.status.description})" if span.status.description else ""
        events = "".join(f" [{event.name}]" for event in span.events)
        actor = f" -> {attributes['mira.actor']}" if "mira.actor" in attributes else ""
        label = span.name + actor + (f": {outcome}" if outcome else "")
        print(f"{'  ' * depth}{label}{why}{events}")
        print_tree(spans, span.get_span_context().span_id, depth + 1)


async def main() -> None:
    spans, reader = configure_sdk()
    orchestrator = OrchestratorAgent()
    for agent in (ProjectPlanAgent(), RiskAssessmentAgent(), StatusReporterAgent()):
        orchestrator.register_agent(agent)
    orchestrator.register_agent(SlowReviewAgent())
    orchestrator.register_workflow(
        Workflow(name="review", steps=[Step(name="review", message_type="review")])
    )
    async with orchestrator.running():
        for workflow_type, timeout in (("project_initialization", 30.0), ("review", 0.2)):
            message = {
                "type": "workflow",
                "data": {"workflow_type": workflow_type, "data": PROJECT},
            }
            response = await orchestrator.process_async(message, timeout=timeout)
            print(f"{workflow_type}: {response.get('status', 'success')}")
    finished = sorted(spans.get_finished_spans(), key=lambda span: span.start_time or 0)
    print_tree(finished)
    data = reader.get_metrics_data()
    assert data is not None
    for scope in data.resource_metrics[0].scope_metrics:
        for metric in scope.metrics:
            if metric.name == "mira.runs":
                for point in metric.data.data_points:
                    attributes = dict(point.attributes or {})
                    print(
                        f"mira.runs {attributes['mira.workflow_type']} "
                        f"{attributes['mira.status']}: {point.value}"
                    )


if __name__ == "__main__":
    trio.run(main)
