"""CloudEvents envelope: Kafka binary and structured mode, outbox JSON, and every error."""

import json
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from types import EllipsisType
from typing import Any
from uuid import UUID, uuid4

import pytest
from pydantic import ValidationError

from mpa_contracts.envelope import (
    Envelope,
    InvalidEvent,
    InvalidEventReason,
    KafkaRecord,
    _order_of,
    envelope_from_json,
    envelope_to_json,
    from_kafka_record,
    kafka_record_from_json,
    new_envelope,
    to_kafka_record,
)
from mpa_contracts.events import EVENT_TYPES
from mpa_contracts.examples import CASE_ID, EXAMPLES, example_event

SOURCE = "urn:mpa:intake"
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
PERSONAL_DATA = "Alice Smith +41 79 555 12 34"

Header = tuple[str, bytes | None]
Headers = list[Header]


def _record(event_type: str = "org.mpa.case.registered.v1") -> KafkaRecord:
    return to_kafka_record(
        new_envelope(example_event(event_type), source=SOURCE, traceparent=TRACEPARENT)
    )


def _replace_header(headers: Sequence[Header], name: str, value: bytes | None) -> Headers:
    return [(n, value if n == name else v) for n, v in headers]


def _drop_header(headers: Sequence[Header], name: str) -> Headers:
    return [(n, v) for n, v in headers if n != name]


def _read(
    record: KafkaRecord,
    *,
    key: bytes | EllipsisType | None = ...,
    value: bytes | EllipsisType | None = ...,
    headers: Sequence[Header] | EllipsisType = ...,
) -> Envelope:
    """Read `record`, with any of its parts replaced (`...` keeps the record's own)."""
    return from_kafka_record(
        record.key if isinstance(key, EllipsisType) else key,
        record.value if isinstance(value, EllipsisType) else value,
        record.headers if isinstance(headers, EllipsisType) else headers,
    )


def _expect(reason: InvalidEventReason, read: Callable[[], Envelope]) -> InvalidEvent:
    with pytest.raises(InvalidEvent) as caught:
        read()
    assert caught.value.reason is reason, caught.value
    return caught.value


def _full_envelope(event_type: str) -> Envelope:
    """The type's example with every optional attribute set."""
    return new_envelope(
        EXAMPLES[event_type],
        source=SOURCE,
        subject="case/6f1c2a3e-8d4b-4c1a-9e2f-0a1b2c3d4e5f",
        causation_id=uuid4(),
        traceparent=TRACEPARENT,
        tracestate="mpa=1",
    )


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_every_event_type_survives_the_binary_round_trip(event_type: str) -> None:
    sent = _full_envelope(event_type)
    record = to_kafka_record(sent)
    received = from_kafka_record(record.key, record.value, record.headers)
    assert received == sent
    assert received.data == EXAMPLES[event_type]
    assert type(received.data) is EVENT_TYPES[event_type]


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_every_event_type_survives_the_outbox_json_round_trip(event_type: str) -> None:
    sent = new_envelope(EXAMPLES[event_type], source=SOURCE, traceparent=TRACEPARENT)
    assert envelope_from_json(envelope_to_json(sent)) == sent


def test_binary_record_carries_cloudevents_headers_and_only_the_payload_as_value() -> None:
    envelope = new_envelope(
        example_event("org.mpa.case.registered.v1"), source=SOURCE, traceparent=TRACEPARENT
    )
    record = to_kafka_record(envelope)
    headers = dict(record.headers)
    assert record.topic == "mpa.case.v1"
    assert record.key == str(CASE_ID).encode()
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_id"] == str(envelope.id).encode()
    assert headers["ce_source"] == SOURCE.encode()
    assert headers["ce_type"] == b"org.mpa.case.registered.v1"
    assert headers["ce_dataschema"] == b"urn:mpa:schema:org.mpa.case.registered.v1"
    assert headers["ce_time"].endswith(b"Z")
    assert headers["ce_correlationid"] == str(envelope.id).encode()
    assert headers["ce_actorid"] == b"operator:u-123"
    assert headers["content-type"] == b"application/json"
    assert headers["traceparent"] == TRACEPARENT.encode()
    assert "ce_subject" not in headers
    assert "ce_causationid" not in headers
    assert "tracestate" not in headers
    value = json.loads(record.value)
    assert value["case_id"] == str(CASE_ID)
    assert "specversion" not in value
    assert "id" not in value


def test_structured_mode_is_accepted() -> None:
    envelope = new_envelope(example_event("org.mpa.referral.routed.v1"), source=SOURCE)
    value = envelope_to_json(envelope).encode()
    headers: Headers = [("content-type", b"application/cloudevents+json; charset=utf-8")]
    assert from_kafka_record(str(CASE_ID).encode(), value, headers) == envelope


def test_structured_mode_takes_traceparent_from_the_header_when_given() -> None:
    envelope = new_envelope(example_event("org.mpa.case.closed.v1"), source=SOURCE)
    headers: Headers = [
        ("content-type", b"application/cloudevents+json"),
        ("traceparent", TRACEPARENT.encode()),
    ]
    received = from_kafka_record(
        str(CASE_ID).encode(), envelope_to_json(envelope).encode(), headers
    )
    assert received.traceparent == TRACEPARENT


def test_header_names_are_read_case_insensitively() -> None:
    record = _record()
    upper: Headers = [(name.upper(), value) for name, value in record.headers]
    assert _read(record, headers=upper).id == _read(record).id


def test_defaults_omitted_from_the_payload_are_restored_on_read() -> None:
    record = _record("org.mpa.referral.requested.v1")
    assert "preferred_partner_id" not in json.loads(record.value)
    assert _read(record).data.model_dump()["preferred_partner_id"] is None


def test_new_envelope_starts_a_story_or_continues_the_one_that_caused_it() -> None:
    first = new_envelope(example_event("org.mpa.case.registered.v1"), source=SOURCE)
    assert first.correlation_id == first.id
    assert first.causation_id is None
    assert first.time.tzinfo is UTC
    assert abs(datetime.now(UTC) - first.time).total_seconds() < 5

    follow_up = new_envelope(
        example_event("org.mpa.referral.requested.v1"), source=SOURCE, caused_by=first
    )
    assert follow_up.id != first.id
    assert follow_up.correlation_id == first.id
    assert follow_up.causation_id == first.id
    assert follow_up.type == "org.mpa.referral.requested.v1"
    assert follow_up.dataschema == "urn:mpa:schema:org.mpa.referral.requested.v1"

    with pytest.raises(ValueError, match="not both"):
        new_envelope(first.data, source=SOURCE, caused_by=first, correlation_id=uuid4())


def test_new_envelope_rejects_a_key_or_actor_that_contradicts_the_payload() -> None:
    data = example_event("org.mpa.case.registered.v1")
    with pytest.raises(ValidationError, match="key_mismatch"):
        new_envelope(data, source=SOURCE, key=uuid4())
    with pytest.raises(ValidationError, match="actor_mismatch"):
        new_envelope(data, source=SOURCE, actor_id="operator:someone-else")
    with pytest.raises(ValidationError, match="source"):
        new_envelope(data, source="https://intake.example.org")
    with pytest.raises(ValidationError, match="tracestate_without_traceparent"):
        new_envelope(data, source=SOURCE, tracestate="mpa=1")


def test_system_events_carry_no_actor_unless_given() -> None:
    routed = new_envelope(example_event("org.mpa.referral.routed.v1"), source="urn:mpa:referral")
    assert routed.actor_id is None
    assert "ce_actorid" not in dict(to_kafka_record(routed).headers)


def test_directory_events_are_keyed_by_partner() -> None:
    data = example_event("org.mpa.directory.service_registered.v1")
    record = to_kafka_record(new_envelope(data, source="urn:mpa:directory"))
    assert record.topic == "mpa.directory.v1"
    assert record.key == str(data.model_dump()["partner_id"]).encode()


# --- every InvalidEvent reason, produced by a crafted record ------------------------------


def test_bad_json_value() -> None:
    record = _record()
    _expect(InvalidEventReason.BAD_JSON, lambda: _read(record, value=b'{"case_id": '))
    _expect(InvalidEventReason.BAD_JSON, lambda: _read(record, value=None))


def test_bad_json_in_structured_mode() -> None:
    headers: Headers = [("content-type", b"application/cloudevents+json")]
    record = _record()
    _expect(InvalidEventReason.BAD_JSON, lambda: _read(record, value=b"[1, 2", headers=headers))
    _expect(InvalidEventReason.BAD_JSON, lambda: _read(record, value=b"[1, 2]", headers=headers))


@pytest.mark.parametrize(
    "header",
    [
        "ce_id",
        "ce_source",
        "ce_type",
        "ce_time",
        "ce_dataschema",
        "ce_correlationid",
        "ce_specversion",
    ],
)
def test_missing_attribute(header: str) -> None:
    record = _record()
    error = _expect(
        InvalidEventReason.MISSING_ATTRIBUTE,
        lambda: _read(record, headers=_drop_header(record.headers, header)),
    )
    assert header.removeprefix("ce_") in error.message


def test_missing_key_is_a_missing_attribute() -> None:
    record = _record()
    _expect(InvalidEventReason.MISSING_ATTRIBUTE, lambda: _read(record, key=None))


def test_unsupported_specversion() -> None:
    record = _record()
    headers = _replace_header(record.headers, "ce_specversion", b"0.3")
    _expect(InvalidEventReason.UNSUPPORTED_SPECVERSION, lambda: _read(record, headers=headers))


def test_unknown_type() -> None:
    record = _record()
    headers = _replace_header(record.headers, "ce_type", b"org.mpa.case.exploded.v1")
    _expect(InvalidEventReason.UNKNOWN_TYPE, lambda: _read(record, headers=headers))


def test_schema_violation_names_the_field_and_error_type() -> None:
    record = _record()
    value = json.loads(record.value) | {"case_reference": "MPA-1"}
    error = _expect(
        InvalidEventReason.SCHEMA_VIOLATION, lambda: _read(record, value=json.dumps(value).encode())
    )
    assert error.message == "data.case_reference: string_pattern_mismatch"


def test_payload_of_another_type_is_a_schema_violation() -> None:
    record = _record()
    other = _record("org.mpa.case.closed.v1")
    _expect(InvalidEventReason.SCHEMA_VIOLATION, lambda: _read(record, value=other.value))


@pytest.mark.parametrize(
    "content_type",
    [None, b"text/plain", b"application/cloudevents-batch+json", b"application/avro"],
)
def test_bad_content_type(content_type: bytes | None) -> None:
    record = _record()
    headers = (
        _drop_header(record.headers, "content-type")
        if content_type is None
        else _replace_header(record.headers, "content-type", content_type)
    )
    _expect(InvalidEventReason.BAD_CONTENT_TYPE, lambda: _read(record, headers=headers))


def _with_expiry(value: dict[str, Any], expires_at: object) -> dict[str, Any]:
    return value | {"consent": value["consent"] | {"expires_at": expires_at}}


@pytest.mark.parametrize(
    "spoil",
    [
        # Python mode's error type for this one differs from JSON mode's.
        lambda value: _with_expiry(value, 2**70),
        lambda value: _with_expiry(value, "tomorrow"),
        lambda value: value | {"case_reference": "MPA-1"},
        lambda value: value | {"case_reference": "\ud800"},  # JSON mode: not valid JSON
        lambda value: value | {"profile": []},
        lambda value: value | {"unexpected": 1},
    ],
)
def test_structured_mode_rejects_bad_data_as_binary_mode_does(
    spoil: Callable[[dict[str, Any]], dict[str, Any]],
) -> None:
    record = _record()
    value = json.dumps(spoil(json.loads(record.value))).encode()
    with pytest.raises(InvalidEvent) as binary:
        _read(record, value=value)
    document = json.loads(envelope_to_json(_read(record))) | {"data": json.loads(value)}
    with pytest.raises(InvalidEvent) as structured:
        envelope_from_json(json.dumps(document))
    assert (structured.value.reason, structured.value.message) == (
        binary.value.reason,
        binary.value.message,
    )


def test_base64_data_in_structured_mode_is_a_bad_content_type() -> None:
    document = json.loads(
        envelope_to_json(new_envelope(example_event("org.mpa.case.closed.v1"), source=SOURCE))
    )
    document["data_base64"] = "e30="
    del document["data"]
    _expect(InvalidEventReason.BAD_CONTENT_TYPE, lambda: envelope_from_json(json.dumps(document)))


@pytest.mark.parametrize(
    ("header", "value", "named"),
    [
        ("ce_time", b"yesterday", "time: datetime_from_date_parsing"),
        ("ce_time", b"2026-03-02T09:30:00", "time: timezone_aware"),
        ("ce_id", b"42", "id: uuid_parsing"),
        ("ce_source", b"https://example.org/intake", "source: string_pattern_mismatch"),
        ("ce_dataschema", b"urn:mpa:schema:org.mpa.case.closed.v1", "dataschema"),
        ("ce_actorid", b"operator:u-999", "actorid: actor_mismatch"),
        ("ce_correlationid", b"story-1", "correlationid: uuid_parsing"),
    ],
)
def test_invalid_attribute(header: str, value: bytes, named: str) -> None:
    record = _record()
    headers = _replace_header(record.headers, header, value)
    error = _expect(InvalidEventReason.INVALID_ATTRIBUTE, lambda: _read(record, headers=headers))
    assert named in error.message


def test_malformed_trace_context_is_dropped_not_rejected() -> None:
    record = _record()
    with_state = [*record.headers, ("tracestate", b"mpa=1")]
    garbled = _replace_header(with_state, "traceparent", b"not-a-trace")
    received = _read(record, headers=garbled)
    assert received.traceparent is None
    assert received.tracestate is None  # meaningless without its traceparent
    assert received.data == example_event("org.mpa.case.registered.v1")
    assert _read(record, headers=with_state).tracestate == "mpa=1"


@pytest.mark.parametrize("key", [b"not-a-uuid", str(UUID(int=5)).encode(), b"\xff\xfe"])
def test_a_key_that_is_not_the_payload_aggregate_id_is_an_invalid_attribute(key: bytes) -> None:
    record = _record()
    error = _expect(InvalidEventReason.INVALID_ATTRIBUTE, lambda: _read(record, key=key))
    assert "Kafka record key" in error.message


def test_headers_of_other_tools_are_ignored_even_when_odd() -> None:
    record = _record()
    odd = [*record.headers, ("x-vendor", b"\xff"), ("x-vendor", b"again"), ("b3", None)]
    assert _read(record, headers=odd).data == example_event("org.mpa.case.registered.v1")


def test_unknown_structured_extensions_of_any_json_type_are_ignored() -> None:
    envelope = new_envelope(example_event("org.mpa.case.closed.v1"), source=SOURCE)
    document = json.loads(envelope_to_json(envelope)) | {"sampled": True, "priority": 3}
    assert envelope_from_json(json.dumps(document)) == envelope
    document["causationid"] = 7
    _expect(InvalidEventReason.INVALID_ATTRIBUTE, lambda: envelope_from_json(json.dumps(document)))


def test_a_malformed_header_name_is_not_echoed() -> None:
    record = _record()
    headers = [*record.headers, (f"ce_{PERSONAL_DATA}", b"1"), (f"ce_{PERSONAL_DATA}", b"2")]
    error = _expect(InvalidEventReason.INVALID_ATTRIBUTE, lambda: _read(record, headers=headers))
    assert "Alice" not in _full_text(error)


def test_repeated_or_undecodable_headers_are_invalid_attributes() -> None:
    record = _record()
    repeated = [*record.headers, ("ce_type", b"org.mpa.case.closed.v1")]
    _expect(InvalidEventReason.INVALID_ATTRIBUTE, lambda: _read(record, headers=repeated))
    _expect(
        InvalidEventReason.INVALID_ATTRIBUTE,
        lambda: _read(record, headers=[*record.headers, ("ce_subject", b"\xc3\x28")]),
    )


# --- error messages never echo record content -------------------------------------------


def _full_text(error: InvalidEvent) -> str:
    # What a logger would print, chained causes included.
    return str(error) + "".join(traceback.format_exception(error))


def test_schema_violation_does_not_echo_the_bad_value() -> None:
    record = _record()
    value = json.loads(record.value) | {"case_reference": PERSONAL_DATA}
    error = _expect(
        InvalidEventReason.SCHEMA_VIOLATION, lambda: _read(record, value=json.dumps(value).encode())
    )
    assert "case_reference" in str(error)
    assert PERSONAL_DATA not in _full_text(error)
    assert "Alice" not in _full_text(error)


def test_unexpected_property_is_reported_without_its_name_or_value() -> None:
    record = _record()
    value = json.loads(record.value) | {PERSONAL_DATA: PERSONAL_DATA, "given_name": "Alice"}
    error = _expect(
        InvalidEventReason.SCHEMA_VIOLATION, lambda: _read(record, value=json.dumps(value).encode())
    )
    assert "extra_forbidden" in str(error)
    assert "Alice" not in _full_text(error)
    assert "given_name" not in _full_text(error)


def test_attribute_errors_do_not_echo_the_bad_value() -> None:
    record = _record()
    headers = _replace_header(record.headers, "ce_time", PERSONAL_DATA.encode())
    headers.append(("ce_subject", PERSONAL_DATA.encode()))
    error = _expect(InvalidEventReason.INVALID_ATTRIBUTE, lambda: _read(record, headers=headers))
    assert "time" in str(error)
    assert "subject" in str(error)
    assert "Alice" not in _full_text(error)


def test_bad_json_does_not_echo_the_value() -> None:
    record = _record()
    error = _expect(
        InvalidEventReason.BAD_JSON,
        lambda: _read(record, value=f'{{"x": "{PERSONAL_DATA}'.encode()),
    )
    assert "Alice" not in _full_text(error)


def _jsonb_text(document: str) -> str:
    # PostgreSQL jsonb gives keys back shorter first, then by their bytes, with its spacing.
    def order(value: object) -> object:
        if isinstance(value, dict):
            items = sorted(value.items(), key=lambda i: (len(i[0].encode()), i[0].encode()))
            return {k: order(v) for k, v in items}
        if isinstance(value, list):
            return [order(v) for v in value]
        return value

    return json.dumps(order(json.loads(document)), ensure_ascii=False)


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_the_relay_record_of_a_stored_envelope_is_to_kafka_record_byte_for_byte(
    event_type: str,
) -> None:
    sent = _full_envelope(event_type)
    for stored in (envelope_to_json(sent), _jsonb_text(envelope_to_json(sent))):
        assert kafka_record_from_json(stored) == to_kafka_record(sent)
    data_class = type(EXAMPLES[event_type])
    assert _order_of(data_class) is not None  # no fall-back to validation
