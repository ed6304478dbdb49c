"""Generate the committed contract artefacts from the models, or check them.

    python -m mpa_contracts.generate            # write schemas/*.json and asyncapi.yaml
    python -m mpa_contracts.generate --check    # exit 1 and name every stale file

Artefacts: `schemas/<event type>.json` (JSON Schema 2020-12 of each payload) and
`asyncapi.yaml` (AsyncAPI 3.0.0: topics, messages, CloudEvents headers, Kafka bindings),
both under the contracts directory. Output is byte-identical on every run: sorted JSON
keys, fixed YAML order, no timestamps.
"""

import argparse
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any, Final

import yaml

from mpa_contracts.envelope import (
    CE_HEADER_PREFIX,
    CONTENT_TYPE_HEADER,
    JSON_CONTENT_TYPE,
    SPECVERSION,
    TRACEPARENT_HEADER,
    TRACESTATE_HEADER,
    dataschema_for,
    encode_payload,
)
from mpa_contracts.events.base import ActorEventData, EventData
from mpa_contracts.events.registry import EVENT_TYPES, event_class_for
from mpa_contracts.examples import EXAMPLES
from mpa_contracts.topics import Topic, all_topics
from mpa_contracts.types import (
    ACTOR_ID_PATTERN,
    EVENT_SOURCE_PATTERN,
    EVENT_SUBJECT_PATTERN,
    EVENT_TYPE_PATTERN,
    TRACEPARENT_PATTERN,
    TRACESTATE_PATTERN,
)

CONTRACTS_ROOT: Final = Path(__file__).resolve().parents[2]
SCHEMAS_DIR: Final = "schemas"
ASYNCAPI_FILE: Final = "asyncapi.yaml"
JSON_SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
_PAYLOAD_SCHEMA_FORMAT: Final = "application/schema+json;version=2020-12"
_KAFKA_BINDING_VERSION: Final = "0.5.0"
_HEADERS_SCHEMA: Final = "CloudEventsKafkaHeaders"
_LOCAL_BROKER: Final = "127.0.0.1:9092"


def schema_path(event_type: str) -> str:
    """Path of an event type's schema file, relative to the contracts directory."""
    return f"{SCHEMAS_DIR}/{event_type}.json"


def event_schema(event_class: type[EventData]) -> dict[str, Any]:
    """JSON Schema 2020-12 of one payload class; `$id` is its CloudEvents dataschema."""
    schema = event_class.model_json_schema(mode="validation")
    _drop_field_titles(schema)
    schema["$schema"] = JSON_SCHEMA_DIALECT
    schema["$id"] = dataschema_for(event_class.event_type)
    schema["title"] = event_class.event_type
    return schema


def _drop_field_titles(node: Any) -> None:
    # Pydantic titles every field after its name ("Case Id"): noise that says nothing more.
    if isinstance(node, dict):
        for property_schema in node.get("properties", {}).values():
            property_schema.pop("title", None)
        for child in node.values():
            _drop_field_titles(child)
    elif isinstance(node, list):
        for child in node:
            _drop_field_titles(child)


def _string_schema(pattern: str) -> dict[str, Any]:
    return {"type": "string", "pattern": pattern}


def _headers_schema() -> dict[str, Any]:
    uuid = {"type": "string", "format": "uuid"}
    ce = CE_HEADER_PREFIX
    return {
        "type": "object",
        "description": "CloudEvents 1.0 attributes in Kafka binary content mode, W3C trace context",
        "properties": {
            f"{ce}specversion": {"type": "string", "const": SPECVERSION},
            f"{ce}id": uuid,
            f"{ce}source": _string_schema(EVENT_SOURCE_PATTERN),
            f"{ce}type": _string_schema(EVENT_TYPE_PATTERN),
            f"{ce}time": {"type": "string", "format": "date-time"},
            f"{ce}subject": _string_schema(EVENT_SUBJECT_PATTERN),
            f"{ce}dataschema": {"type": "string", "format": "uri"},
            f"{ce}correlationid": uuid
            | {"description": "Id shared by every event of one story, e.g. a case's"},
            f"{ce}causationid": uuid | {"description": "Id of the event that caused this one"},
            f"{ce}actorid": _string_schema(ACTOR_ID_PATTERN)
            | {"description": "Principal whose action caused the event"},
            CONTENT_TYPE_HEADER: {"type": "string", "const": JSON_CONTENT_TYPE},
            TRACEPARENT_HEADER: _string_schema(TRACEPARENT_PATTERN),
            TRACESTATE_HEADER: _string_schema(TRACESTATE_PATTERN),
        },
        "required": [
            f"{ce}specversion",
            f"{ce}id",
            f"{ce}source",
            f"{ce}type",
            f"{ce}time",
            f"{ce}dataschema",
            f"{ce}correlationid",
            CONTENT_TYPE_HEADER,
        ],
    }


def _message(event_class: type[EventData], topic: Topic) -> dict[str, Any]:
    event_type = event_class.event_type
    specific_headers: dict[str, Any] = {
        "type": "object",
        "properties": {
            f"{CE_HEADER_PREFIX}type": {"const": event_type},
            f"{CE_HEADER_PREFIX}dataschema": {"const": dataschema_for(event_type)},
        },
    }
    if issubclass(event_class, ActorEventData):
        specific_headers["required"] = [f"{CE_HEADER_PREFIX}actorid"]
    message: dict[str, Any] = {
        "name": event_type,
        "title": event_class.__name__,
        "summary": (event_class.__doc__ or "").strip().splitlines()[0],
        "contentType": JSON_CONTENT_TYPE,
        "headers": {
            "allOf": [{"$ref": f"#/components/schemas/{_HEADERS_SCHEMA}"}, specific_headers]
        },
        "payload": {
            "schemaFormat": _PAYLOAD_SCHEMA_FORMAT,
            "schema": {"$ref": f"./{schema_path(event_type)}"},
        },
        "correlationId": {"$ref": "#/components/correlationIds/correlationid"},
        "bindings": {
            "kafka": {
                "key": {
                    "type": "string",
                    "format": "uuid",
                    "description": f"The payload's {topic.key}",
                },
                "bindingVersion": _KAFKA_BINDING_VERSION,
            }
        },
    }
    example = EXAMPLES.get(event_type)
    if example is not None:
        message["examples"] = [
            {
                "name": "example",
                "payload": json.loads(encode_payload(example)),
            }
        ]
    return message


def _channel(topic: Topic) -> dict[str, Any]:
    channel: dict[str, Any] = {"address": topic.name, "description": topic.description}
    if topic.event_types:
        channel["messages"] = {
            event_type: {"$ref": f"#/components/messages/{event_type}"}
            for event_type in topic.event_types
        }
    channel["bindings"] = {
        "kafka": {
            "topic": topic.name,
            "partitions": topic.partitions,
            "topicConfiguration": {
                "cleanup.policy": ["delete"],
                "retention.ms": topic.retention_ms,
            },
            "bindingVersion": _KAFKA_BINDING_VERSION,
        }
    }
    return channel


def _operations(topic: Topic) -> dict[str, Any]:
    messages = [
        {"$ref": f"#/channels/{topic.name}/messages/{event_type}"}
        for event_type in topic.event_types
    ]
    channel = {"$ref": f"#/channels/{topic.name}"}
    return {
        f"{topic.name}.send": {
            "action": "send",
            "channel": channel,
            "summary": f"Publish to {topic.name} (binary mode, key = {topic.key})",
            "messages": messages,
        },
        f"{topic.name}.receive": {
            "action": "receive",
            "channel": channel,
            "summary": f"Consume {topic.name}; a record that fails goes to its dead-letter topic",
            "messages": messages,
        },
    }


def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI 3.0.0 description of every topic and event type."""
    topics = all_topics()
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for topic in topics:
        if topic.is_dead_letter:
            continue
        operations.update(_operations(topic))
        for event_type in topic.event_types:
            messages[event_type] = _message(event_class_for(event_type), topic)
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "MPA Referral Platform events",
            "version": version("mpa-contracts"),
            "description": (
                "Events exchanged over Kafka by the MPA Referral Platform. Each record is a "
                "CloudEvents 1.0 event in binary content mode; payloads carry no personal "
                "data. Generated by `python -m mpa_contracts.generate`; do not edit."
            ),
        },
        "defaultContentType": JSON_CONTENT_TYPE,
        "servers": {
            "local": {
                "host": _LOCAL_BROKER,
                "protocol": "kafka",
                "description": "Local development broker",
            }
        },
        "channels": {topic.name: _channel(topic) for topic in topics},
        "operations": operations,
        "components": {
            "schemas": {_HEADERS_SCHEMA: _headers_schema()},
            "messages": messages,
            "correlationIds": {
                "correlationid": {
                    "description": "CloudEvents correlationid extension",
                    "location": f"$message.header#/{CE_HEADER_PREFIX}correlationid",
                }
            },
        },
    }


def _json_text(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _yaml_text(document: Mapping[str, Any]) -> str:
    return yaml.safe_dump(
        document, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100
    )


def render_artifacts(event_classes: Iterable[type[EventData]] | None = None) -> dict[str, str]:
    """Every artefact's text, by path relative to the contracts directory."""
    classes = EVENT_TYPES.values() if event_classes is None else event_classes
    artifacts = {
        schema_path(event_class.event_type): _json_text(event_schema(event_class))
        for event_class in sorted(classes, key=lambda event_class: event_class.event_type)
    }
    artifacts[ASYNCAPI_FILE] = _yaml_text(asyncapi_document())
    return artifacts


def _stale_schema_files(root: Path, artifacts: Mapping[str, str]) -> list[str]:
    schemas_dir = root / SCHEMAS_DIR
    if not schemas_dir.is_dir():
        return []
    on_disk = {f"{SCHEMAS_DIR}/{path.name}" for path in schemas_dir.glob("*.json")}
    return sorted(on_disk - artifacts.keys())


def differing_artifacts(root: Path, artifacts: Mapping[str, str]) -> list[str]:
    """Paths that are missing, different, or on disk without a model (stale)."""
    differing = [
        relative_path
        for relative_path, text in artifacts.items()
        if not (root / relative_path).is_file()
        or (root / relative_path).read_text(encoding="utf-8") != text
    ]
    return sorted(differing + _stale_schema_files(root, artifacts))


def write_artifacts(root: Path, artifacts: Mapping[str, str]) -> list[str]:
    """Write what differs and delete stale schema files; return the paths touched."""
    touched = differing_artifacts(root, artifacts)
    for relative_path in touched:
        path = root / relative_path
        if relative_path in artifacts:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(artifacts[relative_path], encoding="utf-8")
        else:
            path.unlink()
    return touched


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mpa_contracts.generate", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only compare, exit 1 on drift")
    parser.add_argument("--root", type=Path, help="directory to write to or check")
    arguments = parser.parse_args(argv)
    if arguments.root is None:
        root = CONTRACTS_ROOT
        # From an installed wheel the source tree is not there to write into.
        if not (root / "pyproject.toml").is_file():
            print(f"{root} is not the contracts source directory; pass --root", file=sys.stderr)
            return 2
    else:
        root = arguments.root

    artifacts = render_artifacts()
    if arguments.check:
        differing = differing_artifacts(root, artifacts)
        for relative_path in differing:
            print(f"out of date: {root / relative_path}", file=sys.stderr)
        if differing:
            print("run: python -m mpa_contracts.generate", file=sys.stderr)
            return 1
        print(f"{len(artifacts)} contract artefacts up to date")
        return 0

    for relative_path in write_artifacts(root, artifacts):
        print(f"updated {root / relative_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
