"""Event payload models, one module per aggregate, and the registry of event types."""

from mpa_contracts.events.base import ActorEventData, ContractModel, EventData
from mpa_contracts.events.registry import EVENT_TYPES, UnknownEventType, event_class_for

__all__ = [
    "EVENT_TYPES",
    "ActorEventData",
    "ContractModel",
    "EventData",
    "UnknownEventType",
    "event_class_for",
]
