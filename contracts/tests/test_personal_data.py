"""No personal data in any payload, checked field by field on the generated JSON Schemas.

Rules, for every property of every event type, nested objects and array items included:
* a string is an enum/const, a UUID, a date-time, or matches an anchored pattern, and that
  pattern rejects samples of personal data (a name, an e-mail, a phone number, ...);
* no property is named like personal data (name, phone, email, address, note, ...);
* every object is closed (additionalProperties: false), so nothing rides along unnamed.
"""

import re
from collections.abc import Iterator, Mapping
from typing import Annotated, Any
from uuid import UUID

import pytest
from pydantic import Field

from mpa_contracts.events import EVENT_TYPES, EventData
from mpa_contracts.generate import event_schema

# Whole property names, and name parts (split on "_"), that suggest personal data.
DENIED_NAMES = frozenset(
    {"given_name", "family_name", "full_name", "e_mail", "date_of_birth", "free_text", "dob"}
)
DENIED_NAME_PARTS = frozenset(
    {
        "name", "names", "surname", "alias", "aliases",
        "phone", "mobile", "telephone", "whatsapp", "email", "mail",
        "address", "street", "city", "village", "place", "gps", "latitude", "longitude",
        "dob", "birth", "birthday", "birthdate",
        "note", "notes", "comment", "comments", "description", "narrative", "text", "remarks",
        "passport", "photo",
    }
)  # fmt: skip
SAFE_STRING_FORMATS = frozenset({"uuid", "date-time"})
# Values a field must never be able to hold; every pattern must reject all of them.
PERSONAL_DATA_SAMPLES = (
    "Alice",
    "Alice Smith",
    "alice.smith@example.org",
    "+41 79 555 12 34",
    "+41795551234",
    "1990-04-12",
    "12 Rue de la Paix, Agadez",
)


def _resolve(node: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in node:
        target = root["$defs"][node["$ref"].removeprefix("#/$defs/")]
        node = {**{k: v for k, v in node.items() if k != "$ref"}, **target}
    return node


def personal_data_risks(schema: Mapping[str, Any]) -> list[str]:
    """Every property of a payload schema that could carry personal data, as path: problem."""
    return sorted(set(_risks(schema, schema, "")))


def _risks(node: Mapping[str, Any], root: Mapping[str, Any], path: str) -> Iterator[str]:
    node = _resolve(node, root)
    here = path or "<payload>"
    variants = [*node.get("anyOf", ()), *node.get("oneOf", ()), *node.get("allOf", ())]
    for variant in variants:
        yield from _risks(variant, root, path)
    declared = node.get("type")
    types = {declared} if isinstance(declared, str) else set(declared or ())
    if not types and not variants and "enum" not in node and "const" not in node:
        yield f"{here}: untyped value"

    if "object" in types:
        if node.get("additionalProperties") is not False:
            yield f"{here}: object accepts unnamed properties"
        for name, property_schema in node.get("properties", {}).items():
            property_path = f"{path}.{name}" if path else name
            if name.lower() in DENIED_NAMES or set(name.lower().split("_")) & DENIED_NAME_PARTS:
                yield f"{property_path}: name suggests personal data"
            yield from _risks(property_schema, root, property_path)

    if "array" in types:
        if "items" not in node:
            yield f"{here}: array of anything"
        else:
            yield from _risks(node["items"], root, f"{path}[]")

    if "string" in types:
        yield from _string_risks(node, here)


def _string_risks(node: Mapping[str, Any], here: str) -> Iterator[str]:
    if "enum" in node or "const" in node or node.get("format") in SAFE_STRING_FORMATS:
        return
    pattern = node.get("pattern")
    if pattern is None:
        yield f"{here}: unconstrained string"
        return
    if not (pattern.startswith("^") and pattern.endswith("$")):
        yield f"{here}: pattern is not anchored"
    for sample in PERSONAL_DATA_SAMPLES:
        if re.search(pattern, sample):
            yield f"{here}: pattern accepts personal data such as {sample!r}"


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_payload_schema_has_no_place_for_personal_data(event_type: str) -> None:
    risks = personal_data_risks(event_schema(EVENT_TYPES[event_type]))
    assert not risks, f"{event_type}:\n  " + "\n  ".join(risks)


class _LeakyV1(EventData):
    """A payload that breaks every rule, to prove the check above can fail."""

    event_type = "org.mpa.test.leaky.v1"

    case_id: UUID
    given_name: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    remarks: str
    contact_phone: str | None = None
    tags: dict[str, str] = {}
    code: Annotated[str, Field(pattern=r"^.{1,80}$")]
    loose_code: Annotated[str, Field(pattern=r"[A-Z]{2}")]
    aliases: tuple[str, ...] = ()


def test_the_check_names_each_offending_field_of_a_leaky_payload() -> None:
    risks = personal_data_risks(event_schema(_LeakyV1))
    assert "given_name: name suggests personal data" in risks
    assert "remarks: unconstrained string" in risks
    assert "contact_phone: name suggests personal data" in risks
    assert "contact_phone: unconstrained string" in risks
    assert "tags: object accepts unnamed properties" in risks
    assert "code: pattern accepts personal data such as 'Alice Smith'" in risks
    assert "loose_code: pattern is not anchored" in risks
    assert "aliases: name suggests personal data" in risks
    assert "aliases[]: unconstrained string" in risks
    assert not any(risk.startswith("case_id") for risk in risks)
