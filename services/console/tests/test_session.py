"""The sealed session cookie: unreadable, unforgeable, and ended by age and idleness."""

from __future__ import annotations

import base64
import os

from cryptography.fernet import Fernet

from mpa_console.web.session import Session, SessionCodec


def key() -> bytes:
    return base64.urlsafe_b64encode(os.urandom(32))


def codec(*keys: bytes, max_age: int = 3600, idle: int = 600) -> SessionCodec:
    return SessionCodec(list(keys), max_age_seconds=max_age, idle_seconds=idle)


def test_a_sealed_session_opens_with_its_key_and_hides_its_contents() -> None:
    k = key()
    session = Session(token="header.payload.signature", roles=["operator"], language="ar")
    sealed = codec(k).seal(session)
    assert "operator" not in sealed
    assert "payload" not in sealed
    opened = codec(k).open(sealed)
    assert opened is not None
    assert opened.token == session.token
    assert opened.roles == ["operator"]
    assert opened.csrf == session.csrf


def test_a_forged_or_altered_cookie_is_no_session() -> None:
    k = key()
    sealed = codec(k).seal(Session(token="t"))
    assert codec(key()).open(sealed) is None
    altered = sealed[:-5] + ("A" if sealed[-5] != "A" else "B") + sealed[-4:]
    assert codec(k).open(altered) is None
    assert codec(k).open("not a cookie") is None
    # A well-sealed payload that is not a session is refused too.
    assert codec(k).open(Fernet(k).encrypt(b'{"unexpected": 1}').decode()) is None


def test_sessions_end_when_too_old_or_idle_or_their_token_expired() -> None:
    k = key()
    session = Session(token="t")
    sealed = codec(k, max_age=100, idle=10).seal(session)
    now = session.created_at
    assert codec(k, max_age=100, idle=10).open(sealed, now=now + 5) is not None
    assert codec(k, max_age=100, idle=10).open(sealed, now=now + 11) is None  # idle
    assert codec(k, max_age=100, idle=1000).open(sealed, now=now + 101) is None  # too old
    expiring = Session(token="t", token_expires_at=now + 3)
    assert codec(k).open(codec(k).seal(expiring), now=now + 4) is None


def test_an_older_key_still_opens_cookies_after_a_rotation() -> None:
    old, new = key(), key()
    sealed = codec(old).seal(Session(token="t"))
    assert codec(new, old).open(sealed) is not None
    assert codec(new).open(sealed) is None


def test_renewal_keeps_only_the_language_and_changes_the_csrf_secret() -> None:
    session = Session(token="t", roles=["partner"], language="fr", partner_id="p")
    renewed = session.renewed()
    assert renewed.language == "fr"
    assert renewed.token is None
    assert renewed.roles == []
    assert renewed.csrf != session.csrf


def test_flash_messages_are_shown_once() -> None:
    session = Session()
    session.flash("The case was registered.")
    assert session.take_flashes() == ["The case was registered."]
    assert session.take_flashes() == []
