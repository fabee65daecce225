"""An OpenTelemetry SDK with in-memory span and metric readers, as the instrumentation."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mira_actors.instrumentation import current, set_instrumentation
from tests.mira_actors.instrumentation.recorded import Recorded


@pytest.fixture
def otel() -> Iterator[Recorded]:
    """Record this test's spans and metrics in memory; restore the instrumentation after."""
    before = current()
    recorded = Recorded()
    set_instrumentation(recorded.instrumentation)
    try:
        yield recorded
    finally:
        set_instrumentation(before)
