"""An OpenTelemetry SDK with in-memory span and metric readers, as the instrumentation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from mira_actors.instrumentation import current, set_instrumentation

if TYPE_CHECKING:
    from tests.mira_actors.instrumentation.recorded import Recorded


@pytest.fixture
def otel() -> Iterator[Recorded]:
    """Record this test's spans and metrics in memory; restore the instrumentation after."""
    from tests.mira_actors.instrumentation.recorded import Recorded

    before = current()
    recorded = Recorded()
    set_instrumentation(recorded.instrumentation)
    try:
        yield recorded
    finally:
        set_instrumentation(before)
