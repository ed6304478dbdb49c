"""Reusable constrained types for event payloads and envelope attributes.

Every string that crosses Kafka is an enum, a UUID, a timestamp or matches one of the
patterns below: a pattern is what stops a name or a phone number from slipping into a field.
"""

from datetime import UTC, datetime
from typing import Annotated, Final, TypeVar
from uuid import UUID

from pydantic import AfterValidator, AwareDatetime, Field

# ISO 3166-1 alpha-2, e.g. "NE" (Niger).
COUNTRY_CODE_PATTERN: Final = r"^[A-Z]{2}$"
# ISO 3166-2 subdivision code: country, hyphen, 1-3 letters or digits, e.g. "NE-8", "LY-TB",
# "GB-ENG". Events stop at this first administrative level on purpose: a district or
# village in a small community can single a person out.
ADMIN_AREA_CODE_PATTERN: Final = r"^[A-Z]{2}-[A-Z0-9]{1,3}$"
# ISO 639-1 (two letters) or ISO 639-3 (three letters), lower case, e.g. "ha", "fuv".
LANGUAGE_CODE_PATTERN: Final = r"^[a-z]{2,3}$"
# Human case reference printed on forms: year and a six-digit sequence, e.g. MPA-2026-000123.
CASE_REFERENCE_PATTERN: Final = r"^MPA-[0-9]{4}-[0-9]{6}$"
# Opaque principal id "<kind>:<local id>", e.g. "operator:u-123". No "@": never an e-mail.
ACTOR_ID_PATTERN: Final = r"^[a-z]+:[A-Za-z0-9._-]{1,64}$"
# Short code a partner is known by in reports, e.g. "NRC-NE"; never the organisation's name.
PARTNER_CODE_PATTERN: Final = r"^[A-Z][A-Z0-9-]{1,31}$"
# A team or agency (organisation unit) as the identity provider names it, e.g. "ne-niamey-cm"
# or "iom-ne": a lower-case code that starts with a letter (so never a date), never a
# person's or organisation's name.
ORG_UNIT_CODE_PATTERN: Final = r"^[a-z][a-z0-9._-]{0,63}$"
# Event type names: org.mpa.<aggregate>.<event>.v<N>.
EVENT_TYPE_PATTERN: Final = r"^org\.mpa\.[a-z][a-z_]*\.[a-z][a-z_]*\.v[1-9][0-9]*$"
# CloudEvents `source` of our producers: urn:mpa:<service>[:<component>...].
EVENT_SOURCE_PATTERN: Final = r"^urn:mpa:[a-z][a-z0-9-]*(:[a-z0-9-]+)*$"
# CloudEvents `subject`: "<entity kind>/<id>", e.g. "referral/0f8fad5b-...". No spaces.
EVENT_SUBJECT_PATTERN: Final = r"^[a-z][a-z_]*/[A-Za-z0-9-]{1,64}$"
# W3C Trace Context, version 00: version-traceid-parentid-flags.
TRACEPARENT_PATTERN: Final = r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"
# W3C tracestate: vendor list of printable ASCII, at most 512 characters.
TRACESTATE_PATTERN: Final = r"^[\x20-\x7e]{1,512}$"

CountryCode = Annotated[
    str, Field(pattern=COUNTRY_CODE_PATTERN, description="ISO 3166-1 alpha-2 country code")
]
AdminAreaCode = Annotated[
    str,
    Field(
        pattern=ADMIN_AREA_CODE_PATTERN,
        description="ISO 3166-2 first-level subdivision code",
    ),
]
LanguageCode = Annotated[
    str, Field(pattern=LANGUAGE_CODE_PATTERN, description="ISO 639-1 or ISO 639-3 code")
]
CaseReference = Annotated[
    str, Field(pattern=CASE_REFERENCE_PATTERN, description="Human case reference")
]
ActorId = Annotated[
    str, Field(pattern=ACTOR_ID_PATTERN, description="Opaque id of the acting principal")
]
OrgUnitCode = Annotated[
    str, Field(pattern=ORG_UNIT_CODE_PATTERN, description="Code of a team or an agency")
]
PartnerCode = Annotated[
    str, Field(pattern=PARTNER_CODE_PATTERN, description="Short code of a partner")
]

# Pseudonymous ids. They are all UUIDs; the aliases say which aggregate an id points at.
CaseId = Annotated[UUID, Field(description="Pseudonymous id of a case")]
NeedId = Annotated[UUID, Field(description="Id of one need within a case")]
ConsentId = Annotated[UUID, Field(description="Id of one consent record")]
ReferralId = Annotated[UUID, Field(description="Id of a referral")]
TransferId = Annotated[UUID, Field(description="Id of a transfer of responsibility")]
AssessmentId = Annotated[UUID, Field(description="Id of an assessment of a case")]
InterventionId = Annotated[UUID, Field(description="Id of an intervention of a case plan")]
FollowUpId = Annotated[UUID, Field(description="Id of a follow-up of a case")]
ApprovalId = Annotated[UUID, Field(description="Id of a request for a supervisor's approval")]
FeedbackId = Annotated[UUID, Field(description="Id of a person's feedback on a service")]
PseaComplaintId = Annotated[UUID, Field(description="Id of a PSEA complaint (restricted)")]
StatisticsExportId = Annotated[UUID, Field(description="Id of one statistics export (download)")]
PartnerId = Annotated[UUID, Field(description="Id of a partner organisation")]
ServiceId = Annotated[UUID, Field(description="Id of a partner's service")]
NotificationId = Annotated[UUID, Field(description="Id of one notification to one recipient")]
EndpointId = Annotated[UUID, Field(description="Id of a partner's webhook endpoint, never its URL")]
ContactId = Annotated[
    UUID,
    Field(description="Id of an e-mail recipient in the notification service, never the address"),
]
EventId = Annotated[UUID, Field(description="CloudEvents id of an event")]


def _as_utc(moment: datetime) -> datetime:
    # One time zone on the wire: comparisons and JSON output stay unambiguous.
    return moment.astimezone(UTC)


UtcTimestamp = Annotated[AwareDatetime, AfterValidator(_as_utc)]
"""A time-zone-aware instant, normalised to UTC. Naive datetimes are rejected."""

_Item = TypeVar("_Item")


def _reject_duplicates(items: tuple[_Item, ...]) -> tuple[_Item, ...]:
    # Most tuples on the wire hold none or one item: nothing to compare, no set to build.
    if len(items) > 1 and len(set(items)) != len(items):
        raise ValueError("items must be unique")
    return items


# An ordered set: a tuple (so JSON output keeps the producer's order) without repeats.
UniqueTuple = Annotated[
    tuple[_Item, ...],
    AfterValidator(_reject_duplicates),
    Field(json_schema_extra={"uniqueItems": True}),
]
