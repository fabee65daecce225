"""Shared test helpers."""

from __future__ import annotations

from collections.abc import Callable

import hypothesis
import pytest
import trio


def _live_tasks() -> list[trio.lowlevel.Task]:
    """Every task alive in this trio run, found from the root task down."""
    tasks, stack = [], [trio.lowlevel.current_root_task()]
    while stack:
        task = stack.pop()
        tasks.append(task)
        for nursery in task.child_nurseries:
            stack.extend(nursery.child_tasks)
    return tasks


@pytest.fixture
def live_tasks() -> Callable[[], list[trio.lowlevel.Task]]:
    """Return a function listing the tasks alive in the current trio run."""
    return _live_tasks


# Property tests: no per-example deadline (a shared CI machine is slow at random), no
# example database written into the work tree, and modest example counts so the suite
# stays fast; each test sets its own max_examples.
hypothesis.settings.register_profile(
    "mira",
    deadline=None,
    database=None,
    max_examples=50,
    suppress_health_check=[hypothesis.HealthCheck.too_slow],
)
hypothesis.settings.load_profile("mira")
