"""Kafka topics: which event types go where, under which key, kept how long.

Retention. Kafka is the transport, not the record: the audit service keeps the permanent
copy of every event. A topic keeps events long enough for a consumer to recover from a
long outage or to rebuild its state by replay, and no longer, because case, referral and
access events, although pseudonymous, still describe vulnerable people:

* case, referral, access, psea, report: 90 days. Covers a quarter of outages and replays; bounded as
  data minimisation (pseudonymised data is still personal data under the GDPR).
* directory: kept forever. It holds no personal data, it is small, and a new referral
  instance must replay all of it to know every partner and service.
* notification: 14 days. Delivery telemetry, read by operations and the audit service.
* dead-letter topics: 180 days (forever for the directory's), longer than their source so
  a record that failed can be triaged after a long incident; bounded, because a record
  that failed validation may be exactly the one that holds data it should not.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final
from uuid import UUID

from mpa_contracts.events.access import ACCESS_EVENTS
from mpa_contracts.events.base import EventData
from mpa_contracts.events.case import CASE_EVENTS
from mpa_contracts.events.casework import CASEWORK_EVENTS
from mpa_contracts.events.cross_border import CROSS_BORDER_EVENTS
from mpa_contracts.events.directory import DIRECTORY_EVENTS
from mpa_contracts.events.feedback import FEEDBACK_EVENTS
from mpa_contracts.events.notification import NOTIFICATION_EVENTS
from mpa_contracts.events.protection import PROTECTION_EVENTS
from mpa_contracts.events.psea import PSEA_EVENTS
from mpa_contracts.events.referral import REFERRAL_EVENTS
from mpa_contracts.events.registry import UnknownEventType
from mpa_contracts.events.report import REPORT_EVENTS
from mpa_contracts.events.safe_contact import SAFE_CONTACT_EVENTS

_DAY_MS: Final = 24 * 60 * 60 * 1000
RETAIN_FOREVER: Final = -1  # Kafka's retention.ms for "never delete"
DEAD_LETTER_SUFFIX: Final = ".dlq"
DEAD_LETTER_RETENTION_MS: Final = 180 * _DAY_MS
PARTITIONS: Final = 6


@dataclass(frozen=True)
class Topic:
    """One Kafka topic of the platform."""

    name: str
    key: str  # payload field whose value (a UUID) is the record key
    partitions: int
    retention_ms: int
    event_types: tuple[str, ...]  # empty for dead-letter topics: they hold anything
    description: str
    # The CloudEvents source of the one service that may publish here (the broker's ACLs
    # say the same); consumers dead-letter a record from anyone else as forged. None for
    # dead-letter topics, which every consumer of the source topic writes.
    producer: str | None = None

    @property
    def is_dead_letter(self) -> bool:
        return self.name.endswith(DEAD_LETTER_SUFFIX)


class UnknownTopic(LookupError):
    """No topic of that name exists in the registry."""


def service_source(service: str) -> str:
    """The CloudEvents `source` of a platform service's events."""
    return f"urn:mpa:service:{service}"


def _types(events: tuple[type[EventData], ...]) -> tuple[str, ...]:
    return tuple(event_class.event_type for event_class in events)


MAIN_TOPICS: Final[tuple[Topic, ...]] = (
    Topic(
        name="mpa.case.v1",
        key="case_id",
        partitions=PARTITIONS,
        retention_ms=90 * _DAY_MS,
        event_types=_types(CASE_EVENTS)
        + _types(CASEWORK_EVENTS)
        + _types(PROTECTION_EVENTS)
        + _types(CROSS_BORDER_EVENTS)
        + _types(FEEDBACK_EVENTS),
        description="Case lifecycle, consent, casework (transfers, assessments, plan, "
        "follow-ups, approvals), protection (identification, reflection period, "
        "children's best interests), cross-border work (transfer consents, hand-offs) and "
        "the person's feedback on services, keyed by case so each case's changes stay in "
        "order",
        producer=service_source("intake"),
    ),
    Topic(
        name="mpa.referral.v1",
        key="case_id",
        partitions=PARTITIONS,
        retention_ms=90 * _DAY_MS,
        event_types=_types(REFERRAL_EVENTS),
        description="Referral lifecycle, keyed by case so all referrals of a case stay in order",
        producer=service_source("referral"),
    ),
    Topic(
        name="mpa.directory.v1",
        key="partner_id",
        partitions=PARTITIONS,
        retention_ms=RETAIN_FOREVER,
        event_types=_types(DIRECTORY_EVENTS),
        description="Partners and their services, keyed by partner",
        producer=service_source("referral"),
    ),
    Topic(
        name="mpa.notification.v1",
        key="partner_id",
        partitions=PARTITIONS,
        retention_ms=14 * _DAY_MS,
        event_types=_types(NOTIFICATION_EVENTS),
        description="Outcomes of every notification delivery, keyed by the partner concerned",
        producer=service_source("notification"),
    ),
    Topic(
        name="mpa.access.v1",
        key="case_id",
        partitions=PARTITIONS,
        retention_ms=90 * _DAY_MS,
        event_types=_types(ACCESS_EVENTS) + _types(SAFE_CONTACT_EVENTS),
        description="Reads of personal data, and contacts the safety profile refused, keyed "
        "by the case",
        producer=service_source("intake"),
    ),
    Topic(
        name="mpa.psea.v1",
        key="complaint_id",
        partitions=PARTITIONS,
        retention_ms=90 * _DAY_MS,
        event_types=_types(PSEA_EVENTS),
        description="Steps and deadlines of PSEA complaints (restricted records), keyed by "
        "complaint; no account, survivor or case id",
        producer=service_source("intake"),
    ),
    Topic(
        name="mpa.report.v1",
        key="export_id",
        partitions=PARTITIONS,
        retention_ms=90 * _DAY_MS,
        event_types=_types(REPORT_EVENTS),
        description="Statistics exports downloaded (who, when, which filters, how many "
        "cells), keyed by export; no personal data",
        producer=service_source("intake"),
    ),
)


def _dead_letter_of(topic: Topic) -> Topic:
    return Topic(
        name=f"{topic.name}{DEAD_LETTER_SUFFIX}",
        key=topic.key,  # a dead letter keeps its original record key
        # Same count as the source, so a replay can keep each key's order.
        partitions=topic.partitions,
        retention_ms=(
            RETAIN_FOREVER if topic.retention_ms == RETAIN_FOREVER else DEAD_LETTER_RETENTION_MS
        ),
        event_types=(),
        description=f"Records of {topic.name} that a consumer could not process",
        producer=None,
    )


DEAD_LETTER_TOPICS: Final[tuple[Topic, ...]] = tuple(_dead_letter_of(t) for t in MAIN_TOPICS)

_TOPICS_BY_NAME: Mapping[str, Topic] = MappingProxyType(
    {topic.name: topic for topic in (*MAIN_TOPICS, *DEAD_LETTER_TOPICS)}
)
_TOPIC_BY_EVENT_TYPE: Mapping[str, Topic] = MappingProxyType(
    {event_type: topic for topic in MAIN_TOPICS for event_type in topic.event_types}
)


def all_topics() -> tuple[Topic, ...]:
    """Every topic the platform needs, dead-letter topics included, main topics first."""
    return (*MAIN_TOPICS, *DEAD_LETTER_TOPICS)


def topic_named(name: str) -> Topic:
    """The topic of that name; raises UnknownTopic."""
    try:
        return _TOPICS_BY_NAME[name]
    except KeyError:
        raise UnknownTopic(name) from None


def topic_by_name(name: str) -> Topic | None:
    """The topic of that name, or None when the registry has none."""
    return _TOPICS_BY_NAME.get(name)


def topic_for_event_type(event_type: str) -> Topic:
    """The main topic an event type is published on; raises UnknownEventType."""
    try:
        return _TOPIC_BY_EVENT_TYPE[event_type]
    except KeyError:
        raise UnknownEventType(event_type) from None


def dead_letter_topic_for(name: str) -> Topic:
    """The dead-letter topic of a main topic; raises UnknownTopic for any other name."""
    topic = topic_named(name)
    if topic.is_dead_letter:
        raise UnknownTopic(f"{name} is itself a dead-letter topic")
    return topic_named(f"{name}{DEAD_LETTER_SUFFIX}")


def kafka_key_for(data: EventData) -> UUID:
    """The aggregate id that orders this event on its topic (the Kafka record key)."""
    key = getattr(data, topic_for_event_type(data.event_type).key)
    if not isinstance(key, UUID):
        raise TypeError(f"{data.event_type} has no UUID key field")
    return key
