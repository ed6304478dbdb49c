"""Base classes of all event payloads (the CloudEvents `data`)."""

import re
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from mpa_contracts.types import EVENT_TYPE_PATTERN, ActorId
from mpa_contracts.vocabularies import ActorRole


class ContractModel(BaseModel):
    """A value object inside a payload: immutable, and unknown properties are an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class EventData(ContractModel):
    """Payload of one event type. Subclasses set `event_type`, versioned in its name.

    Payloads carry no personal data: only pseudonymous ids, codes, counts, flags and
    system timestamps. The test suite walks every schema to hold that line.
    """

    event_type: ClassVar[str]

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        # Catch a misspelt type name at import time rather than on the broker.
        event_type = cls.__dict__.get("event_type")
        if event_type is not None and not re.fullmatch(EVENT_TYPE_PATTERN, event_type):
            raise TypeError(f"{cls.__name__}.event_type does not match {EVENT_TYPE_PATTERN}")

    @classmethod
    def is_concrete(cls) -> bool:
        """Whether this class is a real event type rather than an intermediate base."""
        return "event_type" in cls.__dict__


class ActorEventData(EventData):
    """Payload of an event that a principal's action caused: says who acted, in what role."""

    actor_id: ActorId
    actor_role: ActorRole = Field(description="Role the actor acted in")
