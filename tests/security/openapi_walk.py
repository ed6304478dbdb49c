"""Walks the request side of an OpenAPI document: every schema a client sends (bodies,
query, path and header parameters), with a path naming where it is."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Schema = dict[str, Any]
HTTP_METHODS = ("get", "post", "put", "patch", "delete")


def operations(document: Schema) -> Iterator[tuple[str, str, Schema]]:
    for path, item in document["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                yield method.upper(), path, item[method]


def _resolve(document: Schema, schema: Schema) -> Schema:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    return schema


def leaves(document: Schema, schema: Schema, where: str, seen: frozenset[str] = frozenset()
           ) -> Iterator[tuple[str, Schema]]:  # fmt: skip
    """Every schema node under `schema` (each named by its path), refs resolved once."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return
        seen = seen | {name}
    schema = _resolve(document, schema)
    yield where, schema
    for key in ("anyOf", "oneOf", "allOf"):
        for index, option in enumerate(schema.get(key, [])):
            yield from leaves(document, option, f"{where}|{index}", seen)
    for name, sub in schema.get("properties", {}).items():
        yield from leaves(document, sub, f"{where}.{name}", seen)
    if isinstance(schema.get("items"), dict):
        yield from leaves(document, schema["items"], f"{where}[]", seen)
    if isinstance(schema.get("additionalProperties"), dict):
        yield from leaves(document, schema["additionalProperties"], f"{where}{{}}", seen)


def request_schemas(document: Schema) -> Iterator[tuple[str, Schema]]:
    for method, path, operation in operations(document):
        for parameter in operation.get("parameters", []):
            where = f"{method} {path} {parameter['in']}:{parameter['name']}"
            yield from leaves(document, parameter["schema"], where)
        body = operation.get("requestBody", {}).get("content", {})
        for media in body.values():
            yield from leaves(document, media["schema"], f"{method} {path} body")


def unbounded(document: Schema) -> list[str]:
    """What a client may send without a stated bound (string length, list size, integer
    range) or, for text, without the rule that refuses NUL."""
    problems = []
    for where, schema in request_schemas(document):
        kind = schema.get("type")
        if kind == "string" and not ({"enum", "const", "format"} & set(schema)):
            if "maxLength" not in schema and "pattern" not in schema:
                problems.append(f"{where}: string without maxLength")
            if "pattern" not in schema:
                problems.append(f"{where}: string without a pattern refusing NUL")
        elif kind == "array" and "maxItems" not in schema:
            problems.append(f"{where}: array without maxItems")
        elif kind == "integer" and not ({"minimum", "maximum"} <= set(schema)):
            problems.append(f"{where}: integer without minimum and maximum")
        elif (
            kind == "object"
            and schema.get("additionalProperties") not in (None, False)
            and not ({"maxProperties", "propertyNames"} & set(schema))
        ):
            problems.append(f"{where}: open object without maxProperties")
    return problems
