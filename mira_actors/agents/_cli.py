"""The ``mira-actors`` command: run one message through the built-in MIRA agents."""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import logging
import math
import sys
from collections.abc import Sequence
from typing import Any, TextIO

import trio

from supervisors import RetryPolicy

from ._backend import BACKEND_NAMES
from ._progress import ProgressDisplay
from ._ray_backend import init_ray
from .orchestrator_agent import OrchestratorAgent
from .project_plan_agent import ProjectPlanAgent
from .risk_assessment_agent import RiskAssessmentAgent
from .status_reporter_agent import StatusReporterAgent

EXIT_SUCCESS = 0
EXIT_ERROR = 1
EXIT_BAD_INPUT = 2
EXIT_TIMEOUT = 3

_BAD_INPUT_ERRORS = ("Invalid message format", "Invalid workflow message")
# The attributes every LogRecord has; whatever else it carries came in through `extra`.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message"}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = _parser().parse_args(argv)
    _configure_logging(args.log_format, sys.stderr)
    try:
        message = _load(args.file)
    except (OSError, ValueError) as exc:
        print(f"mira-actors: cannot read a JSON message from {args.file!r}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        orchestrator = build_orchestrator(backend=args.backend)
    except ImportError as exc:  # --backend ray without the ray extra
        print(f"mira-actors: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.backend == "ray":
        try:
            init_ray()  # before trio.run, in the main thread, as Ray needs
        except Exception as exc:  # no cluster at MIRA_RAY_ADDRESS, or it would not start
            print(f"mira-actors: cannot start or reach Ray: {exc}", file=sys.stderr)
            return EXIT_ERROR
    options: dict[str, Any] = {"step_timeouts": dict(args.step_timeout)}
    if args.retries:
        options["retry"] = RetryPolicy(max_attempts=args.retries + 1, initial_interval=0.1)
    if args.progress:
        options["on_event"] = ProgressDisplay(sys.stderr)
    try:
        response = trio.run(
            functools.partial(orchestrator.process_async, message, args.timeout, **options)
        )
    except (TypeError, ValueError) as exc:
        print(f"mira-actors: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    json.dump(response, sys.stdout, indent=2, default=str)
    print()
    return exit_code(response)


def build_orchestrator(backend: str | None = None) -> OrchestratorAgent:
    """Return an orchestrator with the three built-in agents, on ``backend`` if given."""
    orchestrator = OrchestratorAgent()
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mira-actors",
        description="Run MIRA messages through the built-in agents, as trio actors.",
        epilog="Exit codes: 0 success, 1 error, 2 bad input, 3 timeout.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run", help="run one message (a workflow or an agent message) and print the response"
    )
    run.add_argument("file", help="a JSON file holding the message, or '-' for standard input")
    run.add_argument(
        "--timeout", type=float, default=30.0, help="deadline in seconds (default 30; inf: none)"
    )
    run.add_argument(
        "--step-timeout",
        action="append",
        default=[],
        type=_step_timeout,
        metavar="NAME=SECONDS",
        help="a step's own timeout per attempt (repeatable)",
    )
    run.add_argument(
        "--retries",
        type=_retries,
        default=0,
        metavar="N",
        help="retry each failed step up to N times, backing off from 0.1 s (default 0)",
    )
    run.add_argument(
        "--progress",
        action="store_true",
        help="show the run's progress on stderr (a live line when it is a terminal)",
    )
    run.add_argument(
        "--backend",
        choices=BACKEND_NAMES,
        default=None,
        help="where the built-in agents' steps run (default inline; ray reads MIRA_RAY_ADDRESS)",
    )
    run.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="structured logs on stderr as text or as JSON lines (default text)",
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
    if path == "-":
        return json.load(sys.stdin)
    with open(path, encoding="utf-8") as file:
        return json.load(file)


def _configure_logging(log_format: str, stream: TextIO) -> None:
    handler = logging.StreamHandler(stream)
    if log_format == "json":
        handler.setFormatter(JsonLinesFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("mira_actors")
    root.addHandler(handler)
    root.setLevel(logging.INFO)


class JsonLinesFormatter(logging.Formatter):
    """Format a record as one JSON object: time, level, logger, message and its extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS:
                entry[key] = _json_safe(value)
        return json.dumps(entry, default=str)


def _json_safe(value: Any) -> Any:
    # JSON has no infinity or NaN: an unbounded timeout is written as the string "inf".
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value
