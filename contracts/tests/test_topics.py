"""Topic registry: every event type on exactly one topic, keys that exist, dead letters."""

from uuid import UUID

import pytest

from mpa_contracts.events import EVENT_TYPES, UnknownEventType
from mpa_contracts.examples import EXAMPLES
from mpa_contracts.topics import (
    DEAD_LETTER_TOPICS,
    MAIN_TOPICS,
    RETAIN_FOREVER,
    UnknownTopic,
    all_topics,
    dead_letter_topic_for,
    kafka_key_for,
    topic_for_event_type,
    topic_named,
)

EXPECTED_MAIN_TOPICS = [
    "mpa.case.v1",
    "mpa.referral.v1",
    "mpa.directory.v1",
    "mpa.notification.v1",
    "mpa.access.v1",
    "mpa.psea.v1",
    "mpa.report.v1",
]


def test_main_topics_are_the_five_aggregates_with_six_partitions() -> None:
    assert [topic.name for topic in MAIN_TOPICS] == EXPECTED_MAIN_TOPICS
    assert all(topic.partitions == 6 for topic in all_topics())


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_every_event_type_is_on_exactly_one_topic(event_type: str) -> None:
    holders = [topic.name for topic in all_topics() if event_type in topic.event_types]
    assert len(holders) == 1, f"{event_type} is on {holders or 'no topic'}"
    assert topic_for_event_type(event_type).name == holders[0]


def test_topics_carry_only_registered_types() -> None:
    on_topics = [event_type for topic in all_topics() for event_type in topic.event_types]
    assert sorted(on_topics) == sorted(EVENT_TYPES)


def test_aggregate_of_each_type_matches_its_topic() -> None:
    # org.mpa.<aggregate>.<event>.vN is published on mpa.<aggregate>.v1.
    for event_type in EVENT_TYPES:
        aggregate = event_type.split(".")[2]
        assert topic_for_event_type(event_type).name == f"mpa.{aggregate}.v1"


def test_keys_follow_the_aggregate_that_must_stay_ordered() -> None:
    keys = {topic.name: topic.key for topic in MAIN_TOPICS}
    assert keys == {
        "mpa.case.v1": "case_id",
        "mpa.referral.v1": "case_id",
        "mpa.directory.v1": "partner_id",
        "mpa.notification.v1": "partner_id",
        "mpa.access.v1": "case_id",
        "mpa.psea.v1": "complaint_id",
        "mpa.report.v1": "export_id",
    }


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_every_payload_carries_its_topic_key_as_a_required_uuid(event_type: str) -> None:
    key_field = topic_for_event_type(event_type).key
    field = EVENT_TYPES[event_type].model_fields.get(key_field)
    assert field is not None, f"{event_type} lacks {key_field}"
    assert field.is_required()
    assert field.annotation is UUID
    assert kafka_key_for(EXAMPLES[event_type]) == getattr(EXAMPLES[event_type], key_field)


def test_each_main_topic_has_a_dead_letter_topic_with_longer_or_endless_retention() -> None:
    assert [topic.name for topic in DEAD_LETTER_TOPICS] == [
        f"{name}.dlq" for name in EXPECTED_MAIN_TOPICS
    ]
    for topic in MAIN_TOPICS:
        dead_letter = dead_letter_topic_for(topic.name)
        assert dead_letter.is_dead_letter
        assert not topic.is_dead_letter
        assert dead_letter.event_types == ()
        if topic.retention_ms == RETAIN_FOREVER:
            assert dead_letter.retention_ms == RETAIN_FOREVER
        else:
            assert dead_letter.retention_ms > topic.retention_ms


def test_all_topics_lists_main_topics_then_dead_letters_without_repeats() -> None:
    names = [topic.name for topic in all_topics()]
    assert names == EXPECTED_MAIN_TOPICS + [f"{name}.dlq" for name in EXPECTED_MAIN_TOPICS]
    assert len(set(names)) == len(names)


def test_bounded_retention_for_topics_that_describe_people() -> None:
    for name in ("mpa.case.v1", "mpa.referral.v1", "mpa.access.v1", "mpa.notification.v1"):
        assert topic_named(name).retention_ms > 0


def test_lookups_of_unknown_names_raise() -> None:
    with pytest.raises(UnknownTopic):
        topic_named("mpa.nothing.v1")
    with pytest.raises(UnknownTopic):
        dead_letter_topic_for("mpa.case.v1.dlq")
    with pytest.raises(UnknownEventType):
        topic_for_event_type("org.mpa.case.exploded.v1")
