"""The local time of day (opening hours): what the OpenAPI document promises is what the
service answers. `format: time` is RFC 3339's full-time, which needs an offset, so the
document called every answer ("08:00:00") invalid (found by the fuzzer)."""

from __future__ import annotations

import re
from datetime import time

import pytest
from pydantic import BaseModel, ValidationError

from mpa_common.request_types import LOCAL_TIME_PATTERN, Time


class Hours(BaseModel):
    opens: Time


@pytest.mark.parametrize(
    ("given", "answered"), [("08:00", "08:00"), ("08:00:00", "08:00"), ("17:30:15", "17:30:15")]
)
def test_a_local_time_is_read_as_text_and_answered_in_the_documented_form(
    given: str, answered: str
) -> None:
    hours = Hours.model_validate({"opens": given})
    assert hours.opens == time.fromisoformat(given)
    assert hours.model_dump(mode="json") == {"opens": answered}
    assert re.fullmatch(LOCAL_TIME_PATTERN, answered)
    assert Hours.model_validate({"opens": time(8, 0)}).model_dump(mode="json") == {"opens": "08:00"}


@pytest.mark.parametrize("given", ["08:00:00Z", "08:00+01:00", "8:00", "24:00", 800, True, ""])
def test_offsets_numbers_and_malformed_times_are_refused(given: object) -> None:
    with pytest.raises(ValidationError):
        Hours.model_validate({"opens": given})


def test_the_schema_is_a_pattern_not_rfc3339_full_time() -> None:
    schema = Hours.model_json_schema()["properties"]["opens"]
    assert schema["type"] == "string"
    assert schema["pattern"] == LOCAL_TIME_PATTERN
    assert "format" not in schema
