"""Domain rules of intake: ages, matching material, disclosure to partners, consent, cases."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from mpa_contracts.events.case import SafetyFlags
from mpa_contracts.vocabularies import (
    AgeBand,
    CaseClosureReason,
    CaseScope,
    ConsentGivenBy,
    ConsentMethod,
    ConsentScope,
    ErasureBasis,
    NeedCategory,
    PersonalDataField,
    SafeContactMethod,
    Vulnerability,
)
from mpa_intake.domain.case import Case, CaseStatus, profile_rule_errors, routing_profile
from mpa_intake.domain.consent import ConsentRecord, consent_rule_errors
from mpa_intake.domain.disclosure import partner_fields
from mpa_intake.domain.errors import CaseConflict, PersonalDataErased
from mpa_intake.domain.matching import MatchKind, match_material, normalise_name, normalise_phone
from mpa_intake.domain.ownership import Ownership, Viewer, within
from mpa_intake.domain.personal_data import PersonalData, age_band_of, age_in_years

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
F = PersonalDataField


def _person(**changes: object) -> PersonalData:
    values: dict[str, object] = {
        "given_name": "Aïcha",
        "family_name": "Exemple",
        "date_of_birth": date(2009, 4, 17),
        "phone": "+227 90 00 00 01",
        "email": "a@example.org",
        "place": "Transit centre",
        "safe_contact_details": "after 18:00",
    }
    values.update(changes)
    return PersonalData.model_validate(values)


def _consent(**changes: object) -> ConsentRecord:
    values: dict[str, object] = {
        "consent_id": uuid.uuid4(),
        "scopes": (ConsentScope.REFERRAL, ConsentScope.DATA_SHARING),
        "given_by": ConsentGivenBy.SELF,
        "method": ConsentMethod.VERBAL,
        "obtained_by": "operator:u-1",
        "obtained_at": NOW - timedelta(hours=1),
        "recorded_at": NOW,
    }
    values.update(changes)
    return ConsentRecord.model_validate(values)


def test_age_counts_completed_years() -> None:
    assert age_in_years(date(2008, 3, 3), date(2026, 3, 2)) == 17
    assert age_in_years(date(2008, 3, 2), date(2026, 3, 2)) == 18
    assert age_band_of(_person(), date(2026, 3, 2)) is AgeBand.AGE_9_17
    assert (
        age_band_of(_person(date_of_birth=None, estimated_age=40), NOW.date()) is AgeBand.AGE_39_47
    )


def test_names_match_across_case_accents_spacing_and_order() -> None:
    assert normalise_name("Aïcha", "Exemple") == normalise_name(" EXEMPLE ", "aicha")
    assert normalise_name("Jean-Luc", "N'Diaye") == "diaye jean luc n"
    assert normalise_phone("+227 90 00 00 01") == normalise_phone("00227-90-00-00-01")


def test_match_material_needs_a_date_of_birth_for_the_name_key() -> None:
    assert set(match_material(_person())) == {MatchKind.NAME_AND_DATE_OF_BIRTH, MatchKind.PHONE}
    estimated = _person(date_of_birth=None, estimated_age=16, phone=None)
    assert match_material(estimated) == {}


def test_partners_get_the_phone_only_when_it_is_the_safe_channel() -> None:
    sms = SafetyFlags(do_not_contact=False, safe_contact_method=SafeContactMethod.SMS)
    shelter = partner_fields([NeedCategory.SHELTER], sms)
    assert {F.PERSON_GIVEN_NAME, F.PERSON_PHONE, F.LOCATION_PLACE, F.NEEDS_NOTE} <= shelter
    assert F.PERSON_EMAIL not in shelter
    hidden = SafetyFlags(do_not_contact=True, safe_contact_method=SafeContactMethod.NONE)
    food = partner_fields([NeedCategory.FOOD], hidden)
    # "No contact": not even the safe-contact details; the partner goes through the caseworker.
    assert food == {F.PERSON_GIVEN_NAME, F.PERSON_FAMILY_NAME, F.LOCATION_PLACE}
    email = SafetyFlags(do_not_contact=False, safe_contact_method=SafeContactMethod.EMAIL)
    assert F.PERSON_EMAIL in partner_fields([NeedCategory.CASH], email)


def test_restricted_copy_keeps_names_and_only_the_referred_needs_notes() -> None:
    kept, other = uuid.uuid4(), uuid.uuid4()
    person = _person(need_notes={kept: "tonight", other: "papers"})
    restricted = person.restricted_to({F.PERSON_GIVEN_NAME, F.NEEDS_NOTE}, {kept})
    assert restricted.family_name == "Exemple"  # names are always part of a disclosure
    assert restricted.phone is None
    assert restricted.date_of_birth is None
    assert restricted.need_notes == {kept: "tonight"}
    assert restricted.present_fields() == {F.PERSON_GIVEN_NAME, F.PERSON_FAMILY_NAME, F.NEEDS_NOTE}


def test_a_child_cannot_consent_alone_and_consent_is_not_from_the_future() -> None:
    errors = consent_rule_errors(
        _consent(obtained_at=NOW + timedelta(minutes=5)), AgeBand.AGE_9_17, field="c", now=NOW
    )
    assert [e.field for e in errors] == ["c.given_by", "c.obtained_at"]
    guardian = _consent(given_by=ConsentGivenBy.LEGAL_GUARDIAN)
    assert consent_rule_errors(guardian, AgeBand.AGE_9_17, field="c", now=NOW) == []


def test_consent_sharing_respects_scope_expiry_and_refusals() -> None:
    refused = uuid.uuid4()
    consent = _consent(refused_partner_ids=(refused,), expires_at=NOW + timedelta(days=1))
    assert consent.allows_sharing_with(uuid.uuid4(), NOW)
    assert not consent.allows_sharing_with(refused, NOW)
    assert not consent.allows_sharing_with(uuid.uuid4(), NOW + timedelta(days=2))
    narrowed = consent.withdraw((ConsentScope.DATA_SHARING,))
    assert not narrowed.allows_sharing_with(uuid.uuid4(), NOW)
    with pytest.raises(CaseConflict):
        narrowed.withdraw((ConsentScope.DATA_SHARING,))
    assert narrowed.withdraw((ConsentScope.REFERRAL,)).as_contract() is None


def test_child_vulnerabilities_need_a_child() -> None:
    def profile(band: AgeBand) -> object:
        return routing_profile(
            band=band,
            sex="female",
            nationality=None,
            languages=("ha",),
            country="NE",
            admin_area=None,
            vulnerabilities=(Vulnerability.SEPARATED_CHILD,),
        )

    assert [e.field for e in profile_rule_errors(profile(AgeBand.AGE_18_20), field="v")] == ["v"]  # type: ignore[arg-type]
    assert profile_rule_errors(profile(AgeBand.AGE_9_17), field="v") == []  # type: ignore[arg-type]


def test_case_lifecycle_guards() -> None:
    case = Case(
        case_id=uuid.uuid4(),
        reference="MPA-2026-000001",
        status=CaseStatus.OPEN,
        correlation_id=uuid.uuid4(),
        profile=routing_profile(
            band=AgeBand.AGE_30_38,
            sex="male",
            nationality="ML",
            languages=("fr",),
            country="NE",
            admin_area="NE-8",
            vulnerabilities=(),
        ),
        safety=SafetyFlags(do_not_contact=False, safe_contact_method=SafeContactMethod.PHONE_CALL),
        needs=[],
        consent=None,
        registered_at=NOW,
        registered_by="operator:u-1",
        ownership=Ownership("operator:u-1", None, None, "NE"),
        updated_at=NOW,
    )
    with pytest.raises(CaseConflict):
        case.withdraw_consent((ConsentScope.REFERRAL,), NOW)
    case.close(CaseClosureReason.NEEDS_MET, NOW)
    with pytest.raises(CaseConflict):
        case.close(CaseClosureReason.OTHER, NOW)
    case.erase(ErasureBasis.DATA_SUBJECT_REQUEST, NOW)
    with pytest.raises(PersonalDataErased):
        case.ensure_not_erased()


def test_scopes_reach_own_team_agency_country_or_all() -> None:
    owned = Ownership("caseworker:b", "ne-niamey-cm", "iom-ne", "NE")
    same_team = Viewer("caseworker:a", "ne-niamey-cm", "iom-ne", "NE")
    same_agency = Viewer("caseworker:a", "ne-agadez-cm", "iom-ne", "NE")
    same_country = Viewer("caseworker:a", "ne-zinder", "unhcr-ne", "NE")
    abroad = Viewer("caseworker:a", "ml-gao-cm", "iom-ml", "ML")
    owner = Viewer("caseworker:b")
    assert [within(s, owned, same_team) for s in CaseScope] == [False, True, True, True, True]
    assert [within(s, owned, same_agency) for s in CaseScope] == [False, False, True, True, True]
    assert [within(s, owned, same_country) for s in CaseScope] == [False, False, False, True, True]
    assert [within(s, owned, abroad) for s in CaseScope] == [False, False, False, False, True]
    assert all(within(s, owned, owner) for s in CaseScope)  # one's own, always
    # No unit in the token: no reach beyond one's own, not a wildcard.
    assert not within(CaseScope.TEAM, Ownership("caseworker:b", None, None, "NE"), Viewer("x:y"))
