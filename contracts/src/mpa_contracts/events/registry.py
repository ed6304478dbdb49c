"""Registry of event types: type name -> payload class."""

from collections.abc import Mapping
from types import MappingProxyType

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
from mpa_contracts.events.report import REPORT_EVENTS
from mpa_contracts.events.safe_contact import SAFE_CONTACT_EVENTS


class UnknownEventType(LookupError):
    """No payload class is registered for an event type name."""


def _build_registry(*groups: tuple[type[EventData], ...]) -> Mapping[str, type[EventData]]:
    registry: dict[str, type[EventData]] = {}
    for group in groups:
        for event_class in group:
            if event_class.event_type in registry:
                raise TypeError(f"event type {event_class.event_type} is registered twice")
            registry[event_class.event_type] = event_class
    return MappingProxyType(registry)


EVENT_TYPES: Mapping[str, type[EventData]] = _build_registry(
    CASE_EVENTS,
    CASEWORK_EVENTS,
    PROTECTION_EVENTS,
    CROSS_BORDER_EVENTS,
    FEEDBACK_EVENTS,
    REFERRAL_EVENTS,
    DIRECTORY_EVENTS,
    NOTIFICATION_EVENTS,
    ACCESS_EVENTS,
    SAFE_CONTACT_EVENTS,
    PSEA_EVENTS,
    REPORT_EVENTS,
)


def event_class_for(event_type: str) -> type[EventData]:
    """The payload class of an event type; raises UnknownEventType when none is registered."""
    try:
        return EVENT_TYPES[event_type]
    except KeyError:
        raise UnknownEventType(event_type) from None
