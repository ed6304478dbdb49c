"""Keyset pagination: an opaque cursor over the last sort key of a page, and the page that
carries it.

A page is read with `limit + 1` rows in a fixed order (e.g. newest first by `created_at,
id`); the extra row only says that there is a next page. The cursor encodes the sort key of
the page's last row, and the next page is the rows strictly after it in the same order
(`keyset_after`). No offsets: a page costs the same however deep it is, and rows added
meanwhile never shift it. A cursor is opaque to clients but not secret: it holds sort keys
(timestamps, ids), never anything a client did not already see.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import tuple_
from sqlalchemy.sql.elements import ColumnElement

T = TypeVar("T")
KeyPart = datetime | uuid.UUID | int | str


class InvalidCursor(ValueError):
    """A cursor this helper did not make (or made for another ordering)."""


def encode_cursor(*key: KeyPart) -> str:
    parts = [v.isoformat() if isinstance(v, datetime) else v for v in key]
    raw = json.dumps([str(p) if isinstance(p, uuid.UUID) else p for p in parts])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, *types: type[KeyPart]) -> tuple[Any, ...]:
    """The sort key in a cursor, each part read as the type given for it."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        parts = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidCursor("not a cursor") from None
    if not isinstance(parts, list) or len(parts) != len(types):
        raise InvalidCursor("not a cursor of this ordering")
    try:
        return tuple(_read(kind, part) for kind, part in zip(types, parts, strict=True))
    except (TypeError, ValueError):
        raise InvalidCursor("not a cursor of this ordering") from None


def _read(kind: type[KeyPart], part: object) -> KeyPart:
    if kind is datetime and isinstance(part, str):
        moment = datetime.fromisoformat(part)
        if moment.tzinfo is None:
            raise ValueError("a cursor's time has a zone")
        return moment
    if kind is uuid.UUID and isinstance(part, str):
        return uuid.UUID(part)
    if kind is int and isinstance(part, int) and not isinstance(part, bool):
        return part
    if kind is str and isinstance(part, str):
        return part
    raise TypeError(f"not a {kind.__name__}")


def keyset_after(
    columns: Sequence[ColumnElement[Any]], key: Sequence[KeyPart], *, descending: bool
) -> ColumnElement[bool]:
    """The rows strictly after `key` in the order of `columns` (all descending or all
    ascending): a row-value comparison, which an index on the columns serves."""
    row, after = tuple_(*columns), tuple_(*key)
    return row < after if descending else row > after


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None  # None on the last page

    @classmethod
    def of(cls, rows: Sequence[T], limit: int, cursor_of: Callable[[T], str]) -> Page[T]:
        """The page of `rows` read with `limit + 1`; the cursor points after its last item."""
        items = list(rows[:limit])
        more = len(rows) > limit and bool(items)
        return cls(items, cursor_of(items[-1]) if more else None)
