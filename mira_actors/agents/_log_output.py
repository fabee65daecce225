"""Where the command line's logs go: stderr, as text or as JSON lines."""

from __future__ import annotations

import datetime
import json
import logging
import math
from typing import Any, TextIO

# The attributes every LogRecord has; whatever else it carries came in through `extra`.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message"}
# The packages whose loggers the command line shows.
LOGGERS = ("mira_actors", "supervisors")


def configure_logging(log_format: str, stream: TextIO) -> None:
    """Send the runtime's logs (INFO and up) to ``stream`` as 'text' or 'json' lines."""
    handler = logging.StreamHandler(stream)
    if log_format == "json":
        handler.setFormatter(JsonLinesFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    for name in LOGGERS:
        logger = logging.getLogger(name)
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
