"""The ``mira-actors`` command line: run, resume and list workflow runs."""

from __future__ import annotations

import argparse
import functools
import importlib.metadata
import json
import math
import os
import sqlite3
import sys
from collections.abc import Callable, Sequence
from typing import Any

import trio

from mira_actors import safe_str
from supervisors import is_postgres_url

from . import _commands
from ._backend import BACKEND_NAMES
from ._commands import EXIT_BAD_INPUT, EXIT_BROKEN_PIPE, EXIT_ERROR, EXIT_INTERRUPTED
from ._log_output import configure_logging, say_error
from ._otel_export import OTEL_CHOICES, exporting
from ._payload import MAX_INPUT_CHARS
from ._ray_backend import init_ray

# Errors that mean the input (a file, an option, a store) is bad: exit 2 with one line.
_BAD_INPUT = (ImportError, TypeError, ValueError, OSError, sqlite3.Error)


DIST = "mira-actors"
STORE_HELP = "the runs' SQLite file, or a postgresql:// URL"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    try:
        try:
            return _main(argv)
        finally:
            sys.stdout.flush()  # here, so that a reader gone away is caught below
    except BrokenPipeError:
        # The reader of our output went away (`| head`): stop quietly, as a program
        # ended by SIGPIPE does. Output still buffered goes nowhere, not to a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:  # before or after the run, where no signal receiver is
        print("mira-actors: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    configure_logging(args.log_format, sys.stderr)
    say = functools.partial(say_error, args.log_format, sys.stderr)
    command: Callable[[], Any]
    if args.command == "serve" and (is_postgres_url(args.store) or os.path.exists(args.store)):
        return _serve(args)
    if args.command == "run":
        try:
            message = _load(args.file)
        except (OSError, ValueError) as exc:
            say(f"cannot read a JSON message from {args.file!r}: {exc}")
            return EXIT_BAD_INPUT
        misplaced = _workflow_only_options(args, message)
        if misplaced:
            say(
                f"{', '.join(misplaced)} apply to workflow messages only; "
                f"this is a {safe_str(message['type'])!r} message for one agent"
            )
            return EXIT_BAD_INPUT
        command = functools.partial(_commands.run, args, message)
    elif not is_postgres_url(args.store) and not os.path.exists(args.store):
        say(f"no ledger store at {args.store!r}")
        return EXIT_BAD_INPUT
    elif args.command == "resume":
        command = functools.partial(_commands.resume, args)
    elif args.command == "worker":
        command = functools.partial(_commands.worker, args)
    elif args.command == "cancel":
        command = functools.partial(_commands.cancel, args)
    else:
        command = functools.partial(_commands.runs, args)
    if getattr(args, "backend", None) == "ray":
        try:
            init_ray()  # before trio.run, in the main thread, as Ray needs
        except ImportError as exc:  # --backend ray without the ray extra
            say(str(exc))
            return EXIT_BAD_INPUT
        except Exception as exc:  # no cluster at MIRA_RAY_ADDRESS, or it would not start
            say(f"cannot start or reach Ray: {exc}")
            return EXIT_ERROR
    try:
        with exporting(getattr(args, "otel", None), sys.stderr):
            code: int = trio.run(_commands.interruptible, command, args)
    except Exception as exc:
        problem = _only_leaf(exc)
        if isinstance(problem, BrokenPipeError):
            raise problem from None
        if not isinstance(problem, _BAD_INPUT):
            raise
        say(str(problem))
        return EXIT_BAD_INPUT
    return code


def _only_leaf(exc: BaseException) -> BaseException:
    """The one exception inside nested exception groups, or ``exc`` itself."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def _workflow_only_options(args: argparse.Namespace, message: Any) -> list[str]:
    """The options given that only a workflow uses, when ``message`` is for one agent."""
    if not isinstance(message, dict) or message.get("type", "workflow") == "workflow":
        return []  # a workflow, or no message at all: its own error says so
    given = {
        "--store": args.store is not None,
        "--step-timeout": bool(args.step_timeout),
        "--retries": bool(args.retries),
        "--progress": args.progress,
    }
    return [option for option, is_given in given.items() if is_given]


def _serve(args: argparse.Namespace) -> int:
    # The web view is the top layer, with an extra of its own: imported only here.
    try:
        from mira_actors.web._command import serve_command
    except ImportError as exc:
        print(
            f"mira-actors: serve needs the web extra: pip install 'mira-actors[web]' ({exc})",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    code: int = serve_command(args)
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mira-actors",
        description="Run MIRA messages through the built-in agents, as trio actors.",
        epilog=(
            "Exit codes: 0 success, 1 error, 2 bad input, 3 timeout, 130 interrupted "
            "(Ctrl-C: the run is recorded as cancelled, and can be resumed), 141 the reader "
            "of the output went away (as for a program ended by SIGPIPE, e.g. '| head')."
        ),
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {importlib.metadata.version(DIST)}"
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
        "--store",
        metavar="STORE",
        help="keep the run in this SQLite file or postgresql:// URL (default: in memory)",
    )
    resume = commands.add_parser(
        "resume",
        parents=[steps],
        help="continue a stored run that timed out, failed or crashed; print the response",
    )
    resume.add_argument("workflow_id", help="the run's workflow_id (see 'runs')")
    resume.add_argument("--store", metavar="STORE", required=True, help=STORE_HELP)
    runs = commands.add_parser(
        "runs", parents=[logs], help="list the stored runs: status, steps done, age and lease"
    )
    runs.add_argument("--store", metavar="STORE", required=True, help=STORE_HELP)
    worker = commands.add_parser(
        "worker",
        parents=[logs],
        help="recover abandoned runs from the store (their owner died) until stopped",
    )
    worker.add_argument("--store", metavar="STORE", required=True, help=STORE_HELP)
    worker.add_argument(
        "--interval", type=float, default=1.0, help="seconds between looks (default 1)"
    )
    worker.add_argument(
        "--max-runs", type=int, default=100, help="most runs going on at once (default 100)"
    )
    worker.add_argument(
        "--backend",
        choices=BACKEND_NAMES,
        default=None,
        help="where the built-in agents' steps run (default inline)",
    )
    cancel = commands.add_parser(
        "cancel",
        parents=[logs],
        help="ask a running run's owner, wherever it runs, to cancel it",
    )
    cancel.add_argument("workflow_id", help="the run's workflow_id (see 'runs')")
    cancel.add_argument("--store", metavar="STORE", required=True, help=STORE_HELP)
    serve = commands.add_parser(
        "serve",
        parents=[logs],
        help="serve a web view of the stored runs in the browser (needs the web extra)",
    )
    serve.add_argument("--store", metavar="PATH|URL", required=True, help=STORE_HELP)
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    serve.add_argument(
        "--port", type=int, default=8000, help="port (default 8000; 0: any free one)"
    )
    serve.add_argument(
        "--allow-actions",
        action="store_true",
        help="offer actions (resume or cancel a run); without it the view is read-only",
    )
    serve.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a --host that is not a loopback address (others can then see every run)",
    )
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
    """The JSON value in the file (or standard input); ValueError for anything else."""
    try:
        if path == "-":
            text = sys.stdin.read(MAX_INPUT_CHARS + 1)
        else:
            with open(path, encoding="utf-8") as file:
                text = file.read(MAX_INPUT_CHARS + 1)
        if len(text) > MAX_INPUT_CHARS:  # read no further: the rest could be anything
            msg = f"it is larger than {MAX_INPUT_CHARS:,} characters, the input limit"
            raise ValueError(msg)
        return json.loads(text, parse_constant=_no_constants)
    except RecursionError:
        msg = "it is nested too deeply"
        raise ValueError(msg) from None


def _no_constants(name: str) -> Any:
    # Python's json reads NaN and Infinity, which JSON does not have and no store keeps.
    msg = f"{name} is not a JSON value"
    raise ValueError(msg)
