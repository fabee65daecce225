"""Where the command line's logs, errors and progress go: stderr, as text or as JSON lines."""

from __future__ import annotations

import datetime
import json
import logging
import math
from typing import Any, TextIO

import attrs

from supervisors import RunEvent, RunFinished, RunStarted

from ._progress import describe

# The attributes every LogRecord has; whatever else it carries came in through `extra`.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message"}
# The packages whose loggers the command line shows.
LOGGERS = ("mira_actors", "supervisors")
_HANDLER_NAME = "mira-actors-cli"


def configure_logging(log_format: str, stream: TextIO) -> None:
    """Send the runtime's logs (INFO and up) to ``stream`` as 'text' or 'json' lines."""
    handler = logging.StreamHandler(stream)
    if log_format == "json":
        handler.setFormatter(JsonLinesFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.set_name(_HANDLER_NAME)
    for name in LOGGERS:
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if h.get_name() == _HANDLER_NAME]:
            logger.removeHandler(old)  # called again in one process: replace, not add
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


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


def say_error(log_format: str, stream: TextIO, message: str) -> None:
    """Write the command line's own one-line error: text, or a JSON line like the logs."""
    if log_format == "json":
        record = logging.LogRecord("mira_actors.cli", logging.ERROR, "", 0, message, None, None)
        stream.write(JsonLinesFormatter().format(record) + "\n")
    else:
        stream.write(f"mira-actors: {message}\n")
    stream.flush()


class JsonProgress:
    """An event sink that logs a run's progress, one record an event, for the JSON lines.

    With ``--log-format json`` every line on stderr is then JSON: the progress too. Each
    record has event_type 'run_progress', the event's class name and its fields (names,
    attempts, seconds: never data), and the text that the text display would show.
    """

    def __init__(self) -> None:
        self._logger = logging.getLogger("mira_actors.agents.progress")
        self._started: dict[str, float] = {}  # run id -> its start, to time events from

    def __call__(self, event: RunEvent) -> None:
        if isinstance(event, RunStarted):
            self._started[event.workflow_id] = event.time
        since = self._started.get(event.workflow_id, event.time)
        if isinstance(event, RunFinished):
            self._started.pop(event.workflow_id, None)
        fields = attrs.asdict(event)
        fields["elapsed"] = fields.pop("time") - since  # the JSON line has its own "time"
        self._logger.info(
            describe(event, since),
            extra={"event_type": "run_progress", "event": type(event).__name__, **fields},
        )
