"""Events of the service directory (topic `mpa.directory.v1`, key `partner_id`).

Keyed by partner so a partner's deactivation is ordered after its services' changes.
Registered and updated events carry the whole description, so a consumer can rebuild
the directory from the latest event of each partner and service.
"""

from typing import Annotated, Self

from pydantic import AfterValidator, Field, model_validator

from mpa_contracts.events.base import ActorEventData, ContractModel, EventData
from mpa_contracts.types import (
    AdminAreaCode,
    CountryCode,
    LanguageCode,
    PartnerCode,
    PartnerId,
    ServiceId,
    UniqueTuple,
)
from mpa_contracts.vocabularies import (
    AgeBand,
    DeactivationReason,
    NeedCategory,
    PartnerType,
    ServiceStatus,
    Sex,
    Vulnerability,
)


class CoverageArea(ContractModel):
    """A country a service covers, whole or in some first-level subdivisions."""

    country: CountryCode
    admin_areas: UniqueTuple[AdminAreaCode] = Field(
        default=(), description="Subdivisions covered; empty means the whole country"
    )

    @model_validator(mode="after")
    def _admin_areas_in_country(self) -> Self:
        if any(not area.startswith(f"{self.country}-") for area in self.admin_areas):
            raise ValueError("admin_areas must be subdivisions of country")
        return self


def _one_area_per_country(areas: tuple[CoverageArea, ...]) -> tuple[CoverageArea, ...]:
    if len({area.country for area in areas}) != len(areas):
        raise ValueError("each country may appear once in coverage")
    return areas


Coverage = Annotated[tuple[CoverageArea, ...], AfterValidator(_one_area_per_country)]


class PartnerDescriptionData(ActorEventData):
    """What the directory knows about a partner; shared by registered and updated."""

    partner_id: PartnerId
    partner_code: PartnerCode
    partner_type: PartnerType
    countries: UniqueTuple[CountryCode] = Field(
        min_length=1, description="Countries the partner operates in"
    )


class PartnerRegisteredV1(PartnerDescriptionData):
    """A partner organisation joined the directory."""

    event_type = "org.mpa.directory.partner_registered.v1"


class PartnerUpdatedV1(PartnerDescriptionData):
    """A partner's description changed; carries the full new description."""

    event_type = "org.mpa.directory.partner_updated.v1"


class PartnerDeactivatedV1(ActorEventData):
    """A partner left the directory; its services take no more referrals."""

    event_type = "org.mpa.directory.partner_deactivated.v1"

    partner_id: PartnerId
    reason: DeactivationReason


class ServiceDescriptionData(ActorEventData):
    """What routing needs to know about a service; shared by registered and updated."""

    service_id: ServiceId
    partner_id: PartnerId
    category: NeedCategory
    status: ServiceStatus
    coverage: Coverage = Field(min_length=1)
    languages: UniqueTuple[LanguageCode] = Field(min_length=1)
    age_bands: UniqueTuple[AgeBand] = Field(min_length=1, description="Age bands served")
    sexes: UniqueTuple[Sex] = Field(min_length=1, description="Sexes served")
    vulnerability_focus: UniqueTuple[Vulnerability] = Field(
        default=(), description="Profiles the service specialises in; empty: no focus"
    )
    response_time_hours: int = Field(
        ge=1, le=720, description="Hours the partner commits to accept or decline within"
    )
    available_slots: int | None = Field(
        default=None, ge=0, description="Places free now; absent when capacity is not tracked"
    )


class ServiceRegisteredV1(ServiceDescriptionData):
    """A partner's service joined the directory."""

    event_type = "org.mpa.directory.service_registered.v1"


class ServiceUpdatedV1(ServiceDescriptionData):
    """A service's description changed; carries the full new description."""

    event_type = "org.mpa.directory.service_updated.v1"


class ServiceDeactivatedV1(ActorEventData):
    """A service left the directory; referrals it holds are re-routed."""

    event_type = "org.mpa.directory.service_deactivated.v1"

    service_id: ServiceId
    partner_id: PartnerId
    reason: DeactivationReason


class ServiceCapacityChangedV1(ActorEventData):
    """A service's free places changed (set by partner staff or by the partner's system)."""

    event_type = "org.mpa.directory.service_capacity_changed.v1"

    service_id: ServiceId
    partner_id: PartnerId
    available_slots: int = Field(ge=0)
    total_slots: int | None = Field(default=None, ge=0, description="Absent when not known")

    @model_validator(mode="after")
    def _available_within_total(self) -> Self:
        if self.total_slots is not None and self.available_slots > self.total_slots:
            raise ValueError("available_slots must not exceed total_slots")
        return self


DIRECTORY_EVENTS: tuple[type[EventData], ...] = (
    PartnerRegisteredV1,
    PartnerUpdatedV1,
    PartnerDeactivatedV1,
    ServiceRegisteredV1,
    ServiceUpdatedV1,
    ServiceDeactivatedV1,
    ServiceCapacityChangedV1,
)
