"""Envelope encryption of personal data, key configuration, keyed matching hashes."""

from __future__ import annotations

import base64
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from pydantic import SecretStr

from mpa_intake.adapters.crypto import (
    KeyConfigurationError,
    MasterKeyring,
    MatchKeyer,
    PersonalDataVault,
    UndecryptableData,
    new_master_key,
    parse_master_keys,
)
from mpa_intake.adapters.keys import master_keyring, match_keyer
from mpa_intake.domain.matching import MatchKind
from mpa_intake.domain.personal_data import PersonalData
from mpa_intake.settings import IntakeSettings

PERSON = PersonalData(given_name="Aïcha", family_name="Exemple", estimated_age=16, phone="+22790")


def _vault(key_id: str) -> PersonalDataVault:
    return PersonalDataVault(MasterKeyring(parse_master_keys(new_master_key(key_id)), key_id))


def test_sealed_data_opens_only_for_its_case_and_hides_the_plaintext() -> None:
    vault = _vault("k1")
    case_id = uuid.uuid4()
    sealed = vault.seal_new(case_id, PERSON)
    assert vault.open(case_id, sealed) == PERSON
    assert b"Exemple" not in sealed.ciphertext
    assert sealed.master_key_id == "k1"
    with pytest.raises(UndecryptableData):
        vault.open(uuid.uuid4(), sealed)  # the case id is associated data
    tampered = bytearray(sealed.ciphertext)
    tampered[-1] ^= 1
    with pytest.raises(UndecryptableData):
        vault.open(case_id, replace(sealed, ciphertext=bytes(tampered)))
    other = vault.seal_new(uuid.uuid4(), PERSON)
    with pytest.raises(UndecryptableData):  # a wrapped key is bound to its case too
        vault.open(case_id, replace(sealed, wrapped_data_key=other.wrapped_data_key))


def test_every_write_uses_a_fresh_nonce_and_the_case_keeps_its_data_key() -> None:
    vault = _vault("k1")
    case_id = uuid.uuid4()
    sealed = vault.seal_new(case_id, PERSON)
    resealed = vault.reseal(case_id, sealed, PERSON)
    assert resealed.wrapped_data_key == sealed.wrapped_data_key
    assert resealed.ciphertext != sealed.ciphertext
    assert vault.open(case_id, resealed) == PERSON


def test_rewrap_moves_the_data_key_to_the_active_master_key() -> None:
    old_key, new_key = new_master_key("old"), new_master_key("new")
    old = PersonalDataVault(MasterKeyring(parse_master_keys(old_key), "old"))
    case_id = uuid.uuid4()
    sealed = old.seal_new(case_id, PERSON)
    rotating = PersonalDataVault(MasterKeyring(parse_master_keys(f"{old_key},{new_key}"), "new"))
    rewrapped = rotating.rewrap(case_id, sealed)
    assert rewrapped.master_key_id == "new"
    assert rewrapped.ciphertext == sealed.ciphertext
    only_new = PersonalDataVault(MasterKeyring(parse_master_keys(new_key), "new"))
    assert only_new.open(case_id, rewrapped) == PERSON
    with pytest.raises(UndecryptableData):
        only_new.open(case_id, sealed)


def test_master_key_configuration_is_checked() -> None:
    with pytest.raises(KeyConfigurationError):
        parse_master_keys("no-separator")
    with pytest.raises(KeyConfigurationError):
        parse_master_keys("k1:not base64!")
    with pytest.raises(KeyConfigurationError):
        MasterKeyring({"k1": b"short"}, "k1")
    with pytest.raises(KeyConfigurationError):
        MasterKeyring(parse_master_keys(new_master_key("k1")), "k2")
    two = f"{new_master_key('a')},{new_master_key('b')}"
    with pytest.raises(KeyConfigurationError):
        master_keyring(IntakeSettings(master_keys=SecretStr(two)))  # which one is active?
    ring = master_keyring(IntakeSettings(master_keys=SecretStr(two), active_master_key="b"))
    assert ring.active_key_id == "b"
    assert ring.key_ids == {"a", "b"}


def test_development_keys_are_created_once_and_refused_in_production(tmp_path: Path) -> None:
    dev = IntakeSettings(local_key_dir=tmp_path)
    first, again = master_keyring(dev), master_keyring(dev)
    assert first.active_key_id == again.active_key_id
    assert (tmp_path / "dev-master-key").stat().st_mode & 0o777 == 0o600
    case_id = uuid.uuid4()
    sealed = PersonalDataVault(first).seal_new(case_id, PERSON)
    assert PersonalDataVault(again).open(case_id, sealed) == PERSON
    assert match_keyer(dev).match_digest(MatchKind.PHONE, "1") == match_keyer(dev).match_digest(
        MatchKind.PHONE, "1"
    )
    production = IntakeSettings(local_key_dir=tmp_path, MPA_ENV="production")
    with pytest.raises(KeyConfigurationError):
        master_keyring(production)
    with pytest.raises(KeyConfigurationError):
        match_keyer(production)


def test_match_digests_depend_on_the_key_and_the_kind() -> None:
    one, other = MatchKeyer(b"1" * 32), MatchKeyer(b"2" * 32)
    digest = one.match_digest(MatchKind.PHONE, "22790000001")
    assert len(digest) == 32
    assert digest == one.match_digest(MatchKind.PHONE, "22790000001")
    assert digest != other.match_digest(MatchKind.PHONE, "22790000001")
    assert digest != one.match_digest(MatchKind.NAME_AND_DATE_OF_BIRTH, "22790000001")
    with pytest.raises(KeyConfigurationError):
        MatchKeyer(base64.b64decode("c2hvcnQ="))
