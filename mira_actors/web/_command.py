"""``mira-actors serve``: the web view of a store's runs, until interrupted."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import AsyncIterator

import trio

from mira_actors.agents import (
    OrchestratorAgent,
    ProjectPlanAgent,
    RiskAssessmentAgent,
    StatusReporterAgent,
)
from supervisors import open_store

from ._server import NonLoopbackError, check_host, serve

EXIT_SUCCESS = 0
EXIT_BAD_INPUT = 2


def serve_command(args: argparse.Namespace) -> int:
    """Serve the store at ``args.store`` until Ctrl-C or SIGTERM; return the exit code."""
    try:
        check_host(args.host, allow_remote=args.allow_remote)
    except NonLoopbackError as exc:
        print(f"mira-actors: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not 0 <= args.port <= 65535:
        print(f"mira-actors: --port must be 0..65535, got {args.port}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        trio.run(_serve, args)
    except KeyboardInterrupt:
        pass
    except Exception as exc:
        problem = _only_leaf(exc)
        if isinstance(problem, OSError):  # the port is taken, say
            where = f"{args.host}:{args.port}"
            print(f"mira-actors: cannot serve on {where}: {problem}", file=sys.stderr)
            return EXIT_BAD_INPUT
        if isinstance(problem, ImportError | ValueError):  # not a store of ours, no extra
            print(f"mira-actors: {problem}", file=sys.stderr)
            return EXIT_BAD_INPUT
        raise
    return EXIT_SUCCESS


def _only_leaf(exc: BaseException) -> BaseException:
    """The one exception inside nested exception groups, or ``exc`` itself."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


async def _serve(args: argparse.Namespace) -> None:
    options = {
        "host": args.host,
        "port": args.port,
        "allow_actions": args.allow_actions,
        "allow_remote": args.allow_remote,
    }
    with trio.open_signal_receiver(signal.SIGTERM) as stop:
        async with open_store(args.store) as store:
            if not args.allow_actions:
                async with serve(store, **options) as server:
                    _announce(server.url, "read-only")
                    await _first(stop)
                return
            # Resumes run here, with the built-in agents and workflows.
            orchestrator = OrchestratorAgent(store=store)
            for agent in (ProjectPlanAgent(), RiskAssessmentAgent(), StatusReporterAgent()):
                orchestrator.register_agent(agent)
            async with orchestrator.running() as system, serve(system, **options) as server:
                _announce(server.url, "actions allowed")
                await _first(stop)


async def _first(signals: AsyncIterator[int]) -> None:
    async for _ in signals:
        return


def _announce(url: str, mode: str) -> None:
    print(f"mira-actors: serving {url} ({mode}); Ctrl-C stops", file=sys.stderr, flush=True)
