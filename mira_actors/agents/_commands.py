"""What the command line's subcommands do, once their arguments are parsed."""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import shlex
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import trio

from supervisors import (
    DamagedRunError,
    LedgerStore,
    Recovery,
    ResumeConflictError,
    RetryPolicy,
    RunEvent,
    RunStarted,
    StoredRun,
    UnknownRunError,
    open_store,
)

from ._log_output import JsonProgress, say_error
from ._progress import ProgressDisplay
from .orchestrator_agent import OrchestratorAgent
from .project_plan_agent import ProjectPlanAgent
from .risk_assessment_agent import RiskAssessmentAgent
from .status_reporter_agent import StatusReporterAgent

EXIT_SUCCESS = 0
EXIT_ERROR = 1
EXIT_BAD_INPUT = 2
EXIT_TIMEOUT = 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a program ended by Ctrl-C
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: the reader of the output went away

_BAD_INPUT_ERRORS = ("Invalid message format", "Invalid workflow message")


def build_orchestrator(
    backend: str | None = None,
    store: LedgerStore | None = None,
    recover: bool | Recovery = False,
) -> OrchestratorAgent:
    """Return an orchestrator with the three built-in agents, on ``backend`` if given."""
    orchestrator = OrchestratorAgent(store=store, recover=recover)
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
async def opened_store(target: str | None) -> AsyncIterator[LedgerStore]:
    """The store ``target`` names (a SQLite path or a PostgreSQL URL), or one in memory."""
    async with open_store(target) as store:
        yield store


def policy_options(args: argparse.Namespace, started: list[str] | None = None) -> dict[str, Any]:
    """The run options that --step-timeout, --retries and --progress ask for.

    The id of each run that starts is appended to ``started``, when given.
    """
    options: dict[str, Any] = {"step_timeouts": dict(args.step_timeout)}
    if args.retries:
        options["retry"] = RetryPolicy(max_attempts=args.retries + 1, initial_interval=0.1)
    show: Callable[[RunEvent], None] | None = None
    if args.progress:
        show = JsonProgress() if args.log_format == "json" else ProgressDisplay(sys.stderr)
    if started is not None:
        options["on_event"] = functools.partial(_note_start, started, show)
    elif show is not None:
        options["on_event"] = show
    return options


def _note_start(
    started: list[str], show: Callable[[RunEvent], None] | None, event: RunEvent
) -> None:
    if isinstance(event, RunStarted):
        started.append(event.workflow_id)
    if show is not None:
        show(event)


async def interruptible(command: Callable[[list[str]], Awaitable[int]], args: Any) -> int:
    """Run ``command``; on Ctrl-C (SIGINT) cancel it, say so in one line, and return 130.

    The run is cancelled by its caller, so its store records it as cancelled, and it can
    be resumed: with a store, the line says how. ``command`` gets a list that the ids
    of the runs it starts go into.
    """
    started: list[str] = []
    interrupted = False
    with trio.open_signal_receiver(signal.SIGINT) as signals:
        async with trio.open_nursery() as nursery:

            async def cancel_on_signal() -> None:
                nonlocal interrupted
                async for _ in signals:
                    interrupted = True
                    nursery.cancel_scope.cancel()

            nursery.start_soon(cancel_on_signal)
            code = await command(started)
            nursery.cancel_scope.cancel()
    if not interrupted:
        return code
    store = getattr(args, "store", None)
    where = getattr(args, "workflow_id", None) or (started[-1] if started else None)
    if store is not None and where is not None:
        say_error(
            args.log_format,
            sys.stderr,
            f"interrupted: run {where} is recorded as cancelled; continue it with "
            f"'mira-actors resume {where} --store {shlex.quote(store)}'",
        )
    else:
        say_error(args.log_format, sys.stderr, "interrupted")
    return EXIT_INTERRUPTED


async def run(args: argparse.Namespace, message: Any, started: list[str]) -> int:
    """`run`: process one message and print its response."""
    async with opened_store(args.store) as store:
        orchestrator = build_orchestrator(args.backend, store)
        response = await orchestrator.process_async(
            message, args.timeout, **policy_options(args, started)
        )
    return _print_response(response)


async def resume(args: argparse.Namespace, started: list[str]) -> int:
    """`resume`: continue a stored run and print its response."""
    async with opened_store(args.store) as store:
        orchestrator = build_orchestrator(args.backend, store)
        try:
            response = await orchestrator.resume(
                args.workflow_id, args.timeout, **policy_options(args)
            )
        except UnknownRunError as exc:
            say_error(args.log_format, sys.stderr, str(exc))
            return EXIT_BAD_INPUT
        except (ResumeConflictError, DamagedRunError) as exc:
            say_error(args.log_format, sys.stderr, str(exc))
            return EXIT_ERROR
    return _print_response(response)


async def runs(args: argparse.Namespace, started: list[str]) -> int:
    """`runs`: print a table of the stored runs, newest first."""
    async with open_store(args.store, read_only=True) as store:
        stored = await store.list_runs()
        now = await store.now()  # leases are judged by the store's clock
    print(runs_table(stored, now=now))
    return EXIT_SUCCESS


async def worker(args: argparse.Namespace, started: list[str]) -> int:
    """`worker`: recover abandoned runs until SIGTERM (its runs handed over; exit 0) or Ctrl-C.

    Ctrl-C cancels its runs and exits 130.
    """
    recovery = Recovery(interval=args.interval, max_runs=args.max_runs)
    async with opened_store(args.store) as store:
        orchestrator = build_orchestrator(args.backend, store, recover=recovery)
        with trio.open_signal_receiver(signal.SIGTERM) as terms:
            async with orchestrator.running() as system:
                print(f"worker {orchestrator.owner} recovering runs", file=sys.stderr, flush=True)
                async for _ in terms:
                    # Its runs go back to the store, for the other workers to go on with.
                    system.hand_over()
                    break
    return EXIT_SUCCESS


async def cancel(args: argparse.Namespace, started: list[str]) -> int:
    """`cancel`: ask a run's owner to cancel it; exit 0 when asked, 1 when it had finished."""
    async with opened_store(args.store) as store:
        try:
            marked = await store.request_cancel(args.workflow_id)
        except UnknownRunError as exc:
            print(f"mira-actors: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
    if not marked:
        print(f"mira-actors: run {args.workflow_id!r} is not running", file=sys.stderr)
        return EXIT_ERROR
    print(f"asked the owner of run {args.workflow_id} to cancel it")
    return EXIT_SUCCESS


def runs_table(stored: list[StoredRun], *, now: float) -> str:
    """Format runs as a table: id, workflow, status, steps done, resumes, age, owner, lease."""
    rows = [
        ("WORKFLOW_ID", "WORKFLOW", "STATUS", "STEPS_DONE", "RESUMES", "AGE", "OWNER", "LEASE")
    ]
    for run in stored:
        rows.append(
            (
                run.workflow_id,
                run.workflow_type,
                run.status,
                str(len(run.completed_steps)),
                str(run.resumes),
                age(now - run.created_at),
                run.owner[:12] if run.owner else "-",
                lease(run, now),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def lease(run: StoredRun, now: float) -> str:
    """Say how long the run's lease holds ('12s left'), 'expired', or '-' with no owner."""
    if run.owner is None:
        return "-"
    if run.lease_expires_at is None or run.lease_expires_at < now:
        return "expired"
    return f"{age(run.lease_expires_at - now)} left"


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
