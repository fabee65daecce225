"""Instrumentation: the hooks that every layer calls, and where they report.

By default the hooks report to OpenTelemetry when ``opentelemetry-api`` is installed
(the ``otel`` extra, see :mod:`mira_actors.instrumentation.otel`), and cost nothing
when it is not.
"""

from ._hooks import AskTrace as AskTrace
from ._hooks import AttemptTrace as AttemptTrace
from ._hooks import Instrumentation as Instrumentation
from ._hooks import RunTrace as RunTrace
from ._hooks import current as current
from ._hooks import set_instrumentation as set_instrumentation

__all__ = [
    "AskTrace",
    "AttemptTrace",
    "Instrumentation",
    "RunTrace",
    "current",
    "set_instrumentation",
]
