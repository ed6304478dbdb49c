"""Payload models: registry completeness, invariants, immutability."""

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import pytest
from pydantic import ValidationError

from mpa_contracts.events import EVENT_TYPES, EventData, UnknownEventType, event_class_for
from mpa_contracts.events.case import (
    CaseRegisteredV1,
    Consent,
    Location,
    RoutingProfile,
    SafetyFlags,
)
from mpa_contracts.events.directory import CoverageArea, ServiceCapacityChangedV1
from mpa_contracts.events.referral import (
    REFERRAL_EVENTS,
    REFERRAL_STATE_AFTER,
    ExclusionCount,
    ReferralRoutedV1,
    RoutingCandidate,
    RoutingExplanation,
)
from mpa_contracts.examples import EXAMPLES, example_event
from mpa_contracts.types import EVENT_TYPE_PATTERN
from mpa_contracts.vocabularies import (
    ActorRole,
    AgeBand,
    ConsentGivenBy,
    ConsentMethod,
    ConsentScope,
    ReferralState,
    RoutingExclusionReason,
    SafeContactMethod,
    Sex,
    Vulnerability,
)


def _all_subclasses(cls: type[EventData]) -> set[type[EventData]]:
    found: set[type[EventData]] = set()
    for subclass in cls.__subclasses__():
        found |= {subclass} | _all_subclasses(subclass)
    return found


def _as_dict(model: EventData) -> dict[str, Any]:
    return model.model_dump(mode="python")


def test_every_concrete_payload_class_in_the_package_is_registered() -> None:
    # Tests derive their own subclasses; only the package's classes must be registered.
    package_classes = {
        cls
        for cls in _all_subclasses(EventData)
        if cls.__module__.startswith("mpa_contracts.") and cls.is_concrete()
    }
    assert package_classes == set(EVENT_TYPES.values())


def test_registry_is_keyed_by_each_class_own_type() -> None:
    for event_type, event_class in EVENT_TYPES.items():
        assert event_class.event_type == event_type
        assert re.fullmatch(EVENT_TYPE_PATTERN, event_type)
        assert event_class.__name__.endswith(f"V{event_type.rsplit('.v', 1)[1]}")


def test_every_event_type_has_a_docstring_and_an_example() -> None:
    for event_type, event_class in EVENT_TYPES.items():
        assert event_class.__doc__, event_type
        assert type(example_event(event_type)) is event_class
    assert EXAMPLES.keys() == EVENT_TYPES.keys()


def test_unknown_type_lookup_raises() -> None:
    with pytest.raises(UnknownEventType):
        event_class_for("org.mpa.case.exploded.v1")


def test_a_misspelt_event_type_fails_at_class_definition() -> None:
    with pytest.raises(TypeError, match="event_type"):

        class _Misspelt(EventData):
            event_type = "org.mpa.Case.Registered"


def test_payloads_are_frozen() -> None:
    example = example_event("org.mpa.case.closed.v1")
    with pytest.raises(ValidationError, match="frozen"):
        example.case_id = uuid4()  # type: ignore[attr-defined]


def test_payloads_reject_unknown_properties() -> None:
    payload = _as_dict(example_event("org.mpa.case.closed.v1")) | {"given_name": "Amina"}
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        event_class_for("org.mpa.case.closed.v1").model_validate(payload)


def test_admin_area_must_lie_in_the_country() -> None:
    assert Location(country="NE", admin_area="NE-8").admin_area == "NE-8"
    with pytest.raises(ValidationError, match="subdivision"):
        Location(country="NE", admin_area="ML-8")
    with pytest.raises(ValidationError, match="subdivision"):
        CoverageArea(country="NE", admin_areas=("NE-1", "ML-8"))


@pytest.mark.parametrize(
    "bad_value",
    ["Niger", "ne", "NER", "", "N1"],
)
def test_country_codes_are_two_upper_case_letters(bad_value: str) -> None:
    with pytest.raises(ValidationError):
        Location(country=bad_value)


def test_do_not_contact_forbids_a_direct_contact_channel() -> None:
    SafetyFlags(do_not_contact=True, safe_contact_method=SafeContactMethod.THROUGH_CASEWORKER)
    SafetyFlags(do_not_contact=False, safe_contact_method=SafeContactMethod.SMS)
    with pytest.raises(ValidationError, match="do_not_contact"):
        SafetyFlags(do_not_contact=True, safe_contact_method=SafeContactMethod.SMS)


def test_lists_with_set_meaning_reject_duplicates() -> None:
    with pytest.raises(ValidationError, match="unique"):
        RoutingProfile(
            age_band=AgeBand.AGE_30_38,
            sex=Sex.MALE,
            nationality=None,
            languages=("fr",),
            location=Location(country="LY"),
            vulnerabilities=(Vulnerability.RETURNEE, Vulnerability.RETURNEE),
        )


def test_consent_needs_at_least_one_scope() -> None:
    with pytest.raises(ValidationError, match="scopes"):
        Consent(
            consent_id=uuid4(),
            scopes=(),
            given_by=ConsentGivenBy.SELF,
            method=ConsentMethod.VERBAL,
        )


def test_timestamps_must_be_zone_aware_and_are_normalised_to_utc() -> None:
    base = _as_dict(example_event("org.mpa.case.consent_recorded.v1"))
    consent = base["consent"] | {"expires_at": datetime(2027, 1, 1, 12, 0)}
    with pytest.raises(ValidationError, match="timezone"):
        Consent.model_validate(consent)
    east = timezone(timedelta(hours=3))
    aware = Consent.model_validate(
        base["consent"] | {"expires_at": datetime(2027, 1, 1, 15, tzinfo=east)}
    )
    assert aware.expires_at == datetime(2027, 1, 1, 12, tzinfo=UTC)
    assert aware.expires_at is not None
    assert aware.expires_at.utcoffset() == timedelta(0)


def test_case_reference_and_actor_id_are_pattern_checked() -> None:
    registered = _as_dict(example_event("org.mpa.case.registered.v1"))
    CaseRegisteredV1.model_validate(registered)
    with pytest.raises(ValidationError, match="case_reference"):
        CaseRegisteredV1.model_validate(registered | {"case_reference": "MPA-26-123"})
    with pytest.raises(ValidationError, match="actor_id"):
        CaseRegisteredV1.model_validate(registered | {"actor_id": "operator:amina@example.org"})


def test_routing_explanation_ranks_run_from_one_in_order() -> None:
    candidate = RoutingCandidate(service_id=uuid4(), partner_id=uuid4(), rank=2, score=0.5)
    with pytest.raises(ValidationError, match="ranks"):
        RoutingExplanation(candidates=(candidate,))


def test_routing_exclusion_reasons_are_counted_once_each() -> None:
    count = ExclusionCount(reason=RoutingExclusionReason.NO_CAPACITY, count=1)
    other = ExclusionCount(reason=RoutingExclusionReason.NO_CAPACITY, count=2)
    with pytest.raises(ValidationError, match="once"):
        RoutingExplanation(candidates=(), exclusions=(count, other))


def test_routed_service_must_be_one_of_the_candidates() -> None:
    routed = _as_dict(example_event("org.mpa.referral.routed.v1"))
    ReferralRoutedV1.model_validate(routed)
    with pytest.raises(ValidationError, match="candidates"):
        ReferralRoutedV1.model_validate(routed | {"service_id": UUID(int=7)})


def test_capacity_cannot_exceed_total() -> None:
    changed = _as_dict(example_event("org.mpa.directory.service_capacity_changed.v1"))
    with pytest.raises(ValidationError, match="exceed"):
        ServiceCapacityChangedV1.model_validate(changed | {"available_slots": 13})


def test_every_referral_event_except_bookkeeping_ones_sets_a_fhir_state() -> None:
    without_state = {cls.event_type for cls in REFERRAL_EVENTS if cls not in REFERRAL_STATE_AFTER}
    assert without_state == {
        "org.mpa.referral.sla_breached.v1",
        "org.mpa.referral.consent_override_used.v1",
    }
    # And every state of the lifecycle is reached by some event.
    assert set(REFERRAL_STATE_AFTER.values()) == set(ReferralState)


def test_system_actor_is_allowed_for_automatic_cancellation() -> None:
    cancelled = example_event("org.mpa.referral.cancelled.v1")
    assert cancelled.model_dump()["actor_role"] == ActorRole.SYSTEM


def test_consent_scopes_round_trip_in_order() -> None:
    consent = Consent(
        consent_id=uuid4(),
        scopes=(ConsentScope.DATA_SHARING, ConsentScope.REFERRAL),
        given_by=ConsentGivenBy.PARENT,
        method=ConsentMethod.ELECTRONIC,
    )
    assert Consent.model_validate_json(consent.model_dump_json()) == consent
    assert consent.scopes == (ConsentScope.DATA_SHARING, ConsentScope.REFERRAL)
