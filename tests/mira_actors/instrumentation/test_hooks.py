"""Which instrumentation the hooks report to: OpenTelemetry once the app uses it, else none."""

from __future__ import annotations

import pytest

# CI installs the otel extra (.ci/run); a venv without it skips these tests.
pytest.importorskip("opentelemetry.sdk", reason="needs the otel extra: pip install -e '.[otel]'")

import subprocess
import sys
from pathlib import Path

import trio

from mira_actors.instrumentation import current, set_instrumentation
from mira_actors.instrumentation.otel import OpenTelemetry
from tests.supervisors.scripted import OK, Journal, actors, flow, go, step

ROOT = Path(__file__).resolve().parents[3]

# Runs a workflow where opentelemetry cannot be imported, then reports what was loaded.
WITHOUT_OTEL = """
import sys

class NoOpenTelemetry:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "opentelemetry":
            raise ModuleNotFoundError(f"blocked: {name}")
        return None

sys.meta_path.insert(0, NoOpenTelemetry())

import trio
from mira_actors.instrumentation import current
from tests.supervisors.scripted import OK, actors, flow, go, step

async def main():
    async with actors([], a=[(0, OK)]) as routes:
        return await go(flow(step("a")), routes)

report = trio.run(main)
print(report.outcome, current(), any(m.startswith("opentelemetry") for m in sys.modules))
"""


def test_without_opentelemetry_runs_go_on_uninstrumented() -> None:
    """With no opentelemetry to import, there is no instrumentation and runs work as ever."""
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_OTEL], capture_output=True, text=True, check=False, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["success", "None", "False"]


def test_importing_mira_actors_does_not_import_opentelemetry() -> None:
    """Importing mira_actors and supervisors leaves OpenTelemetry unimported."""
    code = "import mira_actors, supervisors, sys; print([m for m in sys.modules if 'opentel' in m])"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# Runs a workflow before the application imports OpenTelemetry, and one after.
IMPORTED_LATER = """
import sys
import trio
from mira_actors.instrumentation import current
from tests.supervisors.scripted import OK, actors, flow, go, step

async def main():
    async with actors([], a=[(0, OK)]) as routes:
        await go(flow(step("a")), routes)
        print(type(current()).__name__, any(m.startswith("opentelemetry") for m in sys.modules))
        import opentelemetry.trace  # as configuring the SDK would
        await go(flow(step("a")), routes)
        print(type(current()).__name__)

trio.run(main)
"""


def test_opentelemetry_is_used_once_the_application_imports_it() -> None:
    """mira-actors never imports OpenTelemetry itself; the run after the app does uses it."""
    result = subprocess.run(
        [sys.executable, "-c", IMPORTED_LATER],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["NoneType", "False", "OpenTelemetry"]


async def test_no_sdk_means_no_run_trace(autojump_clock: trio.abc.Clock) -> None:
    """With the API's global providers unconfigured, a run gets no trace and asks skip it."""
    hooks = OpenTelemetry()
    assert not hooks.recording
    assert hooks.run_started(workflow_id="x", workflow_type="w", timeout=1.0) is None
    assert hooks.ask_sent("a", None) is None


async def test_switched_off_the_hooks_see_nothing(autojump_clock: trio.abc.Clock) -> None:
    """set_instrumentation(None) switches the hooks off; a run then goes uninstrumented."""
    before = current()
    seen: list[str] = []

    class Watch(OpenTelemetry):
        def run_started(self, **fields: object) -> None:
            seen.append(str(fields["workflow_type"]))

    journal: Journal = []
    try:
        set_instrumentation(Watch())
        async with actors(journal, a=[(0, OK)]) as routes:
            await go(flow(step("a")), routes)
            set_instrumentation(None)
            assert current() is None
            await go(flow(step("a")), routes)
    finally:
        set_instrumentation(before)
    assert seen == ["w"]
