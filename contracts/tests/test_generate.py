"""Generated artefacts: committed == generated, deterministic, and drift is caught."""

import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import yaml

from mpa_contracts.envelope import (
    InvalidEvent,
    dataschema_for,
    from_kafka_record,
    new_envelope,
    to_kafka_record,
)
from mpa_contracts.events import EVENT_TYPES
from mpa_contracts.events.case import CaseClosedV1
from mpa_contracts.examples import example_event
from mpa_contracts.generate import (
    ASYNCAPI_FILE,
    CONTRACTS_ROOT,
    JSON_SCHEMA_DIALECT,
    differing_artifacts,
    main,
    render_artifacts,
    schema_path,
    write_artifacts,
)
from mpa_contracts.topics import MAIN_TOPICS, all_topics


@pytest.fixture(scope="module")
def artifacts() -> dict[str, str]:
    return render_artifacts()


def test_committed_artefacts_match_the_models(artifacts: dict[str, str]) -> None:
    differing = differing_artifacts(CONTRACTS_ROOT, artifacts)
    assert not differing, f"run `python -m mpa_contracts.generate`; out of date: {differing}"


def test_generation_is_byte_identical_across_processes(
    tmp_path: Path, artifacts: dict[str, str]
) -> None:
    # Different hash seeds shake out any dependence on set or dict-of-set ordering.
    outputs = []
    for seed in ("1", "2"):
        root = tmp_path / seed
        root.mkdir()
        subprocess.run(
            [sys.executable, "-m", "mpa_contracts.generate", "--root", str(root)],
            check=True,
            capture_output=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        outputs.append(
            {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()}
        )
    assert outputs[0] == outputs[1]
    assert {path.as_posix(): data.decode() for path, data in outputs[0].items()} == artifacts


class _CaseClosedWithExtraField(CaseClosedV1):
    """A case was closed; its open referrals are cancelled."""

    reopen_count: int | None = None


def test_a_model_change_shows_up_as_drift_in_exactly_its_schema(
    tmp_path: Path, artifacts: dict[str, str]
) -> None:
    write_artifacts(tmp_path, artifacts)
    altered = [
        _CaseClosedWithExtraField if cls is CaseClosedV1 else cls for cls in EVENT_TYPES.values()
    ]
    assert differing_artifacts(tmp_path, render_artifacts(altered)) == [
        schema_path("org.mpa.case.closed.v1")
    ]


def test_check_mode_exits_non_zero_and_names_every_differing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--root", str(tmp_path)]) == 0
    assert main(["--check", "--root", str(tmp_path)]) == 0
    capsys.readouterr()

    changed = tmp_path / schema_path("org.mpa.referral.routed.v1")
    changed.write_text(changed.read_text() + " ", encoding="utf-8")
    missing = tmp_path / schema_path("org.mpa.case.closed.v1")
    missing.unlink()
    stale = tmp_path / schema_path("org.mpa.case.closed.v0")
    stale.write_text("{}\n", encoding="utf-8")

    assert main(["--check", "--root", str(tmp_path)]) == 1
    report = capsys.readouterr().err
    for path in (changed, missing, stale):
        assert str(path) in report
    assert "asyncapi.yaml" not in report

    assert main(["--root", str(tmp_path)]) == 0
    assert not stale.exists()
    assert main(["--check", "--root", str(tmp_path)]) == 0


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_schema_file_is_a_2020_12_schema_with_the_dataschema_as_id(
    event_type: str, artifacts: dict[str, str]
) -> None:
    text = artifacts[schema_path(event_type)]
    schema = json.loads(text)
    assert schema["$schema"] == JSON_SCHEMA_DIALECT
    assert schema["$id"] == dataschema_for(event_type)
    assert schema["title"] == event_type
    assert schema["description"]
    assert schema["additionalProperties"] is False
    assert text.endswith("}\n")
    assert text == json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@pytest.fixture(scope="module")
def asyncapi(artifacts: dict[str, str]) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(artifacts[ASYNCAPI_FILE])
    return document


def test_asyncapi_describes_the_local_broker_and_every_topic(asyncapi: dict[str, Any]) -> None:
    document = asyncapi
    assert document["asyncapi"] == "3.0.0"
    assert document["info"]["version"] == version("mpa-contracts")
    assert document["servers"]["local"] == {
        "host": "127.0.0.1:9092",
        "protocol": "kafka",
        "description": "Local development broker",
    }
    channels = document["channels"]
    assert list(channels) == [topic.name for topic in all_topics()]
    for topic in all_topics():
        binding = channels[topic.name]["bindings"]["kafka"]
        assert binding["partitions"] == topic.partitions
        assert binding["topicConfiguration"]["retention.ms"] == topic.retention_ms
        assert list(channels[topic.name].get("messages", {})) == list(topic.event_types)


def test_asyncapi_messages_reference_the_schema_files_and_carry_headers_and_key(
    asyncapi: dict[str, Any],
) -> None:
    messages = asyncapi["components"]["messages"]
    assert set(messages) == set(EVENT_TYPES)
    for event_type, message in messages.items():
        reference = message["payload"]["schema"]["$ref"]
        assert reference == f"./{schema_path(event_type)}"
        assert (CONTRACTS_ROOT / reference).is_file()
        assert message["bindings"]["kafka"]["key"]["format"] == "uuid"
        specific = message["headers"]["allOf"][1]["properties"]
        assert specific["ce_type"] == {"const": event_type}
        assert message["examples"][0]["payload"]


def test_asyncapi_has_a_send_and_a_receive_operation_per_main_topic(
    asyncapi: dict[str, Any],
) -> None:
    operations = asyncapi["operations"]
    for topic in MAIN_TOPICS:
        assert operations[f"{topic.name}.send"]["action"] == "send"
        assert operations[f"{topic.name}.receive"]["action"] == "receive"
        assert operations[f"{topic.name}.send"]["channel"] == {"$ref": f"#/channels/{topic.name}"}
        assert len(operations[f"{topic.name}.send"]["messages"]) == len(topic.event_types)


def test_asyncapi_required_headers_are_exactly_those_the_reader_requires(
    asyncapi: dict[str, Any],
) -> None:
    headers_schema = asyncapi["components"]["schemas"]["CloudEventsKafkaHeaders"]
    required = set(headers_schema["required"])
    envelope = new_envelope(
        example_event("org.mpa.case.closed.v1"),
        source="urn:mpa:intake",
        subject="case/1",
        causation_id=UUID(int=1),
        traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        tracestate="mpa=1",
    )
    record = to_kafka_record(envelope)
    sent = {name for name, _ in record.headers}
    assert sent <= set(headers_schema["properties"])
    for name in sorted(sent):
        without = [(n, v) for n, v in record.headers if n != name]
        if name in required:
            with pytest.raises(InvalidEvent):
                from_kafka_record(record.key, record.value, without)
        elif name != "ce_actorid":  # required per message for actor events, see below
            from_kafka_record(record.key, record.value, without)
    # Actor events: the message-level schema requires ce_actorid, and so does the reader.
    message = asyncapi["components"]["messages"]["org.mpa.case.closed.v1"]
    assert message["headers"]["allOf"][1]["required"] == ["ce_actorid"]
    with pytest.raises(InvalidEvent):
        from_kafka_record(
            record.key, record.value, [(n, v) for n, v in record.headers if n != "ce_actorid"]
        )
