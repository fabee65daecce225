"""Worker-importable test agents, one local Ray instance for the session, and run ids."""

from __future__ import annotations

import logging
import os
import re
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

# Worker processes unpickle the test agents by importing their module, so the repository
# root must be on sys.path (spawned workers inherit this process's sys.path).
ROOT = str(Path(__file__).resolve().parents[3])
if ROOT not in sys.path:
    sys.path.append(ROOT)


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[ModuleType]:
    """Start a local Ray instance (2 CPUs) once per session; shut it down at the end."""
    ray = pytest.importorskip("ray")
    from tests.mira_actors.agents import backend_agents

    saved = os.environ.get("RAY_USAGE_STATS_ENABLED")
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # offline: nothing to report to
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    # Ray workers do not share our sys.path: ship the test agents' classes by value.
    ray.cloudpickle.register_pickle_by_value(backend_agents)
    try:
        yield ray
    finally:
        ray.shutdown()
        if saved is None:
            del os.environ["RAY_USAGE_STATS_ENABLED"]
        else:
            os.environ["RAY_USAGE_STATS_ENABLED"] = saved


# The log events of a workflow run's end; each carries the run's workflow_id.
RUN_ENDS = frozenset({"workflow_completed", "workflow_timeout", "workflow_error"})


@pytest.fixture
def run_ids(caplog: pytest.LogCaptureFixture) -> Callable[[], list[str]]:
    """Return a function listing the workflow_id of each run the orchestrator logged, in order.

    One id per run whose end was logged (a workflow message rejected before any run has
    none); each is checked to be a uuid4 as 32 lowercase hex digits.
    """
    caplog.set_level(logging.INFO, logger="mira_actors.agents.orchestrator")

    def ids() -> list[str]:
        found = [
            r.workflow_id
            for r in caplog.records
            if r.name == "mira_actors.agents.orchestrator"
            and getattr(r, "event_type", None) in RUN_ENDS
            and hasattr(r, "workflow_id")
        ]
        for workflow_id in found:
            assert re.fullmatch("[0-9a-f]{32}", workflow_id), workflow_id
            assert uuid.UUID(hex=workflow_id).version == 4, workflow_id
        return found

    return ids
