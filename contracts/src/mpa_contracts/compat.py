"""Backward-compatibility rules for the JSON Schemas of one event type.

A new schema is backward compatible with an old one when every payload the old schema
accepts, the new one accepts too: consumers on new contracts can still read every event
already on a topic, and the audit copy stays readable. So these are breaking:

* a property removed (payloads forbid unknown properties, so old events would fail);
* a type or format changed, a pattern changed or added, an enum or const narrowed;
* a new required property, or an optional property made required;
* additionalProperties tightened, or a numeric, length or item-count bound tightened.

Adding an optional property, widening an enum or dropping a constraint is compatible.
Patterns are compared as text: whether one regex accepts all another does is undecidable
in general, so any pattern change is reported and needs a person to judge (or a new `.vN`).

Schemas are those pydantic generates: local `$ref`s into `$defs`, `anyOf` for unions.
"""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

Schema = Mapping[str, Any]

_REF_PREFIX: Final = "#/$defs/"
# Keyword -> True when a larger value is stricter (a lower bound), False when looser.
_BOUNDS: Final[Mapping[str, bool]] = {
    "minimum": True,
    "exclusiveMinimum": True,
    "minLength": True,
    "minItems": True,
    "maximum": False,
    "exclusiveMaximum": False,
    "maxLength": False,
    "maxItems": False,
}


class ChangeKind(StrEnum):
    PROPERTY_REMOVED = "property_removed"
    TYPE_CHANGED = "type_changed"
    FORMAT_CHANGED = "format_changed"
    PATTERN_CHANGED = "pattern_changed"
    ENUM_NARROWED = "enum_narrowed"
    REQUIRED_PROPERTY_ADDED = "required_property_added"
    PROPERTY_MADE_REQUIRED = "property_made_required"
    ADDITIONAL_PROPERTIES_TIGHTENED = "additional_properties_tightened"
    CONSTRAINT_TIGHTENED = "constraint_tightened"


@dataclass(frozen=True)
class BreakingChange:
    """One way the new schema rejects payloads the old one accepted."""

    kind: ChangeKind
    path: str  # e.g. "needs[].category"; "" is the payload itself
    detail: str

    def __str__(self) -> str:
        return f"{self.path or '<payload>'}: {self.kind} ({self.detail})"


def breaking_changes(old: Schema, new: Schema) -> list[BreakingChange]:
    """Every breaking change from `old` to `new`; empty when `new` is backward compatible."""
    return list(_Comparison(old, new).compare(old, new, ""))


def _json_types(schema: Schema) -> set[str]:
    declared = schema.get("type")
    if declared is None:
        return set()
    return {declared} if isinstance(declared, str) else set(declared)


def _allowed_values(schema: Schema) -> list[Any] | None:
    if "const" in schema:
        return [schema["const"]]
    enum = schema.get("enum")
    return list(enum) if enum is not None else None


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


class _Comparison:
    def __init__(self, old_root: Schema, new_root: Schema) -> None:
        self._old_root = old_root
        self._new_root = new_root

    def compare(self, old: Schema, new: Schema, path: str) -> Iterator[BreakingChange]:
        old = self._resolve(old, self._old_root)
        new = self._resolve(new, self._new_root)
        old_variants = self._variants(old, self._old_root)
        new_variants = self._variants(new, self._new_root)
        if len(old_variants) > 1 or len(new_variants) > 1:
            yield from self._compare_unions(old_variants, new_variants, path)
            return
        yield from self._compare_types(old, new, path)
        yield from self._compare_scalar_constraints(old, new, path)
        yield from self._compare_objects(old, new, path)
        if "items" in new:
            if "items" in old:
                yield from self.compare(old["items"], new["items"], f"{path}[]")
            else:
                yield BreakingChange(ChangeKind.CONSTRAINT_TIGHTENED, path, "items now constrained")

    def _resolve(self, schema: Schema, root: Schema) -> Schema:
        seen: set[str] = set()
        while "$ref" in schema:
            ref = schema["$ref"]
            if not isinstance(ref, str) or not ref.startswith(_REF_PREFIX) or ref in seen:
                raise ValueError(f"unsupported or cyclic $ref {ref!r}")
            seen.add(ref)
            target = root["$defs"][ref.removeprefix(_REF_PREFIX)]
            # Keywords beside a $ref (e.g. a description) apply too; the $ref's own win.
            schema = {**{k: v for k, v in schema.items() if k != "$ref"}, **target}
        return schema

    def _variants(self, schema: Schema, root: Schema) -> list[Schema]:
        alternatives = schema.get("anyOf") or schema.get("oneOf")
        if alternatives is None:
            return [schema]
        return [self._resolve(alternative, root) for alternative in alternatives]

    def _compare_unions(
        self, old_variants: list[Schema], new_variants: list[Schema], path: str
    ) -> Iterator[BreakingChange]:
        # Each old alternative must still be accepted by a new one: pair it with the new
        # alternative of the same JSON type that it breaks least against.
        for old_variant in old_variants:
            old_types = _json_types(old_variant)
            candidates = [
                variant
                for variant in new_variants
                if not old_types or not _json_types(variant) or old_types & _json_types(variant)
            ]
            if not candidates:
                label = "/".join(sorted(old_types)) or "value"
                yield BreakingChange(ChangeKind.TYPE_CHANGED, path, f"{label} no longer accepted")
                continue
            yield from min(
                (list(self.compare(old_variant, candidate, path)) for candidate in candidates),
                key=len,
            )

    def _compare_types(self, old: Schema, new: Schema, path: str) -> Iterator[BreakingChange]:
        old_types, new_types = _json_types(old), _json_types(new)
        if not new_types:
            return  # no type restriction any more: wider
        if not old_types:
            yield BreakingChange(ChangeKind.TYPE_CHANGED, path, f"now only {sorted(new_types)}")
            return
        if "number" in new_types:
            new_types = new_types | {"integer"}  # every integer is a number
        lost = old_types - new_types
        if lost:
            detail = f"{sorted(lost)} no longer accepted"
            yield BreakingChange(ChangeKind.TYPE_CHANGED, path, detail)

    def _compare_scalar_constraints(
        self, old: Schema, new: Schema, path: str
    ) -> Iterator[BreakingChange]:
        if "format" in new and old.get("format") != new["format"]:
            yield BreakingChange(
                ChangeKind.FORMAT_CHANGED, path, f"{old.get('format')} -> {new['format']}"
            )
        if "pattern" in new and old.get("pattern") != new["pattern"]:
            yield BreakingChange(ChangeKind.PATTERN_CHANGED, path, "pattern added or changed")

        new_values = _allowed_values(new)
        if new_values is not None:
            old_values = _allowed_values(old)
            if old_values is None:
                yield BreakingChange(ChangeKind.ENUM_NARROWED, path, "now restricted to an enum")
            else:
                removed = [value for value in old_values if value not in new_values]
                if removed:
                    yield BreakingChange(ChangeKind.ENUM_NARROWED, path, f"removed {removed}")

        for keyword, larger_is_stricter in _BOUNDS.items():
            if keyword not in new:
                continue
            if keyword not in old:
                yield BreakingChange(ChangeKind.CONSTRAINT_TIGHTENED, path, f"{keyword} added")
            elif (
                new[keyword] != old[keyword] and (new[keyword] > old[keyword]) == larger_is_stricter
            ):
                change = f"{keyword} {old[keyword]} -> {new[keyword]}"
                yield BreakingChange(ChangeKind.CONSTRAINT_TIGHTENED, path, change)
        if new.get("uniqueItems") and not old.get("uniqueItems"):
            yield BreakingChange(ChangeKind.CONSTRAINT_TIGHTENED, path, "uniqueItems added")

    def _compare_objects(self, old: Schema, new: Schema, path: str) -> Iterator[BreakingChange]:
        old_properties: Mapping[str, Schema] = old.get("properties", {})
        new_properties: Mapping[str, Schema] = new.get("properties", {})
        for name, old_property in old_properties.items():
            if name not in new_properties:
                yield BreakingChange(ChangeKind.PROPERTY_REMOVED, _join(path, name), "removed")
            else:
                yield from self.compare(old_property, new_properties[name], _join(path, name))

        old_required = set(old.get("required", ()))
        for name in new.get("required", ()):
            if name in old_required:
                continue
            if name in old_properties:
                yield BreakingChange(
                    ChangeKind.PROPERTY_MADE_REQUIRED, _join(path, name), "was optional"
                )
            else:
                yield BreakingChange(
                    ChangeKind.REQUIRED_PROPERTY_ADDED, _join(path, name), "new and required"
                )

        tightened = old.get("additionalProperties") is not False
        if new.get("additionalProperties") is False and tightened:
            yield BreakingChange(
                ChangeKind.ADDITIONAL_PROPERTIES_TIGHTENED, path, "additional properties forbidden"
            )
