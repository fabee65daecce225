"""A span exporter that prints each trace as an indented tree, once its root span ends."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TextIO

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

# Spans kept while their trace's root is still open; past this, the oldest trace prints.
MAX_PENDING = 10_000


def format_tree(spans: Sequence[ReadableSpan]) -> list[str]:
    """Lines showing ``spans`` as trees: a span, then its children indented, by start time.

    Each line has the span's name, its duration, its attributes (without the ``mira.``
    prefix), then its error status and events on lines of their own.
    """
    ids = {span.context.span_id for span in spans if span.context is not None}
    children: dict[int | None, list[ReadableSpan]] = {}
    for span in spans:
        parent = span.parent.span_id if span.parent is not None else None
        children.setdefault(parent if parent in ids else None, []).append(span)
    lines: list[str] = []

    def walk(parent: int | None, indent: str) -> None:
        for span in sorted(children.get(parent, []), key=lambda s: s.start_time or 0):
            lines.append(indent + _describe(span))
            if span.status.description:
                lines.append(f"{indent}  ! {span.status.description}")
            lines.extend(f"{indent}  * {event.name}" for event in span.events)
            if span.context is not None:
                walk(span.context.span_id, indent + "  ")

    walk(None, "")
    return lines


def _describe(span: ReadableSpan) -> str:
    seconds = ((span.end_time or 0) - (span.start_time or 0)) / 1e9
    fields = " ".join(
        f"{key.removeprefix('mira.')}={_value(value)}"
        for key, value in (span.attributes or {}).items()
    )
    return f"{span.name}  {seconds * 1000:.1f} ms  {fields}".rstrip()


def _value(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


class SpanTreePrinter(SpanExporter):
    """Print each trace to ``stream`` as a tree when its root span ends.

    Usage::

        provider.add_span_processor(SimpleSpanProcessor(SpanTreePrinter(sys.stderr)))
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._pending: dict[int, list[ReadableSpan]] = {}
        self._count = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Keep ``spans`` with their trace; print the traces whose root has ended."""
        for span in spans:
            if span.context is None:
                continue
            trace_spans = self._pending.setdefault(span.context.trace_id, [])
            trace_spans.append(span)
            self._count += 1
            if span.parent is None or span.parent.is_remote:
                self._print(span.context.trace_id)
        while self._count > MAX_PENDING:
            self._print(next(iter(self._pending)))
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        """Print what is left: traces whose root never ended."""
        for trace_id in list(self._pending):
            self._print(trace_id)

    def _print(self, trace_id: int) -> None:
        spans = self._pending.pop(trace_id)
        self._count -= len(spans)
        print(f"trace {trace_id:032x}", file=self._stream)
        for line in format_tree(spans):
            print("  " + line, file=self._stream)
        self._stream.flush()
