"""Keeps the message catalogues in step with the code (Babel's extraction and update).

    python -m mpa_console.catalogues update   # extract messages, merge them into each .po
    python -m mpa_console.catalogues check    # fail if a message is new or untranslated

English is the source language; every other language's catalogue must translate every
message. The unit tests run `check`, so a string added to a template without a translation
fails the build instead of showing English to an Arabic or French user.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

PACKAGE = Path(__file__).resolve().parent
LOCALE_DIR = PACKAGE / "locale"
TRANSLATED = ("fr", "ar")
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
METHODS = [
    ("templates/**.html", "jinja2"),
    ("**.py", "python"),
]
OPTIONS = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}


def extract() -> Catalog:
    """Every message the console's templates and code can show."""
    catalog = Catalog(project="mpa-console", fuzzy=False)
    found: Iterable[tuple[str, int, str | tuple[str, ...], list[str], str | None]]
    found = extract_from_dir(PACKAGE, METHODS, OPTIONS, KEYWORDS, strip_comment_tags=True)
    for filename, line, message, comments, context in found:
        catalog.add(message, None, [(filename, line)], auto_comments=comments, context=context)
    return catalog


def _read(language: str) -> Catalog:
    path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as source:
        return read_po(source, locale=language)


def update() -> None:
    template = extract()
    LOCALE_DIR.mkdir(exist_ok=True)
    with (LOCALE_DIR / "messages.pot").open("wb") as out:
        write_po(out, template, omit_header=True, sort_output=True, no_location=True)
    for language in TRANSLATED:
        path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
        path.parent.mkdir(parents=True, exist_ok=True)
        catalog = _read(language) if path.exists() else Catalog(locale=language)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.project, catalog.version = "mpa-console", "0.1.0"
        catalog.copyright_holder = "MPA Referral Platform"
        catalog.language_team = "MPA console"
        catalog.fuzzy = False
        with path.open("wb") as out:
            write_po(out, catalog, sort_output=True, no_location=True, ignore_obsolete=True)


def problems() -> list[str]:
    """What is missing: messages not in a catalogue, or in it without a translation."""
    template = extract()
    found = []
    for language in TRANSLATED:
        catalog = _read(language)
        for message in template:
            if not message.id:
                continue
            translated = catalog.get(message.id, message.context)
            strings = translated.string if translated else None
            missing = not all(strings) if isinstance(strings, tuple | list) else not strings
            if missing:
                found.append(f"{language}: {message.id!r}")
    return found


def main(argv: list[str]) -> int:
    if argv[1:] == ["update"]:
        update()
        return 0
    if argv[1:] == ["check"]:
        missing = problems()
        for line in missing:
            print(f"untranslated: {line}")
        return 1 if missing else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
