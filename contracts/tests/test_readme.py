"""The README's hand-written catalogue and topic table stay in step with the code."""

import re

from mpa_contracts.events import EVENT_TYPES, ActorEventData
from mpa_contracts.generate import CONTRACTS_ROOT
from mpa_contracts.topics import MAIN_TOPICS

README = (CONTRACTS_ROOT / "README.md").read_text(encoding="utf-8")
# Catalogue rows: | `type` | Class | yes/no | meaning |
CATALOGUE_ROW = re.compile(r"^\| `(org\.mpa\.[a-z_.0-9]+)` \| (\w+) \| (yes|no) \|", re.MULTILINE)
TOPIC_ROW = re.compile(r"^\| `(mpa\.[a-z]+\.v\d+)` \| `(\w+)` \| (\d+) \|", re.MULTILINE)


def test_catalogue_lists_exactly_the_registered_types_with_class_and_actor() -> None:
    rows = {match[0]: (match[1], match[2]) for match in CATALOGUE_ROW.findall(README)}
    assert rows.keys() == EVENT_TYPES.keys(), (
        f"missing: {sorted(EVENT_TYPES.keys() - rows.keys())}, "
        f"not registered: {sorted(rows.keys() - EVENT_TYPES.keys())}"
    )
    for event_type, (class_name, actor) in rows.items():
        event_class = EVENT_TYPES[event_type]
        assert class_name == event_class.__name__, event_type
        assert (actor == "yes") == issubclass(event_class, ActorEventData), event_type


def test_topic_table_matches_the_registry() -> None:
    rows = TOPIC_ROW.findall(README)
    assert rows == [(t.name, t.key, str(t.partitions)) for t in MAIN_TOPICS]
