"""Events of the statistics exports (topic `mpa.report.v1`, key `export_id`): who downloaded
which figures, when, with which filters, and how much they held.

An export holds no personal data and these events hold none either: the actor, the scope
and filters of the export (codes and dates the caller chose) and counts. The audit log keeps
them, so oversight can answer "who took which figures out of the platform".
"""

from pydantic import Field

from mpa_contracts.events.base import ActorEventData, EventData
from mpa_contracts.types import CountryCode, OrgUnitCode, StatisticsExportId, UtcTimestamp
from mpa_contracts.vocabularies import CaseScope, StatisticsReport


class StatisticsExportedV1(ActorEventData):
    """Someone downloaded a statistics export (figures without identities)."""

    event_type = "org.mpa.report.statistics_exported.v1"

    export_id: StatisticsExportId
    report: StatisticsReport
    generated_at: UtcTimestamp = Field(description="When the figures were computed")
    scope: CaseScope = Field(description="The read scope the export covered")
    scope_team: OrgUnitCode | None = Field(
        default=None, description="The team of a team-scoped export"
    )
    scope_agency: OrgUnitCode | None = Field(
        default=None, description="The agency of an agency-scoped export"
    )
    scope_country: CountryCode | None = Field(
        default=None, description="The country office of a country-scoped export"
    )
    registered_from: UtcTimestamp | None = Field(
        default=None, description="Filter: cases registered at or after"
    )
    registered_before: UtcTimestamp | None = Field(
        default=None, description="Filter: cases registered before"
    )
    k: int = Field(ge=1, description="Every published cell counts at least k people")
    rows: int = Field(ge=0, description="Cells (rows) the export held")
    cases_included: int = Field(ge=0, description="Cases counted in the published cells")
    cases_generalised: int = Field(ge=0, description="Cases published with a value withheld")
    cases_suppressed: int = Field(
        ge=0, description="Cases left out: their group stayed smaller than k"
    )


REPORT_EVENTS: tuple[type[EventData], ...] = (StatisticsExportedV1,)
