"""Shared test helpers."""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator

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
def collected_heap() -> Iterator[None]:
    """Set the heap the tests before left aside while a real-time deadline is measured.

    A test process holds the objects of a thousand tests: the cyclic collector's full
    passes over them (tens of milliseconds, holding the GIL) must not fall inside
    another test's measured deadline. Their garbage is collected first, and what lives
    on is frozen (``gc.freeze``, as a long-running service does with its start-up heap)
    until the test ends; the test's own objects are still collected as it goes.
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@pytest.fixture
def live_tasks() -> Callable[[], list[trio.lowlevel.Task]]:
    """Return a function listing the tasks alive in the current trio run."""
    return _live_tasks


# Property tests: no per-example deadline (a shared CI machine is slow at random), no
# example database written into the work tree, and modest example counts so the suite
# stays fast; each test sets its own max_examples. On CI (CI=true) the examples are the
# same every run, so CI judges the code, not the draw; elsewhere each run explores anew.
hypothesis.settings.register_profile(
    "mira",
    deadline=None,
    database=None,
    max_examples=50,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[hypothesis.HealthCheck.too_slow],
)
hypothesis.settings.load_profile("mira")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """One throwaway PostgreSQL server for the whole session; its URL.

    Where the server binaries are missing the tests that need it are skipped, loudly;
    under CI (CI=true) they fail instead, so a CI run never passes without them.
    """
    from tests import postgres_server as server

    reason = server.missing()
    try:
        import psycopg  # noqa: F401
    except ImportError:
        reason = reason or "psycopg is not installed: pip install -e '.[postgres]'"
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL tests cannot run under CI: {reason}")
        pytest.skip(f"SKIPPING POSTGRESQL TESTS: {reason}")
    with server.postgres_server() as url:
        yield url


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """The URL of an empty database on the session's PostgreSQL server (no ledger in it)."""
    from tests import postgres_server as server

    return server.emptied(postgres_server)
