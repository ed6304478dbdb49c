"""Controlled vocabularies: age banding and the shape of the codes themselves."""

import inspect
import re
from enum import StrEnum

import pytest

from mpa_contracts import vocabularies
from mpa_contracts.vocabularies import (
    AgeBand,
    DeclineReason,
    FailureReason,
    PersonalDataField,
    age_band,
    is_child,
)

VOCABULARIES = [
    member
    for _, member in inspect.getmembers(vocabularies, inspect.isclass)
    if issubclass(member, StrEnum) and member is not StrEnum
]


@pytest.mark.parametrize(
    ("age_years", "expected"),
    [
        (0, AgeBand.AGE_0_8),
        (8, AgeBand.AGE_0_8),
        (9, AgeBand.AGE_9_17),
        (17, AgeBand.AGE_9_17),
        (18, AgeBand.AGE_18_20),
        (20, AgeBand.AGE_18_20),
        (21, AgeBand.AGE_21_23),
        (23, AgeBand.AGE_21_23),
        (24, AgeBand.AGE_24_26),
        (26, AgeBand.AGE_24_26),
        (27, AgeBand.AGE_27_29),
        (29, AgeBand.AGE_27_29),
        (30, AgeBand.AGE_30_38),
        (38, AgeBand.AGE_30_38),
        (39, AgeBand.AGE_39_47),
        (47, AgeBand.AGE_39_47),
        (48, AgeBand.AGE_48_PLUS),
        (104, AgeBand.AGE_48_PLUS),
    ],
)
def test_age_band_puts_each_boundary_age_in_its_ctdc_band(
    age_years: int, expected: AgeBand
) -> None:
    assert age_band(age_years) is expected


def test_every_age_band_is_reachable_and_the_bands_are_contiguous() -> None:
    assert {age_band(age) for age in range(120)} == set(AgeBand)


def test_age_band_rejects_a_negative_age() -> None:
    with pytest.raises(ValueError, match="negative"):
        age_band(-1)


def test_only_the_two_youngest_bands_are_children() -> None:
    assert [band for band in AgeBand if is_child(band)] == [AgeBand.AGE_0_8, AgeBand.AGE_9_17]
    assert is_child(age_band(17))
    assert not is_child(age_band(18))


def test_decline_and_failure_reasons_are_one_vocabulary() -> None:
    assert DeclineReason is FailureReason


@pytest.mark.parametrize("vocabulary", VOCABULARIES, ids=lambda v: v.__name__)
def test_codes_are_lower_case_wire_codes_without_spaces(vocabulary: type[StrEnum]) -> None:
    # Codes end up in URLs, metrics labels and reports: keep them plain.
    for member in vocabulary:
        assert re.fullmatch(r"[a-z0-9][a-z0-9_.+-]*", member.value), member


@pytest.mark.parametrize("vocabulary", VOCABULARIES, ids=lambda v: v.__name__)
def test_each_vocabulary_is_documented(vocabulary: type[StrEnum]) -> None:
    assert vocabulary.__doc__
    assert vocabulary.__doc__ != StrEnum.__doc__


def test_personal_data_fields_are_named_section_dot_field() -> None:
    for field in PersonalDataField:
        assert re.fullmatch(r"[a-z]+\.[a-z_]+", field.value), field


def test_a_cases_risk_level_raises_a_needs_urgency_never_lowers_it() -> None:
    from mpa_contracts.vocabularies import RiskLevel, Urgency, urgency_with_risk

    assert urgency_with_risk(Urgency.LOW, RiskLevel.CRITICAL) is Urgency.CRITICAL
    assert urgency_with_risk(Urgency.HIGH, RiskLevel.MEDIUM) is Urgency.HIGH
    assert urgency_with_risk(Urgency.MEDIUM, None) is Urgency.MEDIUM
    assert all(urgency_with_risk(u, RiskLevel.LOW) is u for u in Urgency)
