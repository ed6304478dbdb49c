"""Backward compatibility: the rules themselves, and every committed schema against its history."""

import json
import re
import subprocess
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import pytest
from pydantic import BaseModel, ConfigDict, Field, create_model

from mpa_contracts.compat import BreakingChange, ChangeKind, breaking_changes
from mpa_contracts.events import EVENT_TYPES
from mpa_contracts.events.case import CaseClosedV1, CaseRegisteredV1, RoutingProfile
from mpa_contracts.events.referral import ReferralCancelledV1, ReferralRequestedV1
from mpa_contracts.generate import CONTRACTS_ROOT, SCHEMAS_DIR, event_schema
from mpa_contracts.types import PartnerId
from mpa_contracts.vocabularies import Urgency

Schema = dict[str, Any]


def _schema(model: type[BaseModel]) -> Schema:
    return model.model_json_schema()


def _derive(
    model: type[BaseModel],
    *,
    drop: str | None = None,
    retype: dict[str, Any] | None = None,
    add: dict[str, Any] | None = None,
) -> type[BaseModel]:
    """A copy of `model` with one field dropped, re-typed or added."""
    fields: dict[str, Any] = {
        name: (field.annotation, field)
        for name, field in model.model_fields.items()
        if name != drop
    }
    for name, annotation in (retype or {}).items():
        fields[name] = (annotation, model.model_fields[name])
    fields.update(add or {})
    derived: type[BaseModel] = create_model(
        model.__name__,
        __config__=ConfigDict(frozen=True, extra="forbid"),
        __doc__=model.__doc__,
        **fields,
    )
    return derived


def _kinds_at(changes: list[BreakingChange]) -> set[tuple[ChangeKind, str]]:
    return {(change.kind, change.path) for change in changes}


# --- the rules, on real models ------------------------------------------------------------


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_a_schema_is_compatible_with_itself(event_type: str) -> None:
    schema = event_schema(EVENT_TYPES[event_type])
    assert breaking_changes(schema, schema) == []


def test_an_unchanged_copy_is_compatible_so_the_derivations_below_are_meaningful() -> None:
    assert breaking_changes(_schema(CaseRegisteredV1), _schema(_derive(CaseRegisteredV1))) == []


def test_removing_a_property_breaks() -> None:
    changes = breaking_changes(_schema(CaseClosedV1), _schema(_derive(CaseClosedV1, drop="reason")))
    assert _kinds_at(changes) == {(ChangeKind.PROPERTY_REMOVED, "reason")}


def test_adding_a_required_property_breaks() -> None:
    derived = _derive(CaseClosedV1, add={"reopen_count": (int, ...)})
    changes = breaking_changes(_schema(CaseClosedV1), _schema(derived))
    assert _kinds_at(changes) == {(ChangeKind.REQUIRED_PROPERTY_ADDED, "reopen_count")}


def test_adding_an_optional_property_is_compatible() -> None:
    derived = _derive(CaseClosedV1, add={"reopen_count": (int | None, None)})
    assert breaking_changes(_schema(CaseClosedV1), _schema(derived)) == []


def test_narrowing_an_enum_breaks_and_names_the_removed_value() -> None:
    narrowed = StrEnum("Urgency", [(u.name, u.value) for u in Urgency if u is not Urgency.LOW])  # type: ignore[misc]
    derived = _derive(ReferralRequestedV1, retype={"urgency": narrowed})
    changes = breaking_changes(_schema(ReferralRequestedV1), _schema(derived))
    assert _kinds_at(changes) == {(ChangeKind.ENUM_NARROWED, "urgency")}
    assert "'low'" in changes[0].detail


def test_widening_an_enum_is_compatible() -> None:
    widened = StrEnum("Urgency", [*((u.name, u.value) for u in Urgency), ("LIFE", "life")])  # type: ignore[misc]
    derived = _derive(ReferralRequestedV1, retype={"urgency": widened})
    assert breaking_changes(_schema(ReferralRequestedV1), _schema(derived)) == []


def test_making_an_optional_property_required_breaks() -> None:
    derived = _derive(ReferralCancelledV1, drop="partner_id", add={"partner_id": (PartnerId, ...)})
    changes = breaking_changes(_schema(ReferralCancelledV1), _schema(derived))
    assert (ChangeKind.PROPERTY_MADE_REQUIRED, "partner_id") in _kinds_at(changes)
    assert (ChangeKind.TYPE_CHANGED, "partner_id") in _kinds_at(changes)  # null refused


def test_a_change_deep_inside_a_nested_model_is_found_through_refs() -> None:
    profile = _derive(RoutingProfile, drop="vulnerabilities")
    derived = _derive(CaseRegisteredV1, retype={"profile": profile})
    changes = breaking_changes(_schema(CaseRegisteredV1), _schema(derived))
    assert _kinds_at(changes) == {(ChangeKind.PROPERTY_REMOVED, "profile.vulnerabilities")}


def test_changing_a_pattern_or_a_type_breaks() -> None:
    repatterned = _derive(
        CaseRegisteredV1,
        retype={"case_reference": Annotated[str, Field(pattern=r"^IOM-[0-9]{6}$")]},
    )
    changes = breaking_changes(_schema(CaseRegisteredV1), _schema(repatterned))
    assert _kinds_at(changes) == {(ChangeKind.PATTERN_CHANGED, "case_reference")}

    retyped = _derive(CaseClosedV1, retype={"reason": int})
    changes = breaking_changes(_schema(CaseClosedV1), _schema(retyped))
    assert (ChangeKind.TYPE_CHANGED, "reason") in _kinds_at(changes)


# --- the rules, on hand-written schemas ---------------------------------------------------


def _object(properties: Schema, *, required: list[str] | None = None, **extra: Any) -> Schema:
    return {"type": "object", "properties": properties, "required": required or [], **extra}


def test_tightening_additional_properties_breaks() -> None:
    old = _object({"a": {"type": "string", "format": "uuid"}})
    new = _object({"a": {"type": "string", "format": "uuid"}}, additionalProperties=False)
    assert _kinds_at(breaking_changes(old, new)) == {
        (ChangeKind.ADDITIONAL_PROPERTIES_TIGHTENED, "")
    }
    assert breaking_changes(new, old) == []


def test_changing_a_format_breaks_and_dropping_one_does_not() -> None:
    old = _object({"at": {"type": "string", "format": "date-time"}})
    new = _object({"at": {"type": "string", "format": "uuid"}})
    assert _kinds_at(breaking_changes(old, new)) == {(ChangeKind.FORMAT_CHANGED, "at")}
    assert breaking_changes(old, _object({"at": {"type": "string"}})) == []


@pytest.mark.parametrize(
    ("old_bounds", "new_bounds", "breaks"),
    [
        ({"minItems": 1}, {"minItems": 2}, True),
        ({"minItems": 2}, {"minItems": 1}, False),
        ({"maxItems": 20}, {"maxItems": 10}, True),
        ({"maxItems": 10}, {"maxItems": 20}, False),
        ({}, {"maxItems": 20}, True),
        ({"maxItems": 20}, {}, False),
        ({}, {"uniqueItems": True}, True),
    ],
)
def test_bounds(old_bounds: Schema, new_bounds: Schema, breaks: bool) -> None:
    old = _object({"xs": {"type": "array", "items": {"type": "integer"}, **old_bounds}})
    new = _object({"xs": {"type": "array", "items": {"type": "integer"}, **new_bounds}})
    kinds = _kinds_at(breaking_changes(old, new))
    assert kinds == ({(ChangeKind.CONSTRAINT_TIGHTENED, "xs")} if breaks else set())


def test_integer_may_widen_to_number_but_not_back() -> None:
    integer = _object({"n": {"type": "integer"}})
    number = _object({"n": {"type": "number"}})
    assert breaking_changes(integer, number) == []
    assert _kinds_at(breaking_changes(number, integer)) == {(ChangeKind.TYPE_CHANGED, "n")}


def test_array_items_are_compared() -> None:
    old = _object({"xs": {"type": "array", "items": {"enum": ["a", "b"], "type": "string"}}})
    new = _object({"xs": {"type": "array", "items": {"enum": ["a"], "type": "string"}}})
    assert _kinds_at(breaking_changes(old, new)) == {(ChangeKind.ENUM_NARROWED, "xs[]")}


# --- committed schemas against their git history -----------------------------------------


def _git(repo: Path, *args: str) -> str:
    # check=True and no fallback: without git these tests fail loudly, never pass vacuously.
    completed = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    )
    return completed.stdout


def history_breaks(repo_root: Path, relative_path: str, current: Schema) -> list[str]:
    """Breaking changes from every committed version of a schema file to `current`."""
    problems = []
    for commit in _git(repo_root, "log", "--format=%H", "--", relative_path).split():
        earlier = json.loads(_git(repo_root, "show", f"{commit}:{relative_path}"))
        problems += [f"since {commit[:10]}: {c}" for c in breaking_changes(earlier, current)]
    return problems


REPO_ROOT = Path(_git(CONTRACTS_ROOT, "rev-parse", "--show-toplevel").strip())
COMMITTED_SCHEMAS = sorted((CONTRACTS_ROOT / SCHEMAS_DIR).glob("*.json"))


def test_git_history_is_readable() -> None:
    assert re.fullmatch(r"[0-9a-f]{40}", _git(REPO_ROOT, "rev-parse", "HEAD").strip())
    assert (REPO_ROOT / "contracts" / SCHEMAS_DIR).resolve() == (
        CONTRACTS_ROOT / SCHEMAS_DIR
    ).resolve()


def test_there_are_committed_schemas_to_check() -> None:
    assert len(COMMITTED_SCHEMAS) == len(EVENT_TYPES)


@pytest.mark.parametrize("schema_file", COMMITTED_SCHEMAS, ids=lambda path: path.name)
def test_every_earlier_version_of_a_schema_is_backward_compatible(schema_file: Path) -> None:
    relative = schema_file.resolve().relative_to(REPO_ROOT.resolve()).as_posix()
    current = json.loads(schema_file.read_text(encoding="utf-8"))
    problems = history_breaks(REPO_ROOT, relative, current)
    assert not problems, (
        f"{relative} breaks consumers; publish a new .vN event type instead:\n  "
        + "\n  ".join(problems)
    )


def test_the_history_check_catches_a_breaking_edit_of_a_committed_schema(tmp_path: Path) -> None:
    _git(tmp_path, "init", "--quiet")
    relative = f"{SCHEMAS_DIR}/org.mpa.case.closed.v1.json"
    (tmp_path / SCHEMAS_DIR).mkdir()
    (tmp_path / relative).write_text(json.dumps(event_schema(CaseClosedV1)), encoding="utf-8")
    _git(tmp_path, "add", relative)
    _git(
        tmp_path,
        "-c", "user.name=contracts-test", "-c", "user.email=contracts-test@example.invalid",
        "-c", "commit.gpgsign=false",
        "commit", "--quiet", "-m", "v1 schema",
    )  # fmt: skip

    assert history_breaks(tmp_path, relative, event_schema(CaseClosedV1)) == []
    broken = _schema(_derive(CaseClosedV1, drop="reason"))
    problems = history_breaks(tmp_path, relative, broken)
    assert len(problems) == 1
    assert "reason: property_removed" in problems[0]
