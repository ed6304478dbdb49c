"""CloudEvents 1.0 envelope and its Kafka mapping.

Producers publish in binary content mode: the CloudEvents attributes travel as `ce_*`
headers, the record value is the event data as JSON, the record key is the aggregate id
that orders the event (see `topics`). Consumers also accept structured mode
(`content-type: application/cloudevents+json`, the whole event as JSON in the value).

Extensions: `correlationid` (the whole story of a case: every event a request set off
shares it), `causationid` (id of the event that caused this one) and `actorid` (who acted).
W3C Trace Context travels as plain `traceparent` and `tracestate` headers; on read, a
malformed one is dropped (the trace restarts), as the W3C recommendation asks.

Errors never echo record content: a malformed record may hold personal data, and error
messages end up in logs. They name attributes, field paths and pydantic error types only.
"""

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Final, Self, get_args
from uuid import UUID, uuid4

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from mpa_contracts.events.base import ActorEventData, EventData
from mpa_contracts.events.registry import EVENT_TYPES, UnknownEventType, event_class_for
from mpa_contracts.topics import kafka_key_for, topic_for_event_type
from mpa_contracts.types import (
    EVENT_SOURCE_PATTERN,
    EVENT_SUBJECT_PATTERN,
    TRACEPARENT_PATTERN,
    TRACESTATE_PATTERN,
    ActorId,
    EventId,
    UtcTimestamp,
)

SPECVERSION: Final = "1.0"
JSON_CONTENT_TYPE: Final = "application/json"
STRUCTURED_CONTENT_TYPE: Final = "application/cloudevents+json"
CONTENT_TYPE_HEADER: Final = "content-type"
CE_HEADER_PREFIX: Final = "ce_"
TRACEPARENT_HEADER: Final = "traceparent"
TRACESTATE_HEADER: Final = "tracestate"
SCHEMA_URN_PREFIX: Final = "urn:mpa:schema:"
# Structured-mode attribute that carries the Kafka key (CloudEvents Partitioning extension).
PARTITIONKEY_ATTRIBUTE: Final = "partitionkey"

# Envelope field -> CloudEvents attribute, for error messages in the wire's own terms.
_ATTRIBUTE_OF_FIELD: Final[Mapping[str, str]] = {
    "correlation_id": "correlationid",
    "causation_id": "causationid",
    "actor_id": "actorid",
    "key": "Kafka record key",
}
# Envelope-level consistency errors -> the attribute they are about.
_ATTRIBUTE_OF_ERROR: Final[Mapping[str, str]] = {
    "key_mismatch": "Kafka record key",
    "actor_mismatch": "actorid",
    "tracestate_without_traceparent": "tracestate",
}
_MAX_REPORTED_ERRORS: Final = 10
# Headers read besides the ce_* ones.
_PLAIN_HEADERS: Final = frozenset({CONTENT_TYPE_HEADER, TRACEPARENT_HEADER, TRACESTATE_HEADER})
# The ce_* headers to_kafka_record writes, in its order (see _attributes).
_HEADER_ATTRIBUTES: Final = (
    "specversion",
    "id",
    "source",
    "type",
    "time",
    "subject",
    "dataschema",
    "correlationid",
    "causationid",
    "actorid",
)
# Attributes read from a structured-mode document besides `data`.
_STRUCTURED_ATTRIBUTES: Final = frozenset(
    {
        *_HEADER_ATTRIBUTES,
        "datacontenttype",
        TRACEPARENT_HEADER,
        TRACESTATE_HEADER,
        PARTITIONKEY_ATTRIBUTE,
    }
)
_SAFE_NAME: Final = re.compile(r"(ce_)?[a-z0-9-]{1,32}")
_CE_PREFIX_LENGTH: Final = len(CE_HEADER_PREFIX)
# Required in every event, in the order a missing one is reported (specversion first).
_REQUIRED_ATTRIBUTES: Final = (
    "specversion",
    "id",
    "source",
    "type",
    "time",
    "dataschema",
    "correlationid",
)
_REQUIRED_ATTRIBUTE_SET: Final = frozenset(_REQUIRED_ATTRIBUTES)
_TRACEPARENT: Final = re.compile(TRACEPARENT_PATTERN)
_TRACESTATE: Final = re.compile(TRACESTATE_PATTERN)


def dataschema_for(event_type: str) -> str:
    """The CloudEvents `dataschema` of an event type; also its JSON Schema's `$id`."""
    return f"{SCHEMA_URN_PREFIX}{event_type}"


class InvalidEventReason(StrEnum):
    """Machine-readable cause of an InvalidEvent, e.g. for a dead-letter header or metric."""

    BAD_JSON = "bad_json"
    BAD_CONTENT_TYPE = "bad_content_type"
    MISSING_ATTRIBUTE = "missing_attribute"
    INVALID_ATTRIBUTE = "invalid_attribute"
    UNSUPPORTED_SPECVERSION = "unsupported_specversion"
    UNKNOWN_TYPE = "unknown_type"
    SCHEMA_VIOLATION = "schema_violation"


class InvalidEvent(ValueError):
    """A record or stored envelope is not a valid event of this platform.

    `message` names attributes, field paths and error types; never a value from the record.
    """

    def __init__(self, reason: InvalidEventReason, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


class Envelope(BaseModel):
    """One event: CloudEvents attributes, Kafka key, trace context and the payload."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: EventId
    source: Annotated[str, Field(pattern=EVENT_SOURCE_PATTERN)]
    time: UtcTimestamp
    subject: Annotated[str, Field(pattern=EVENT_SUBJECT_PATTERN)] | None = None
    correlation_id: UUID
    causation_id: UUID | None = None
    actor_id: ActorId | None = None
    traceparent: Annotated[str, Field(pattern=TRACEPARENT_PATTERN)] | None = None
    tracestate: Annotated[str, Field(pattern=TRACESTATE_PATTERN)] | None = None
    key: UUID
    data: SerializeAsAny[EventData]

    @property
    def type(self) -> str:
        """CloudEvents `type`: always the payload's event type, so the two cannot disagree."""
        return self.data.event_type

    @property
    def dataschema(self) -> str:
        return dataschema_for(self.type)

    @property
    def specversion(self) -> str:
        return SPECVERSION

    @model_validator(mode="after")
    def _consistent_with_payload(self) -> Self:
        data = self.data
        if self.key != kafka_key_for(data):
            key_field = topic_for_event_type(data.event_type).key
            raise PydanticCustomError(
                "key_mismatch", "key must equal the payload's {field}", {"field": key_field}
            )
        if isinstance(data, ActorEventData) and self.actor_id != data.actor_id:
            raise PydanticCustomError(
                "actor_mismatch", "actor_id must equal the payload's actor_id"
            )
        if self.tracestate is not None and self.traceparent is None:
            raise PydanticCustomError(
                "tracestate_without_traceparent", "tracestate needs a traceparent"
            )
        return self


_ENVELOPE_VALIDATOR: Final = Envelope.__pydantic_validator__


def new_envelope(
    data: EventData,
    *,
    source: str,
    key: UUID | None = None,
    subject: str | None = None,
    correlation_id: UUID | None = None,
    causation_id: UUID | None = None,
    caused_by: Envelope | None = None,
    actor_id: str | None = None,
    traceparent: str | None = None,
    tracestate: str | None = None,
) -> Envelope:
    """Wrap a payload in a new envelope with a fresh id and the current UTC time.

    `key` defaults to the payload's aggregate id and `actor_id` to the payload's actor;
    giving a different one is an error. `caused_by` is the event being handled: its
    correlation id is carried on and its id becomes the causation id. Without either, the
    event starts a new story: its correlation id is its own id.
    Raises pydantic.ValidationError when an attribute is malformed or inconsistent.
    """
    if caused_by is not None:
        if correlation_id is not None or causation_id is not None:
            raise ValueError("give caused_by or correlation_id/causation_id, not both")
        correlation_id = caused_by.correlation_id
        causation_id = caused_by.id
    if actor_id is None and isinstance(data, ActorEventData):
        actor_id = data.actor_id
    event_id = uuid4()
    return Envelope(
        id=event_id,
        source=source,
        time=datetime.now(UTC),
        subject=subject,
        correlation_id=correlation_id if correlation_id is not None else event_id,
        causation_id=causation_id,
        actor_id=actor_id,
        traceparent=traceparent,
        tracestate=tracestate,
        key=key if key is not None else kafka_key_for(data),
        data=data,
    )


@dataclass(frozen=True)
class KafkaRecord:
    """What a producer sends: topic, key, value and headers, all client-agnostic."""

    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


def _format_time(moment: datetime) -> str:
    # RFC 3339 with "Z", as CloudEvents examples and most consumers expect.
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def encode_payload(data: EventData) -> bytes:
    """The payload as JSON, the record value in binary mode.

    Fields left at their default are omitted: a producer on newer contracts that adds an
    optional field does not break consumers on older ones until it actually sets it.
    """
    return data.model_dump_json(exclude_defaults=True).encode()


def _attributes(envelope: Envelope) -> list[tuple[str, str]]:
    """CloudEvents attributes and extensions, in a fixed order; absent ones left out."""
    attributes: list[tuple[str, str | None]] = [
        ("specversion", SPECVERSION),
        ("id", str(envelope.id)),
        ("source", envelope.source),
        ("type", envelope.type),
        ("time", _format_time(envelope.time)),
        ("subject", envelope.subject),
        ("dataschema", envelope.dataschema),
        ("correlationid", str(envelope.correlation_id)),
        ("causationid", str(envelope.causation_id) if envelope.causation_id else None),
        ("actorid", envelope.actor_id),
    ]
    return [(name, value) for name, value in attributes if value is not None]


def to_kafka_record(envelope: Envelope) -> KafkaRecord:
    """Binary content mode record of an envelope, addressed to its topic."""
    headers = [
        (f"{CE_HEADER_PREFIX}{name}", value.encode()) for name, value in _attributes(envelope)
    ]
    headers.append((CONTENT_TYPE_HEADER, JSON_CONTENT_TYPE.encode()))
    if envelope.traceparent is not None:
        headers.append((TRACEPARENT_HEADER, envelope.traceparent.encode()))
    if envelope.tracestate is not None:
        headers.append((TRACESTATE_HEADER, envelope.tracestate.encode()))
    return KafkaRecord(
        topic=topic_for_event_type(envelope.type).name,
        key=str(envelope.key).encode(),
        value=encode_payload(envelope.data),
        headers=headers,
    )


def envelope_to_json(envelope: Envelope) -> str:
    """The envelope as a CloudEvents structured-mode JSON document, Kafka key included.

    This is what an outbox row stores; it is also a valid structured-mode record value.
    """
    document: dict[str, Any] = dict(_attributes(envelope))
    document["datacontenttype"] = JSON_CONTENT_TYPE
    if envelope.traceparent is not None:
        document[TRACEPARENT_HEADER] = envelope.traceparent
    if envelope.tracestate is not None:
        document[TRACESTATE_HEADER] = envelope.tracestate
    document[PARTITIONKEY_ATTRIBUTE] = str(envelope.key)
    document["data"] = json.loads(encode_payload(envelope.data))
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def envelope_from_json(document: str | bytes) -> Envelope:
    """Inverse of envelope_to_json; raises InvalidEvent."""
    attributes, data = _read_structured(document)
    return _build_envelope(
        attributes,
        data,
        attributes.get(PARTITIONKEY_ATTRIBUTE),
        traceparent=attributes.get(TRACEPARENT_HEADER),
        tracestate=attributes.get(TRACESTATE_HEADER),
    )


def from_kafka_record(
    key: bytes | None,
    value: bytes | None,
    headers: Sequence[tuple[str, bytes | None]],
) -> Envelope:
    """Read a consumed record, binary or structured content mode; raises InvalidEvent."""
    attributes, plain = _decode_headers(headers)
    content_type = plain.get(CONTENT_TYPE_HEADER)
    if content_type is None:
        raise InvalidEvent(InvalidEventReason.BAD_CONTENT_TYPE, "content-type header is missing")
    # What every producer of ours writes needs no normalising.
    media_type = content_type if content_type == JSON_CONTENT_TYPE else _media_type(content_type)
    key_text = _decode_key(key)
    if value is None:
        raise InvalidEvent(InvalidEventReason.BAD_JSON, "record has no value")
    traceparent = plain.get(TRACEPARENT_HEADER)
    tracestate = plain.get(TRACESTATE_HEADER)

    if media_type == STRUCTURED_CONTENT_TYPE:
        structured, data = _read_structured(value)
        return _build_envelope(
            structured,
            data,
            key_text,
            traceparent=traceparent or structured.get(TRACEPARENT_HEADER),
            tracestate=tracestate or structured.get(TRACESTATE_HEADER),
        )
    if media_type != JSON_CONTENT_TYPE:
        # Also rejects other structured formats and batches (application/cloudevents-batch).
        raise InvalidEvent(
            InvalidEventReason.BAD_CONTENT_TYPE, f"content-type must be {JSON_CONTENT_TYPE}"
        )
    return _build_envelope(attributes, value, key_text, traceparent, tracestate)


def _decode_headers(
    headers: Sequence[tuple[str, bytes | None]],
) -> tuple[dict[str, str], dict[str, str]]:
    """The headers this contract reads, decoded, in one pass: the ce_* ones by attribute
    name (prefix removed), and the plain ones (content-type, trace context). Any other
    header is left alone: what other tools add (repeated, binary, ...) is none of our
    business."""
    attributes: dict[str, str] = {}
    plain: dict[str, str] = {}
    for raw_name, raw_value in headers:
        slot = _HEADER_SLOTS.get(raw_name) or _header_slot(raw_name)
        if slot is None:
            continue
        is_attribute, field = slot
        decoded = attributes if is_attribute else plain
        if field in decoded:
            raise InvalidEvent(
                InvalidEventReason.INVALID_ATTRIBUTE,
                f"header {_safe_name(raw_name.lower())} is repeated",
            )
        if raw_value is None:
            continue
        try:
            decoded[field] = raw_value.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidEvent(
                InvalidEventReason.INVALID_ATTRIBUTE,
                f"header {_safe_name(raw_name.lower())} is not UTF-8",
            ) from None
    return attributes, plain


def _header_slot(raw_name: str) -> tuple[bool, str] | None:
    """Whether a header is a ce_* attribute (and which) or a plain header read; None when
    it is neither. Header names are case-insensitive."""
    name = raw_name.lower()
    if name.startswith(CE_HEADER_PREFIX):
        return True, name[_CE_PREFIX_LENGTH:]
    if name in _PLAIN_HEADERS:
        return False, name
    return None


# The slots of the header names to_kafka_record writes, looked up as they are: no
# lowering and slicing for what nearly every record carries.
_HEADER_SLOTS: Final[Mapping[str, tuple[bool, str]]] = {
    name: slot
    for name in (
        *(f"{CE_HEADER_PREFIX}{attribute}" for attribute in _HEADER_ATTRIBUTES),
        *_PLAIN_HEADERS,
    )
    if (slot := _header_slot(name)) is not None
}


def _safe_name(name: str) -> str:
    # Header and attribute names come from the record too; echo only well-formed ones.
    return name if _SAFE_NAME.fullmatch(name) else "<malformed name>"


def _decode_key(key: bytes | None) -> str | None:
    if key is None:
        return None
    try:
        return key.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidEvent(
            InvalidEventReason.INVALID_ATTRIBUTE, "Kafka record key is not UTF-8"
        ) from None


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


@dataclass(frozen=True, slots=True)
class _ParsedData:
    """A structured-mode document's `data`, already parsed from JSON (not dumped back)."""

    value: Any


def _read_structured(document: str | bytes) -> tuple[dict[str, str], _ParsedData]:
    """Split a structured-mode document into string attributes and the parsed data."""
    try:
        parsed = json.loads(document)
    except (ValueError, UnicodeDecodeError):
        raise InvalidEvent(InvalidEventReason.BAD_JSON, "event is not valid JSON") from None
    if not isinstance(parsed, dict):
        raise InvalidEvent(InvalidEventReason.BAD_JSON, "event is not a JSON object")
    if "data_base64" in parsed:
        raise InvalidEvent(InvalidEventReason.BAD_CONTENT_TYPE, "data must be JSON, not base64")
    if "data" not in parsed:
        raise InvalidEvent(InvalidEventReason.MISSING_ATTRIBUTE, "data is missing")
    data = parsed.pop("data")
    attributes: dict[str, str] = {}
    for name, value in parsed.items():
        if name not in _STRUCTURED_ATTRIBUTES:
            continue  # other extensions may be of any JSON type; we do not read them
        if not isinstance(value, str):
            raise InvalidEvent(InvalidEventReason.INVALID_ATTRIBUTE, f"{name} is not a string")
        attributes[name] = value
    content_type = attributes.get("datacontenttype", JSON_CONTENT_TYPE)
    if _media_type(content_type) != JSON_CONTENT_TYPE:
        raise InvalidEvent(
            InvalidEventReason.BAD_CONTENT_TYPE, f"datacontenttype must be {JSON_CONTENT_TYPE}"
        )
    return attributes, _ParsedData(data)


def _require(attributes: Mapping[str, str], name: str) -> str:
    value = attributes.get(name)
    if value is None:
        raise InvalidEvent(InvalidEventReason.MISSING_ATTRIBUTE, f"{name} is missing")
    return value


def _build_envelope(
    attributes: Mapping[str, str],
    data_json: bytes | _ParsedData,
    key: str | None,
    traceparent: str | None,
    tracestate: str | None,
) -> Envelope:
    if attributes.get("specversion") != SPECVERSION:
        _require(attributes, "specversion")
        raise InvalidEvent(
            InvalidEventReason.UNSUPPORTED_SPECVERSION, f"specversion must be {SPECVERSION}"
        )
    if not attributes.keys() >= _REQUIRED_ATTRIBUTE_SET:  # else name the first one missing
        for name in _REQUIRED_ATTRIBUTES:
            _require(attributes, name)
    if key is None:
        raise InvalidEvent(
            InvalidEventReason.MISSING_ATTRIBUTE, "Kafka record key (partitionkey) is missing"
        )
    try:
        event_class = event_class_for(attributes["type"])
    except UnknownEventType:
        raise InvalidEvent(InvalidEventReason.UNKNOWN_TYPE, "type is not registered") from None
    if attributes["dataschema"] != dataschema_for(event_class.event_type):
        raise InvalidEvent(
            InvalidEventReason.INVALID_ATTRIBUTE, "dataschema does not belong to type"
        )

    # The validator itself: model_validate_json's keyword handling is a tenth of the call.
    validator = event_class.__pydantic_validator__
    try:
        if isinstance(data_json, _ParsedData):
            try:
                # json.loads output validated as is: for it, Python mode accepts what JSON
                # mode does (a lone surrogate, which JSON mode rejects, fits no payload
                # string: each has an ASCII pattern, an enum or a format, see
                # test_personal_data)...
                data = validator.validate_python(data_json.value)
            except ValidationError:
                # ...but a few of its error types differ (a huge integer for a datetime):
                # the rejection is the JSON one, as before and as in binary mode.
                data = validator.validate_json(json.dumps(data_json.value).encode())
        else:
            data = validator.validate_json(data_json)
    except ValidationError as error:
        if any(detail["type"] == "json_invalid" for detail in error.errors()):
            raise InvalidEvent(InvalidEventReason.BAD_JSON, "data is not valid JSON") from None
        raise InvalidEvent(
            InvalidEventReason.SCHEMA_VIOLATION, _describe(error, root="data")
        ) from None

    # W3C Trace Context: a receiver restarts the trace on a malformed traceparent and then
    # ignores tracestate; tracing trouble must never dead-letter a valid event.
    if traceparent is not None and not _TRACEPARENT.fullmatch(traceparent):
        traceparent = None
    if traceparent is None or (tracestate is not None and not _TRACESTATE.fullmatch(tracestate)):
        tracestate = None

    try:
        envelope: Envelope = _ENVELOPE_VALIDATOR.validate_python(
            {
                "id": attributes["id"],
                "source": attributes["source"],
                "time": attributes["time"],
                "subject": attributes.get("subject"),
                "correlation_id": attributes["correlationid"],
                "causation_id": attributes.get("causationid"),
                "actor_id": attributes.get("actorid"),
                "traceparent": traceparent,
                "tracestate": tracestate,
                "key": key,
                "data": data,
            }
        )
    except ValidationError as error:
        raise InvalidEvent(InvalidEventReason.INVALID_ATTRIBUTE, _describe(error)) from None
    return envelope


def _describe(error: ValidationError, root: str | None = None) -> str:
    """Field paths and error types of a ValidationError, without any input value."""
    details = error.errors(include_url=False, include_context=False, include_input=False)
    parts = [_describe_one(detail, root) for detail in details[:_MAX_REPORTED_ERRORS]]
    if len(details) > _MAX_REPORTED_ERRORS:
        parts.append(f"and {len(details) - _MAX_REPORTED_ERRORS} more")
    return "; ".join(parts)


def _describe_one(detail: ErrorDetails, root: str | None) -> str:
    loc = list(detail["loc"])
    if detail["type"] == "extra_forbidden":
        # The last segment is the unexpected property's name, which comes from the record.
        loc = [*loc[:-1], "<unexpected property>"]
    if not loc and detail["type"] in _ATTRIBUTE_OF_ERROR:
        loc = [_ATTRIBUTE_OF_ERROR[detail["type"]]]
    if loc and isinstance(loc[0], str) and loc[0] in _ATTRIBUTE_OF_FIELD:
        loc[0] = _ATTRIBUTE_OF_FIELD[loc[0]]
    path = root or ""
    for segment in loc:
        if isinstance(segment, int):
            path += f"[{segment}]"
        else:
            path += f".{segment}" if path else segment
    return f"{path or '<root>'}: {detail['type']}"


# Field order of a payload class, and the class of each field's nested payload objects:
# what model_dump_json writes, so a stored payload can be re-serialised without pydantic.
_Order = tuple[tuple[str, "type[BaseModel] | None"], ...]
_ORDERS: dict[type[BaseModel], _Order | None] = {}


def _nested_model(annotation: Any) -> type[BaseModel] | bool | None:
    """The one model class inside an annotation, None when none, False when ambiguous."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    found: type[BaseModel] | None = None
    for argument in get_args(annotation):
        inner = _nested_model(argument)
        if inner is False:
            return False
        if inner is not None:
            if found is not None and found is not inner:
                return False
            found = inner  # type: ignore[assignment]
    return found


def _order_of(model: type[BaseModel]) -> _Order | None:
    if model in _ORDERS:
        return _ORDERS[model]
    _ORDERS[model] = None  # recursive models: not supported, fall back
    order: list[tuple[str, type[BaseModel] | None]] = []
    for name, field in model.model_fields.items():
        nested = _nested_model(field.annotation)
        if nested is False or field.serialization_alias or field.alias:
            return None
        if nested is not None and _order_of(nested) is None:  # type: ignore[arg-type]
            return None
        order.append((name, nested))  # type: ignore[arg-type]
    if (
        model.model_computed_fields
        or model.__pydantic_decorators__.field_serializers
        or (model.__pydantic_decorators__.model_serializers)
    ):
        return None
    _ORDERS[model] = tuple(order)
    return _ORDERS[model]


class _NotReorderable(Exception):
    pass


def _reorder(value: Any, model: type[BaseModel] | None) -> Any:
    if model is None:
        if isinstance(value, dict):
            raise _NotReorderable
        if isinstance(value, list):
            return [_reorder(item, None) for item in value]
        return value
    if isinstance(value, list):
        return [_reorder(item, model) for item in value]
    if not isinstance(value, dict):
        return value
    order = _order_of(model)
    if order is None or not value.keys() <= model.model_fields.keys():
        raise _NotReorderable
    return {name: _reorder(value[name], nested) for name, nested in order if name in value}


def kafka_record_from_json(document: str | bytes) -> KafkaRecord:
    """`to_kafka_record(envelope_from_json(document))` for a document envelope_to_json wrote
    (an outbox row: validated when it was written), without validating it again.

    The payload's keys are put back in the model's field order (PostgreSQL jsonb re-orders
    them), so the record is byte for byte what to_kafka_record gives. A document this cannot
    vouch for (unknown type, unknown property, unusual model) takes the validating path.
    """
    try:
        parsed = json.loads(document)
        attributes = {
            name: value
            for name, value in parsed.items()
            if name in _STRUCTURED_ATTRIBUTES and isinstance(value, str)
        }
        event_class = EVENT_TYPES.get(attributes.get("type", ""))
        key = attributes.get(PARTITIONKEY_ATTRIBUTE)
        if (
            event_class is None
            or key is None
            or attributes.get("specversion") != SPECVERSION
            or attributes.get("dataschema") != dataschema_for(event_class.event_type)
            or not isinstance(parsed.get("data"), dict)
        ):
            raise _NotReorderable
        data = _reorder(parsed["data"], event_class)
    except (_NotReorderable, ValueError, AttributeError):
        return to_kafka_record(envelope_from_json(document))
    headers = [
        (f"{CE_HEADER_PREFIX}{name}", attributes[name].encode())
        for name in _HEADER_ATTRIBUTES
        if name in attributes
    ]
    headers.append((CONTENT_TYPE_HEADER, JSON_CONTENT_TYPE.encode()))
    for name in (TRACEPARENT_HEADER, TRACESTATE_HEADER):
        if name in attributes:
            headers.append((name, attributes[name].encode()))
    return KafkaRecord(
        topic=topic_for_event_type(event_class.event_type).name,
        key=key.encode(),
        value=json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode(),
        headers=headers,
    )
