"""Use cases that read cases.

A read of personal data is announced: the `personal_data_accessed` event (who, which case,
which fields, why) is written to the outbox in the transaction of the read, and the data is
returned only after that commit. Lists carry no personal data and are not announced.

A partner reads only what its live referrals need, and "live" is checked twice, each check
able to refuse on its own: the grants that referral events feed, and — at the moment of the
read — the referral service itself, asked with the partner's own credentials. So one lost
or late event (a cancellation, a completion) cannot leave access open; and a referral
service that cannot answer means 503, never access. A closed case is not read by partners.

A partner reading a child's case learns none of the child's own contact (withheld, reason
`child`): it learns whom to contact instead, the appointed guardian with the contact recorded
with the appointment (disclosed as `casework.note`), or the caseworker; with neither, the
withholding says `no_guardian_or_caseworker`.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import replace
from datetime import datetime
from uuid import UUID, uuid4

from mpa_common.failures import DependencyUnavailable
from mpa_common.uow import Cause
from mpa_contracts.events.access import BreakGlassAccessV1, PersonalDataAccessedV1
from mpa_contracts.events.safe_contact import ContactWithheldV1
from mpa_contracts.vocabularies import (
    AccessPurpose,
    ActorRole,
    BreakGlassReason,
    CaseScope,
    ContactPath,
    PersonalDataField,
    ReferralState,
)
from mpa_intake.app.commands import DuplicateCheck
from mpa_intake.app.context import Actor, IntakeContext
from mpa_intake.app.ports import (
    CaseFilter,
    Grant,
    IntakeUnitOfWorkPort,
    PageCursor,
    ReferralStatus,
    ScopeFilter,
)
from mpa_intake.app.safe_contact import child_contact_view, contact_about_child
from mpa_intake.app.views import (
    CaseDetail,
    CasePage,
    ChildContactView,
    ConsentView,
    DuplicateHints,
    LocationView,
    NeedView,
    PersonView,
    PossibleDuplicate,
    SafetyView,
    case_summary,
)
from mpa_intake.domain.case import Case, CaseStatus
from mpa_intake.domain.cross_border import TransferConsent, covered
from mpa_intake.domain.disclosure import DEFAULT_PURPOSE, PURPOSES_BY_ROLE, partner_fields
from mpa_intake.domain.errors import (
    AccessDenied,
    CaseNotFound,
    FieldError,
    InvalidCase,
    OutsideScope,
)
from mpa_intake.domain.matching import match_material
from mpa_intake.domain.ownership import within
from mpa_intake.domain.personal_data import PersonalData
from mpa_intake.domain.safe_contact import (
    CONTACT_FIELDS,
    about_a_child,
    child_refusal,
    withholding_reason,
)

FULL_READERS = frozenset({ActorRole.OPERATOR, ActorRole.CASEWORKER})
# Accepted or in progress (on hold is a pause of in progress): the states in which the
# referral service itself lets a partner work the case, and the grants hold access.
LIVE_REFERRAL_STATES = frozenset(
    {ReferralState.ACCEPTED, ReferralState.IN_PROGRESS, ReferralState.ON_HOLD}
)


async def _transfer_consented(
    uow: IntakeUnitOfWorkPort, case: Case, grants: list[Grant], now: datetime
) -> list[Grant]:
    """The grants whose need is helped where the person is, or in a country a transfer
    consent in force names (a transnational referral discloses nothing without it)."""
    here = case.profile.location.country
    abroad = {
        need.need_id: need.assistance_country
        for need in case.needs
        if need.assistance_country is not None and need.assistance_country != here
    }
    if not any(grant.need_id in abroad for grant in grants):
        return grants
    consents = await uow.casework.of_case(TransferConsent, case.case_id)
    return [
        grant
        for grant in grants
        if grant.need_id not in abroad or covered(consents, abroad[grant.need_id], now)
    ]


async def read_case(
    ctx: IntakeContext,
    actor: Actor,
    case_id: UUID,
    purpose: AccessPurpose | None = None,
    break_glass: BreakGlassReason | None = None,
) -> CaseDetail:
    """The case with the personal data `actor` may see, announced as an access event.

    Operators and caseworkers read the cases within their role's read scope. Outside it, a
    read needs a break-glass reason; it is then announced a second time, as
    `break_glass_used` (whose scope it left, whose case it was), for review and for the
    owner's supervisor."""
    purpose = _purpose(actor, purpose)
    partner_id = actor.partner_id if actor.role is ActorRole.PARTNER else None
    if actor.role not in FULL_READERS and partner_id is None:
        raise AccessDenied("this role may not read personal data")
    # Asked before the transaction opens: no database connection waits on the network.
    live = await _live_referrals(ctx, actor, case_id) if partner_id is not None else None
    async with ctx.unit_of_work() as uow:
        stored = await uow.cases.get(case_id)
        if stored is None:
            raise CaseNotFound(f"no case {case_id}")
        case = stored.case
        referral_id: UUID | None = None
        need_ids: set[UUID] | None = None
        broken_glass: BreakGlassAccessV1 | None = None
        if partner_id is None:
            broken_glass = _scope_check(ctx, actor, case, break_glass)
            # The casework's free text is read through the casework view, not here.
            allowed = frozenset(PersonalDataField) - {PersonalDataField.CASEWORK_NOTE}
        else:
            assert live is not None
            grants = _still_live(await uow.grants.active_grants(case_id, partner_id), live)
            if not grants:
                raise AccessDenied("this partner holds no accepted referral for the case")
            if case.status is not CaseStatus.OPEN:
                raise AccessDenied("the case is closed")
            consent = case.consent
            if consent is None or not consent.allows_sharing_with(partner_id, ctx.clock()):
                raise AccessDenied("the person's consent does not allow sharing with this partner")
            grants = await _transfer_consented(uow, case, grants, ctx.clock())
            if not grants:
                raise AccessDenied(
                    "the person has not consented to the transfer of their data to the "
                    "country of this partner's referral"
                )
            referral_id = grants[0].referral_id
            need_ids = {grant.need_id for grant in grants}
            allowed = partner_fields(
                (need.category for need in case.needs_of(need_ids)), case.safety
            )
        case.ensure_not_erased()
        assert stored.sealed is not None
        record = ctx.vault.open(case_id, stored.sealed)
        reason = withholding_reason(case.safety)
        contact_via: ChildContactView | None = None
        child = partner_id is not None and about_a_child(
            case.profile.age_band, case.profile.vulnerabilities
        )
        if child:
            # Never the child's own contact: the guardian's, or the caseworker.
            allowed -= CONTACT_FIELDS
            via = await contact_about_child(ctx, uow, stored, record.casework_notes)
            reason = child_refusal(via)
            guardian_note = (
                record.casework_notes.get(via.guardian_appointment_id)
                if via is not None and via.guardian_appointment_id is not None
                else None
            )
            contact_via = child_contact_view(via, guardian_note)
        person = record.restricted_to(allowed, need_ids)
        disclosed = sorted(person.present_fields())
        if contact_via is not None and contact_via.guardian_contact:
            disclosed = sorted({*disclosed, PersonalDataField.CASEWORK_NOTE})
        withheld = sorted((record.present_fields() & CONTACT_FIELDS) - allowed)
        if partner_id is not None and (withheld or (child and contact_via is None)):
            # The safety profile (or the child rule) held back how to reach the person:
            # recorded, never shown.
            uow.emit(
                ContactWithheldV1(
                    actor_id=actor.actor_id,
                    actor_role=actor.role,
                    case_id=case_id,
                    path=ContactPath.PARTNER_DISCLOSURE,
                    reason=reason,
                    withheld_fields=tuple(withheld),
                    referral_id=referral_id,
                    actor_partner_id=partner_id,
                ),
                subject=f"case/{case_id}",
                cause=Cause.story(case.correlation_id),
            )
        uow.emit(
            PersonalDataAccessedV1(
                actor_id=actor.actor_id,
                actor_role=actor.role,
                case_id=case_id,
                fields=tuple(disclosed),
                purpose=purpose,
                referral_id=referral_id,
                actor_partner_id=partner_id,
            ),
            subject=f"case/{case_id}",
            cause=Cause.story(case.correlation_id),
        )
        if broken_glass is not None:
            uow.emit(
                broken_glass,
                subject=f"case/{case_id}",
                cause=Cause.story(case.correlation_id),
            )
        await uow.commit()
    detail = _detail(case, person, need_ids, disclosed, purpose, show_consent=need_ids is None)
    return detail.model_copy(update={"contact_via": contact_via}) if contact_via else detail


async def list_cases(
    ctx: IntakeContext, actor: Actor, where: CaseFilter, cursor: str | None, limit: int
) -> CasePage:
    """Cases without personal data within the actor's read scope, newest first, by keyset
    cursor."""
    after = decode_cursor(cursor) if cursor else None
    scope = ctx.scopes.read_scope(actor.role)
    where = replace(
        where, scope=None if scope is CaseScope.ALL else ScopeFilter(scope, actor.viewer)
    )
    async with ctx.unit_of_work() as uow:
        stored = await uow.cases.page(where, after, limit + 1)
    page = [item.case for item in stored[:limit]]
    next_cursor = (
        encode_cursor(PageCursor(page[-1].registered_at, page[-1].case_id))
        if len(stored) > limit
        else None
    )
    return CasePage(items=[case_summary(case) for case in page], next_cursor=next_cursor)


def _scope_check(
    ctx: IntakeContext, actor: Actor, case: Case, reason: BreakGlassReason | None
) -> BreakGlassAccessV1 | None:
    """None when the case is within the actor's read scope; the break-glass event when it
    is not and a reason was given; otherwise refused."""
    scope = ctx.scopes.read_scope(actor.role)
    if within(scope, case.ownership, actor.viewer):
        return None
    if reason is None:
        raise OutsideScope(
            f"this case is outside the {scope} scope this role reads; a break-glass read "
            "needs a reason (break_glass)"
        )
    owner = case.ownership
    return BreakGlassAccessV1(
        actor_id=actor.actor_id,
        actor_role=actor.role,
        case_id=case.case_id,
        reason=reason,
        actor_scope=scope,
        actor_team=actor.team,
        actor_agency=actor.agency,
        actor_country=actor.country,
        owner_id=owner.owner_id,
        owner_team=owner.team,
        owner_agency=owner.agency,
        owner_country=owner.country,
    )


async def _live_referrals(
    ctx: IntakeContext, actor: Actor, case_id: UUID
) -> dict[UUID, ReferralStatus]:
    """The partner's referrals of the case that the referral service shows as live now."""
    if ctx.referrals is None or actor.credentials is None:
        raise DependencyUnavailable("referral", "no referral service to confirm partner access")
    return {
        status.referral_id: status
        for status in await ctx.referrals.referrals_of_case(case_id, actor.credentials)
        if status.case_id == case_id
        and status.partner_id == actor.partner_id
        and status.state in LIVE_REFERRAL_STATES
    }


def _still_live(grants: list[Grant], live: dict[UUID, ReferralStatus]) -> list[Grant]:
    """The grants the referral service confirms: same referral, same need, live."""
    return [
        grant
        for grant in grants
        if grant.referral_id in live and live[grant.referral_id].need_id == grant.need_id
    ]


def encode_cursor(cursor: PageCursor) -> str:
    text = f"{cursor.registered_at.isoformat()}|{cursor.case_id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> PageCursor:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, case_id = text.split("|")
        return PageCursor(datetime.fromisoformat(moment), UUID(case_id))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidCase([FieldError("query.cursor", "not a cursor this API issued")]) from None


def _purpose(actor: Actor, purpose: AccessPurpose | None) -> AccessPurpose:
    allowed = PURPOSES_BY_ROLE.get(actor.role, frozenset())
    if purpose is None:
        default = DEFAULT_PURPOSE.get(actor.role)
        if default is None:
            raise AccessDenied("this role may not read personal data")
        return default
    if purpose not in allowed:
        raise InvalidCase(
            [FieldError("query.purpose", f"not a purpose for which a {actor.role} may read")]
        )
    return purpose


def _detail(
    case: Case,
    person: PersonalData,
    need_ids: set[UUID] | None,
    disclosed: list[PersonalDataField],
    purpose: AccessPurpose,
    *,
    show_consent: bool,
) -> CaseDetail:
    profile = case.profile
    needs = case.needs if need_ids is None else case.needs_of(need_ids)
    return CaseDetail(
        case_id=case.case_id,
        reference=case.reference,
        status=case.status,
        age_band=profile.age_band,
        person=PersonView(
            given_name=person.given_name,
            family_name=person.family_name,
            date_of_birth=person.date_of_birth,
            estimated_age=person.estimated_age,
            sex=profile.sex,
            gender_identity=person.gender_identity,
            nationality=profile.nationality,
            languages=list(profile.languages),
            phone=person.phone,
            email=person.email,
        ),
        location=LocationView(
            country=profile.location.country,
            admin_area=profile.location.admin_area,
            place=person.place,
        ),
        vulnerabilities=list(profile.vulnerabilities),
        needs=[
            NeedView(
                need_id=need.need_id,
                category=need.category,
                urgency=need.urgency,
                assistance_country=need.assistance_country,
                added_at=need.added_at,
                note=person.need_notes.get(need.need_id),
            )
            for need in needs
        ],
        consent=ConsentView.of(case.consent) if show_consent and case.consent else None,
        safety=SafetyView(
            do_not_contact=case.safety.do_not_contact,
            safe_contact_method=case.safety.safe_contact_method,
            safe_contact_details=person.safe_contact_details,
            safe_times=list(case.safety.safe_times),
            voicemail_allowed=case.safety.voicemail_allowed,
        ),
        registered_at=case.registered_at,
        updated_at=case.updated_at,
        closed_at=case.closed_at,
        disclosed_fields=disclosed,
        access_purpose=purpose,
    )


async def find_possible_duplicates(ctx: IntakeContext, check: DuplicateCheck) -> DuplicateHints:
    """Open cases that may be about the person described, before they are registered.

    The same keyed-hash comparison as at registration; only ids and references come back,
    so the answer discloses no personal data (and is not an access event)."""
    person = PersonalData(
        given_name=check.given_name or "",
        family_name=check.family_name or "",
        date_of_birth=check.date_of_birth,
        phone=check.phone,
    )
    digests = {
        kind: ctx.matcher.match_digest(kind, material)
        for kind, material in match_material(person).items()
    }
    async with ctx.unit_of_work() as uow:
        repository = uow.cases
        found = []
        for case_id in await repository.possible_duplicates(digests, excluding=uuid4()):
            stored = await repository.get(case_id)
            if stored is not None:
                found.append(
                    PossibleDuplicate(
                        case_id=case_id,
                        reference=stored.case.reference,
                        registered_at=stored.case.registered_at,
                    )
                )
    return DuplicateHints(possible_duplicates=found)
