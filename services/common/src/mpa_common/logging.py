"""Structured JSON logs on stdout, one object per line, for every service and the CLI.

python-json-logger formats the standard library's records, so uvicorn's, SQLAlchemy's and
aiokafka's loggers come out as JSON too. Personal data must never be passed to a logger:
log ids and codes only.
"""

from __future__ import annotations

import logging
import logging.config
import time
from typing import Any

# Third-party loggers that repeat themselves for as long as a dependency is away (aiokafka
# logs every failed reconnect): their repeats are folded into one line per window.
THROTTLED_LOGGERS = ("aiokafka", "kafka", "asyncpg", "sqlalchemy", "mpa.http")


# Path segments that follow these segments are bearer secrets (a feedback invitation's
# token, in intake's API and on the console's public page): logs, traces and problem
# documents show the path with them redacted. Beside each, the segments that are no secret.
SECRET_PATH_PARENTS: dict[str, frozenset[str]] = {
    "feedback-invitations": frozenset(),
    "feedback": frozenset({"partners"}),  # the console: /feedback/{token}, /feedback/partners
}
REDACTED = "{redacted}"


def redacted_path(path: str) -> str:
    """`path` with every segment after one of `SECRET_PATH_PARENTS` replaced."""
    segments = path.split("/")
    for i in range(1, len(segments)):
        public = SECRET_PATH_PARENTS.get(segments[i - 1])
        if public is not None and segments[i] and segments[i] not in public:
            segments[i] = REDACTED
    return "/".join(segments)


def configure_logging(service: str, level: str = "INFO") -> None:
    config: dict[str, Any] = {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "service": {"()": ServiceFilter, "service": service},
            "repeats": {"()": RepeatedLogFilter},
        },
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
                "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
                "datefmt": "%Y-%m-%dT%H:%M:%S%z",
            }
        },
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "formatter": "json",
                "filters": ["repeats", "service"],
            }
        },
        "root": {"handlers": ["stdout"], "level": level.upper()},
        "loggers": {
            # uvicorn installs its own handlers unless told otherwise; route them through ours.
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": True, "level": "WARNING"},
            "aiokafka": {"level": "WARNING"},
            "sqlalchemy": {"level": "WARNING"},
        },
    }
    logging.config.dictConfig(config)


class ServiceFilter(logging.Filter):
    """Stamps every record with the service's name so mixed logs stay attributable."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        # uvicorn adds an ANSI-coloured copy of its message; JSON readers want the plain one.
        record.__dict__.pop("color_message", None)
        return True


class RepeatedLogFilter(logging.Filter):
    """Lets the first of a run of identical third-party warnings through, drops the repeats
    for `window` seconds, then lets one through that says how many were dropped.

    During a broker outage aiokafka logs a few lines per reconnect attempt; without this a
    service writes thousands of ERROR lines for a few seconds without Kafka.
    """

    def __init__(self, window: float = 30.0, prefixes: tuple[str, ...] = THROTTLED_LOGGERS) -> None:
        super().__init__()
        self.window = window
        self.prefixes = prefixes
        self._seen: dict[tuple[str, int, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or not record.name.startswith(self.prefixes):
            return True
        key = (record.name, record.levelno, str(record.msg))
        now = time.monotonic()
        first, dropped = self._seen.get(key, (0.0, 0))
        if first and now - first < self.window:
            self._seen[key] = (first, dropped + 1)
            return False
        self._seen[key] = (now, 0)
        if len(self._seen) > 1000:  # bounded: forget the oldest runs
            for stale in sorted(self._seen, key=lambda k: self._seen[k][0])[:500]:
                del self._seen[stale]
        if dropped:
            record.repeated = dropped
            record.repeated_window_s = self.window
        return True
