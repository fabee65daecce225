"""The ``mira-actors`` command line: run, resume and list workflow runs."""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import sqlite3
import sys
from collections.abc import Callable, Sequence
from typing import Any

import trio

from . import _commands
from ._backend import BACKEND_NAMES
from ._commands import EXIT_BAD_INPUT, EXIT_ERROR
from ._log_output import configure_logging
from ._otel_export import OTEL_CHOICES, exporting
from ._ray_backend import init_ray


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = _parser().parse_args(argv)
    configure_logging(args.log_format, sys.stderr)
    command: Callable[[], Any]
    if args.command == "run":
        try:
            message = _load(args.file)
        except (OSError, ValueError) as exc:
            print(
                f"mira-actors: cannot read a JSON message from {args.file!r}: {exc}",
                file=sys.stderr,
            )
            return EXIT_BAD_INPUT
        command = functools.partial(_commands.run, args, message)
    elif not os.path.exists(args.store):
        print(f"mira-actors: no ledger store at {args.store!r}", file=sys.stderr)
        return EXIT_BAD_INPUT
    elif args.command == "resume":
        command = functools.partial(_commands.resume, args)
    else:
        command = functools.partial(_commands.runs, args)
    if getattr(args, "backend", None) == "ray":
        try:
            init_ray()  # before trio.run, in the main thread, as Ray needs
        except ImportError as exc:  # --backend ray without the ray extra
            print(f"mira-actors: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except Exception as exc:  # no cluster at MIRA_RAY_ADDRESS, or it would not start
            print(f"mira-actors: cannot start or reach Ray: {exc}", file=sys.stderr)
            return EXIT_ERROR
    try:
        with exporting(getattr(args, "otel", None), sys.stderr):
            code: int = trio.run(command)
    except (ImportError, TypeError, ValueError, OSError, sqlite3.Error) as exc:
        print(f"mira-actors: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mira-actors",
        description="Run MIRA messages through the built-in agents, as trio actors.",
        epilog="Exit codes: 0 success, 1 error, 2 bad input, 3 timeout.",
    )
    logs = argparse.ArgumentParser(add_help=False)
    logs.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="structured logs on stderr as text or as JSON lines (default text)",
    )
    steps = argparse.ArgumentParser(add_help=False, parents=[logs])
    steps.add_argument(
        "--timeout", type=float, default=30.0, help="deadline in seconds (default 30; inf: none)"
    )
    steps.add_argument(
        "--step-timeout",
        action="append",
        default=[],
        type=_step_timeout,
        metavar="NAME=SECONDS",
        help="a step's own timeout per attempt (repeatable)",
    )
    steps.add_argument(
        "--retries",
        type=_retries,
        default=0,
        metavar="N",
        help="retry each failed step up to N times, backing off from 0.1 s (default 0)",
    )
    steps.add_argument(
        "--progress",
        action="store_true",
        help="show the run's progress on stderr (a live line when it is a terminal)",
    )
    steps.add_argument(
        "--backend",
        choices=BACKEND_NAMES,
        default=None,
        help="where the built-in agents' steps run (default inline; ray reads MIRA_RAY_ADDRESS)",
    )
    steps.add_argument(
        "--otel",
        choices=OTEL_CHOICES,
        default=None,
        help="OpenTelemetry: spans on stderr (console), or to OTEL_EXPORTER_OTLP_ENDPOINT (otlp)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run",
        parents=[steps],
        help="run one message (a workflow or an agent message) and print the response",
    )
    run.add_argument("file", help="a JSON file holding the message, or '-' for standard input")
    run.add_argument(
        "--store", metavar="PATH", help="keep the run in this SQLite file (default: in memory)"
    )
    resume = commands.add_parser(
        "resume",
        parents=[steps],
        help="continue a stored run that timed out, failed or crashed; print the response",
    )
    resume.add_argument("workflow_id", help="the run's workflow_id (see 'runs')")
    resume.add_argument("--store", metavar="PATH", required=True, help="the run's SQLite file")
    runs = commands.add_parser(
        "runs", parents=[logs], help="list the stored runs: status, steps done and age"
    )
    runs.add_argument("--store", metavar="PATH", required=True, help="the SQLite file")
    return parser


def _step_timeout(text: str) -> tuple[str, float]:
    name, sep, seconds = text.partition("=")
    try:
        value = float(seconds)
    except ValueError:
        value = math.nan
    if not sep or not name or not value >= 0:
        msg = f"expected NAME=SECONDS with SECONDS >= 0, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return name, value


def _retries(text: str) -> int:
    if not text.isdigit():
        msg = f"expected a whole number of retries >= 0, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return int(text)


def _load(path: str) -> Any:
    if path == "-":
        return json.load(sys.stdin)
    with open(path, encoding="utf-8") as file:
        return json.load(file)
