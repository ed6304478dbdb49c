"""Structured JSON logs on stdout, one object per line, for every service and the CLI.

python-json-logger formats the standard library's records, so uvicorn's, SQLAlchemy's and
aiokafka's loggers come out as JSON too. Personal data must never be passed to a logger:
log ids and codes only.
"""

from __future__ import annotations

import logging
import logging.config
from typing import Any


def configure_logging(service: str, level: str = "INFO") -> None:
    config: dict[str, Any] = {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"service": {"()": ServiceFilter, "service": service}},
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
                "filters": ["service"],
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
