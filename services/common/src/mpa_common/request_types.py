"""Field types for what clients send (request bodies, query and path parameters), shared by
every service so that a rule is written once and shows in every OpenAPI document.

Why: PostgreSQL refuses the NUL character in text and integers beyond its columns, and
pydantic's lax mode lets `true` pass as an integer and numbers as date-times. Each of those
answered 500 (or stored nonsense) until the types below were used everywhere:

- `Text`: a string without NUL (the pattern is in the schema). Always give `max_length` at
  the use site: `name: Text = Field(max_length=200)`. A field with a pattern of its own uses
  `str` with a pattern that excludes NUL (`[^\\x00...]`), because a use-site pattern and the
  type's would overwrite each other.
- `Int32`, `Count32`, `Int64`, `Index64`: integers that fit their database columns (INTEGER,
  BIGINT), strict (no booleans, no strings). Do not add `ge`/`le` at the use site of these
  (pydantic keeps the type's bound and drops the use site's on a non-optional field); a field
  with a narrower range uses `StrictInt` with `Field(ge=..., le=...)`.
- `StrictInt`, `StrictBool`: pydantic's strict scalars for body fields.
- `DateTime`, `Date`: RFC 3339 text only (numbers are refused), date-times with a time
  zone and representable in UTC.
- `Time`: a local wall-clock time of day (opening hours), `HH:MM` or `HH:MM:SS` without an
  offset, answered as `HH:MM[:SS]`. Its schema is a pattern, not `format: time`: that format
  is RFC 3339's full-time, which requires an offset, so a document saying it described every
  answer ("08:00:00") as invalid (found by the fuzzer).
- `Int64Param`, `Index64Param`: bounded integers for query and path parameters, whose values
  arrive as text (so not strict); narrow them with `Annotated[Index64Param, Query(ge=1)]`.
- `UniqueList[T]`: a list whose items are distinct (as the contracts' events require: a list
  that passed the request and failed the event it causes was a 500).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    Field,
    PlainSerializer,
    Strict,
    WithJsonSchema,
)
from pydantic import StrictBool as StrictBool
from pydantic import StrictInt as StrictInt

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
NO_NUL_PATTERN = r"^[^\x00]*$"

Text = Annotated[str, Field(pattern=NO_NUL_PATTERN)]

_Item = TypeVar("_Item")


def _distinct(items: list[Any]) -> list[Any]:
    if len(set(items)) != len(items):
        raise ValueError("items must be unique")
    return items


UniqueList = Annotated[
    list[_Item], AfterValidator(_distinct), Field(json_schema_extra={"uniqueItems": True})
]

Int32 = Annotated[int, Strict(), Field(ge=INT32_MIN, le=INT32_MAX)]
Count32 = Annotated[int, Strict(), Field(ge=0, le=INT32_MAX)]
Int64 = Annotated[int, Strict(), Field(ge=INT64_MIN, le=INT64_MAX)]
Index64 = Annotated[int, Strict(), Field(ge=0, le=INT64_MAX)]

Int64Param = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
Index64Param = Annotated[int, Field(ge=0, le=INT64_MAX)]

_NUMBER = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$")


def _refuse_numbers(value: Any) -> Any:
    """Dates and times are RFC 3339 text; pydantic would read a number as a Unix time."""
    if isinstance(value, bool | int | float) or (isinstance(value, str) and _NUMBER.match(value)):
        raise ValueError("must be an RFC 3339 date/time string, not a number")
    return value


def _representable_in_utc(value: datetime) -> datetime:
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValueError("date-time is out of range") from None
    return value


DateTime = Annotated[
    AwareDatetime, BeforeValidator(_refuse_numbers), AfterValidator(_representable_in_utc)
]
Date = Annotated[date, BeforeValidator(_refuse_numbers)]
LOCAL_TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$"


def _local_time_text(value: Any) -> Any:
    if isinstance(value, str) and not re.fullmatch(LOCAL_TIME_PATTERN, value):
        raise ValueError("must be a local time of day, HH:MM or HH:MM:SS, without an offset")
    return value


def _local_time_out(value: time) -> str:
    return value.isoformat(timespec="minutes" if value.second == 0 else "seconds")


Time = Annotated[
    time,
    BeforeValidator(_local_time_text),
    BeforeValidator(_refuse_numbers),
    PlainSerializer(_local_time_out, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": LOCAL_TIME_PATTERN,
            "description": "Local time of day, HH:MM or HH:MM:SS, without an offset",
        }
    ),
]
