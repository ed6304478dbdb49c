"""Languages: gettext message catalogues (Babel), chosen by the user, right to left for Arabic.

Strings live in `locale/<lang>/LC_MESSAGES/messages.po` (English is the source language);
the catalogues are compiled in memory at start-up, so no binary `.mo` file is committed.
`make i18n-check` (and a unit test) fail when a template or label is missing from them.
The language of the current request is held in a context variable, so templates, labels and
formatting helpers all follow it without being handed it.
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

from babel import Locale, negotiate_locale
from babel.dates import format_datetime, format_timedelta
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "messages"
DEFAULT_LANGUAGE = "en"
# The languages offered, each named in itself.
LANGUAGES: dict[str, str] = {"en": "English", "fr": "Français", "ar": "العربية"}
RTL_LANGUAGES = frozenset({"ar"})

_current: ContextVar[str] = ContextVar("console_language", default=DEFAULT_LANGUAGE)


@cache
def translations(language: str) -> gettext.NullTranslations:
    """The compiled catalogue of `language` (English: the messages as written)."""
    path = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if language == DEFAULT_LANGUAGE or not path.exists():
        return gettext.NullTranslations()
    with path.open("rb") as source:
        catalog = read_po(source, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def current_language() -> str:
    return _current.get()


@contextmanager
def language(code: str) -> Iterator[None]:
    token = _current.set(code if code in LANGUAGES else DEFAULT_LANGUAGE)
    try:
        yield
    finally:
        _current.reset(token)


def set_language(code: str) -> None:
    """Sets the language for the rest of this request's context."""
    _current.set(code if code in LANGUAGES else DEFAULT_LANGUAGE)


def choose_language(chosen: str | None, accept_language: str | None) -> str:
    """The user's choice if any, else the best match of the browser's Accept-Language."""
    if chosen in LANGUAGES:
        return chosen
    preferred = []
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().replace("-", "_")
        if tag:
            preferred.append(tag)
    match = negotiate_locale(preferred, list(LANGUAGES), sep="_")
    if match is None:
        # "fr_CA" should still find "fr".
        bases = [tag.split("_")[0].lower() for tag in preferred]
        match = next((b for b in bases if b in LANGUAGES), None)
    return match or DEFAULT_LANGUAGE


def gettext_(message: str) -> str:
    return translations(current_language()).gettext(message)


def ngettext_(singular: str, plural: str, n: int) -> str:
    return translations(current_language()).ngettext(singular, plural, n)


def direction() -> str:
    return "rtl" if current_language() in RTL_LANGUAGES else "ltr"


def _locale() -> Locale:
    return Locale.parse(current_language())


def when(moment: datetime | str | None) -> str:
    """A date and time in the user's language (short form)."""
    if moment is None:
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return format_datetime(moment, format="short", locale=_locale())


def duration(delta: timedelta | float | None) -> str:
    """A length of time such as "3 hours", in the user's language."""
    if delta is None:
        return ""
    seconds = delta.total_seconds() if isinstance(delta, timedelta) else delta
    return format_timedelta(timedelta(seconds=abs(seconds)), locale=_locale(), threshold=1.1)


def number(value: float | int) -> str:
    return format_decimal(value, locale=_locale())


def percent(value: float | None) -> str:
    return "" if value is None else format_percent(value, locale=_locale())
