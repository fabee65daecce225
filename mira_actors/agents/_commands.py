"""What the command line's subcommands do, once their arguments are parsed."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

from supervisors import (
    DamagedRunError,
    LedgerStore,
    MemoryStore,
    ResumeConflictError,
    RetryPolicy,
    StoredRun,
    UnknownRunError,
    open_sqlite_store,
)

from ._progress import ProgressDisplay
from .orchestrator_agent import OrchestratorAgent
from .project_plan_agent import ProjectPlanAgent
from .risk_assessment_agent import RiskAssessmentAgent
from .status_reporter_agent import StatusReporterAgent

EXIT_SUCCESS = 0
EXIT_ERROR = 1
EXIT_BAD_INPUT = 2
EXIT_TIMEOUT = 3

_BAD_INPUT_ERRORS = ("Invalid message format", "Invalid workflow message")


def build_orchestrator(
    backend: str | None = None, store: LedgerStore | None = None
) -> OrchestratorAgent:
    """Return an orchestrator with the three built-in agents, on ``backend`` if given."""
    orchestrator = OrchestratorAgent(store=store)
    for agent in (ProjectPlanAgent(), RiskAssessmentAgent(), StatusReporterAgent()):
        orchestrator.register_agent(agent, backend=backend)
    return orchestrator


def exit_code(response: dict[str, Any]) -> int:
    """Map a response to the exit code: success 0, error 1, bad input 2, timeout 3."""
    status = response.get("status")
    if status is None or status == "success":
        return EXIT_SUCCESS
    if status == "timeout":
        return EXIT_TIMEOUT
    if str(response.get("error", "")).startswith(_BAD_INPUT_ERRORS):
        return EXIT_BAD_INPUT
    return EXIT_ERROR


@contextlib.asynccontextmanager
async def opened_store(path: str | None) -> AsyncIterator[LedgerStore]:
    """The SQLite store at ``path``, or a store in memory when there is none."""
    if path is None:
        yield MemoryStore()
    else:
        async with open_sqlite_store(path) as store:
            yield store


def policy_options(args: argparse.Namespace) -> dict[str, Any]:
    """The run options that --step-timeout, --retries and --progress ask for."""
    options: dict[str, Any] = {"step_timeouts": dict(args.step_timeout)}
    if args.retries:
        options["retry"] = RetryPolicy(max_attempts=args.retries + 1, initial_interval=0.1)
    if args.progress:
        options["on_event"] = ProgressDisplay(sys.stderr)
    return options


async def run(args: argparse.Namespace, message: Any) -> int:
    """`run`: process one message and print its response."""
    async with opened_store(args.store) as store:
        orchestrator = build_orchestrator(args.backend, store)
        response = await orchestrator.process_async(message, args.timeout, **policy_options(args))
    return _print_response(response)


async def resume(args: argparse.Namespace) -> int:
    """`resume`: continue a stored run and print its response."""
    async with opened_store(args.store) as store:
        orchestrator = build_orchestrator(args.backend, store)
        try:
            response = await orchestrator.resume(
                args.workflow_id, args.timeout, **policy_options(args)
            )
        except UnknownRunError as exc:
            print(f"mira-actors: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except (ResumeConflictError, DamagedRunError) as exc:
            print(f"mira-actors: {exc}", file=sys.stderr)
            return EXIT_ERROR
    return _print_response(response)


async def runs(args: argparse.Namespace) -> int:
    """`runs`: print a table of the stored runs, newest first."""
    async with open_sqlite_store(args.store, read_only=True) as store:
        stored = await store.list_runs()
    print(runs_table(stored, now=time.time()))
    return EXIT_SUCCESS


def runs_table(stored: list[StoredRun], *, now: float) -> str:
    """Format runs as a table: id, workflow, status, steps done, resumes and age."""
    rows = [("WORKFLOW_ID", "WORKFLOW", "STATUS", "STEPS_DONE", "RESUMES", "AGE")]
    for run in stored:
        rows.append(
            (
                run.workflow_id,
                run.workflow_type,
                run.status,
                str(len(run.completed_steps)),
                str(run.resumes),
                age(now - run.created_at),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def age(seconds: float) -> str:
    """Say how long ago, in the largest whole unit: '42s', '5m', '3h', '2d'."""
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def _print_response(response: dict[str, Any]) -> int:
    json.dump(response, sys.stdout, indent=2, default=str)
    print()
    return exit_code(response)
