"""The intake API's public contract: documented fields, validation that names fields."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from mpa_intake.adapters.crypto import new_master_key
from mpa_intake.app.commands import PersonInput, RegisterCase, SafetyInput, UpdateCase
from mpa_intake.main import create_app
from mpa_intake.settings import IntakeSettings


def _openapi() -> dict[str, Any]:
    settings = IntakeSettings(
        master_keys=SecretStr(new_master_key("doc")),
        matching_key=SecretStr(base64.b64encode(b"k" * 32).decode()),
    )
    return create_app(settings).openapi()


def _undocumented(
    doc: dict[str, Any], schema: dict[str, Any], path: str, seen: set[str]
) -> list[str]:
    """Properties under `schema` lacking a description, or examples unless they are models
    (whose own properties are then checked)."""
    schemas = doc["components"]["schemas"]

    def refs_in(node: dict[str, Any]) -> list[str]:
        refs = [node["$ref"].rsplit("/", 1)[1]] if "$ref" in node else []
        for key in ("anyOf", "oneOf", "allOf"):
            for option in node.get(key, ()):
                refs += refs_in(option)
        if "items" in node:
            refs += refs_in(node["items"])
        return refs

    def models_in(node: dict[str, Any]) -> list[str]:
        return [name for name in refs_in(node) if "properties" in schemas[name]]

    missing: list[str] = []
    for name, prop in schema.get("properties", {}).items():
        where = f"{path}.{name}"
        models = models_in(prop)
        if "description" not in prop:
            missing.append(f"{where}: description")
        if not models and "examples" not in prop:
            missing.append(f"{where}: examples")
        for model in models:
            if model not in seen:
                seen.add(model)
                missing += _undocumented(doc, schemas[model], model, seen)
    return missing


def test_every_request_field_has_a_description_and_an_example() -> None:
    doc = _openapi()
    missing: list[str] = []
    checked = 0
    for route, operations in doc["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", ()):
                checked += 1
                example = "examples" in parameter or "examples" in parameter.get("schema", {})
                # An opaque cursor and a page size explain themselves without an example.
                if "description" not in parameter or (
                    not example and parameter["name"] not in {"cursor", "limit"}
                ):
                    missing.append(f"{method} {route} {parameter['name']}")
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                checked += 1
                missing += _undocumented(
                    doc,
                    {"properties": {"body": {"description": "-", **body["schema"]}}},
                    f"{method} {route}",
                    set(),
                )
    assert checked > 10
    assert missing == []


def test_problem_answers_are_documented() -> None:
    operation = _openapi()["paths"]["/v1/cases/{case_id}"]["get"]
    assert {"401", "403", "404", "410"} <= set(operation["responses"])


def test_validation_names_fields_without_echoing_values() -> None:
    with pytest.raises(ValidationError) as both:
        PersonInput.model_validate(
            {
                "given_name": "Aïcha",
                "family_name": "Exemple",
                "date_of_birth": "2009-04-17",
                "estimated_age": 16,
                "sex": "female",
                "languages": ["ha", "ha"],
            }
        )
    assert [e["loc"] for e in both.value.errors()] == [("languages",)]
    with pytest.raises(ValidationError) as unsafe:
        SafetyInput.model_validate({"do_not_contact": True, "safe_contact_method": "sms"})
    assert "do_not_contact" in unsafe.value.errors()[0]["msg"]
    with pytest.raises(ValidationError):
        UpdateCase.model_validate({})
    with pytest.raises(ValidationError):
        UpdateCase.model_validate({"person": {"given_name": None}})
    with pytest.raises(ValidationError) as extra:
        RegisterCase.model_validate({"unknown": 1})
    assert ("unknown",) in [e["loc"] for e in extra.value.errors()]


@pytest.mark.parametrize("date_of_birth", ["7363-08-06", "2999-01-01", "1800-05-01"])
def test_an_impossible_date_of_birth_is_refused_as_the_request_is_read(
    date_of_birth: str,
) -> None:
    """A birth date in the future made the age negative and the registration a 500 (found by
    the fuzzer in CI); one older than any estimated age is as impossible."""
    person = {
        "given_name": "Aïcha",
        "family_name": "Exemple",
        "date_of_birth": date_of_birth,
        "sex": "female",
        "languages": ["ha"],
    }
    with pytest.raises(ValidationError) as refused:
        PersonInput.model_validate(person)
    assert [e["loc"] for e in refused.value.errors()] == [("date_of_birth",)]
    assert date_of_birth not in str(refused.value.errors()[0]["msg"])
    with pytest.raises(ValidationError):
        UpdateCase.model_validate({"person": {"date_of_birth": date_of_birth}})
    assert PersonInput.model_validate({**person, "date_of_birth": "2009-04-17"})
