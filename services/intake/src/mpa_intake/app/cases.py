"""Use cases that change a case. Each is one unit of work: load (locking the case row),
apply the domain rules, save, emit events through the outbox, commit once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID, uuid4

from mpa_common.uow import Cause
from mpa_contracts.envelope import Envelope, new_envelope
from mpa_contracts.events.base import EventData
from mpa_contracts.events.case import (
    CaseClosedV1,
    CaseNeedsAddedV1,
    CasePersonalDataErasedV1,
    CaseRegisteredV1,
    CaseUpdatedV1,
    ConsentRecordedV1,
    ConsentWithdrawnV1,
    RoutingProfile,
)
from mpa_contracts.vocabularies import ErasureBasis, PersonalDataField
from mpa_intake.app.commands import (
    AddNeeds,
    CloseCase,
    ConsentChange,
    ConsentDetails,
    NeedInput,
    RecordConsent,
    RegisterCase,
    UpdateCase,
)
from mpa_intake.app.context import EVENT_SOURCE, Actor, IntakeContext
from mpa_intake.app.ports import (
    REFERENCE_AT_COMMIT,
    CaseRepository,
    IntakeUnitOfWorkPort,
    KeyedResponse,
    SealedPersonalData,
    StoredCase,
    UndecryptableData,
)
from mpa_intake.app.views import (
    CaseSummary,
    ConsentState,
    ConsentView,
    ErasureResult,
    NeedsAdded,
    RegistrationResult,
    case_summary,
)
from mpa_intake.domain.case import (
    Case,
    CaseStatus,
    NeedEntry,
    person_rule_errors,
    profile_rule_errors,
    routing_profile,
)
from mpa_intake.domain.casework import Approval, ReferralProgress
from mpa_intake.domain.consent import ConsentRecord, consent_rule_errors
from mpa_intake.domain.cross_border import Handoff
from mpa_intake.domain.errors import (
    CaseConflict,
    CaseNotFound,
    FieldError,
    IdempotencyConflict,
    InvalidCase,
    OutsideScope,
)
from mpa_intake.domain.matching import MatchKind, match_material
from mpa_intake.domain.ownership import Ownership, within
from mpa_intake.domain.personal_data import PersonalData, age_band_of

_PERSON_FIELDS = (
    "given_name",
    "family_name",
    "date_of_birth",
    "estimated_age",
    "gender_identity",
    "phone",
    "email",
)


class _LostIdempotencyRace(Exception):
    """The Idempotency-Key is taken: by an earlier request, or by a concurrent one that
    committed first."""


@dataclass(frozen=True)
class _Registration:
    """A validated, encrypted new case, ready to be stored."""

    case: Case
    sealed: SealedPersonalData
    digests: dict[MatchKind, bytes]


async def register_case(
    ctx: IntakeContext, actor: Actor, command: RegisterCase, idempotency_key: str | None = None
) -> RegistrationResult:
    """Registers a case in one transaction, ONE statement outside any transaction block
    (`commit_registration`): the idempotency check and record, the case, its reference
    number and its outbox event commit together or not at all. With an
    Idempotency-Key, a repeat returns the first result.

    References stay gap-free: the number is taken as the transaction commits (see
    `ports.ReferenceCounter`), and the registration event is given it then, so a failure
    anywhere — a lost idempotency race included — takes none."""
    digest = ctx.matcher.request_digest(command.model_dump_json().encode())
    try:
        async with ctx.unit_of_work() as uow:
            # No transaction block: the reads are each their own, and the registration is
            # ONE statement that commits by itself (no BEGIN and COMMIT round trips).
            await uow.without_transaction()
            # No lookup of the key first: a first request (the common case) records it in
            # the case's own INSERT, and finding it taken there is the cue to answer as
            # the first request did (below).
            try:
                registration = _prepare_registration(ctx, actor, command)
            except InvalidCase:
                # A repeat is answered whatever today's rules say of its body.
                if idempotency_key is not None:
                    replay = await _replay(uow, actor, idempotency_key, digest)
                    if replay is not None:
                        return replay
                raise
            case = registration.case
            result = RegistrationResult(
                case_id=case.case_id,
                reference="",  # a replay reads it from the case: it does not exist yet
                status=case.status,
                need_ids=[need.need_id for need in case.needs],
                consent_scopes=list(case.consent.scopes) if case.consent else [],
                # Found by the registration's own statement, which also writes them into
                # the idempotency record's body.
                possible_duplicates=[],
                registered_at=case.registered_at,
            )
            first_response = (
                KeyedResponse(
                    actor.subject, idempotency_key, digest, 201, result.model_dump(mode="json")
                )
                if idempotency_key is not None
                else None
            )
            uow.emit_envelope(_registered(actor, case))
            registered = await uow.commit_registration(
                case,
                registration.sealed,
                match_keys=registration.digests,
                first_response=first_response,
            )
            if not registered.recorded:
                # The key was used before, or a twin with it committed after our
                # statement began: ours wrote nothing, and the first answer is the answer.
                raise _LostIdempotencyRace
            reference = await uow.references.assigned(case.case_id)
            return result.model_copy(
                update={
                    "reference": reference,
                    "possible_duplicates": registered.possible_duplicates,
                }
            )
    except _LostIdempotencyRace:
        assert idempotency_key is not None
        async with ctx.unit_of_work() as uow:
            replay = await _replay(uow, actor, idempotency_key, digest)
        assert replay is not None
        return replay


async def _replay(
    uow: IntakeUnitOfWorkPort, actor: Actor, key: str, digest: bytes
) -> RegistrationResult | None:
    stored = await uow.idempotency.get(actor.subject, key)
    if stored is None:
        return None
    if stored.request_digest != digest:
        raise IdempotencyConflict("this Idempotency-Key was used with a different request body")
    result = RegistrationResult.model_validate(stored.body)
    if not result.reference:
        registered = await uow.cases.get(result.case_id)
        assert registered is not None  # recorded in the case's own transaction
        result = result.model_copy(update={"reference": registered.case.reference})
    return result


def _registered(actor: Actor, case: Case) -> Envelope:
    """The registration event. It starts the case's story, and its id was chosen with the
    case (the case's correlation id): that is how the commit finds it to give it the
    case's reference."""
    return new_envelope(
        CaseRegisteredV1(
            actor_id=actor.actor_id,
            actor_role=actor.role,
            case_id=case.case_id,
            case_reference=REFERENCE_AT_COMMIT,
            profile=case.profile,
            needs=tuple(need.as_contract() for need in case.needs),
            consent=case.consent.as_contract() if case.consent else None,
            safety=case.safety,
        ),
        source=EVENT_SOURCE,
        subject=f"case/{case.case_id}",
    ).model_copy(update={"id": case.correlation_id, "correlation_id": case.correlation_id})


def _prepare_registration(ctx: IntakeContext, actor: Actor, command: RegisterCase) -> _Registration:
    """Validates the case rules and encrypts the personal data; no I/O."""
    now = ctx.clock()
    case_id = uuid4()
    needs = [_need_entry(need, now) for need in command.needs]
    person = PersonalData(
        **command.person.model_dump(include=set(_PERSON_FIELDS)),
        place=command.location.place,
        safe_contact_details=command.safety.safe_contact_details,
        need_notes={
            entry.need_id: need.note
            for entry, need in zip(needs, command.needs, strict=True)
            if need.note
        },
    )
    consent = (
        _consent_record(command.consent.details, actor, now)
        if command.consent.details is not None
        else None
    )
    profile = _profile(person, command, now.date())
    errors = [
        *person_rule_errors(person, now.date(), field="body.person"),
        *profile_rule_errors(profile, field="body.vulnerabilities"),
    ]
    if consent is not None:
        errors += consent_rule_errors(
            consent, profile.age_band, field="body.consent.details", now=now
        )
    if errors:
        raise InvalidCase(errors)
    case = Case(
        case_id=case_id,
        reference="",  # allocated when stored
        status=CaseStatus.OPEN,
        correlation_id=uuid4(),  # the registration event's id: it starts the case's story
        profile=profile,
        safety=command.safety.flags(),
        needs=needs,
        consent=consent,
        registered_at=now,
        registered_by=actor.actor_id,
        updated_at=now,
        # The registering caseworker owns it, in their team, agency and country office
        # (the case's country when the token names none).
        ownership=Ownership(
            owner_id=actor.actor_id,
            team=actor.team,
            agency=actor.agency,
            country=actor.country or command.location.country,
        ),
    )
    return _Registration(case, ctx.vault.seal_new(case_id, person), _match_digests(ctx, person))


async def update_case(
    ctx: IntakeContext, actor: Actor, case_id: UUID, command: UpdateCase
) -> CaseSummary:
    async with ctx.unit_of_work() as uow:
        repository = uow.cases
        stored = await _load_for_change(ctx, actor, repository, case_id)
        case = stored.case
        case.ensure_open()
        case.ensure_not_erased()
        now = ctx.clock()
        person = _patched_person(ctx.vault.open(case_id, _sealed(stored)), command)
        profile = _patched_profile(case.profile, person, command, now.date())
        errors = [
            *person_rule_errors(person, now.date(), field="body.person"),
            *profile_rule_errors(profile, field="body.vulnerabilities"),
        ]
        if errors:
            raise InvalidCase(errors)
        safety = command.safety.flags() if command.safety is not None else case.safety
        case.update_profile(profile, safety, now)
        await repository.update(case)
        await repository.store_personal_data(
            case_id, ctx.vault.reseal(case_id, _sealed(stored), person)
        )
        await repository.replace_match_keys(case_id, _match_digests(ctx, person))
        _emit(
            uow,
            CaseUpdatedV1(
                actor_id=actor.actor_id,
                actor_role=actor.role,
                case_id=case_id,
                profile=profile,
                safety=safety,
            ),
            case_id,
            correlation_id=case.correlation_id,
        )
        await uow.commit()
        return case_summary(case)


async def add_needs(
    ctx: IntakeContext, actor: Actor, case_id: UUID, command: AddNeeds
) -> NeedsAdded:
    async with ctx.unit_of_work() as uow:
        repository = uow.cases
        stored = await _load_for_change(ctx, actor, repository, case_id)
        case = stored.case
        now = ctx.clock()
        needs = [_need_entry(need, now) for need in command.needs]
        first = len(case.needs)
        case.add_needs(needs, now)
        notes = {
            entry.need_id: need.note
            for entry, need in zip(needs, command.needs, strict=True)
            if need.note
        }
        if notes:
            person = ctx.vault.open(case_id, _sealed(stored))
            person = person.model_copy(update={"need_notes": {**person.need_notes, **notes}})
            await repository.store_personal_data(
                case_id, ctx.vault.reseal(case_id, _sealed(stored), person)
            )
        await repository.add_needs(case_id, needs, added_by=actor.actor_id, first=first)
        await repository.update(case)
        _emit(
            uow,
            CaseNeedsAddedV1(
                actor_id=actor.actor_id,
                actor_role=actor.role,
                case_id=case_id,
                needs=tuple(need.as_contract() for need in needs),
            ),
            case_id,
            correlation_id=case.correlation_id,
        )
        await uow.commit()
        return NeedsAdded(case_id=case_id, need_ids=[need.need_id for need in needs])


async def change_consent(
    ctx: IntakeContext, actor: Actor, case_id: UUID, command: ConsentChange
) -> ConsentState:
    """Records a new consent, or withdraws scopes of the current one."""
    async with ctx.unit_of_work() as uow:
        repository = uow.cases
        case = (await _load_for_change(ctx, actor, repository, case_id)).case
        now = ctx.clock()
        event: EventData
        if isinstance(command, RecordConsent):
            consent = _consent_record(command.consent, actor, now)
            errors = consent_rule_errors(
                consent, case.profile.age_band, field="body.consent", now=now
            )
            if errors:
                raise InvalidCase(errors)
            case.record_consent(consent, now)
            await repository.replace_consent(case_id, consent)
            contract = consent.as_contract()
            assert contract is not None  # a recorded consent has at least one scope
            event = ConsentRecordedV1(
                actor_id=actor.actor_id, actor_role=actor.role, case_id=case_id, consent=contract
            )
        else:
            withdrawn = tuple(command.scopes)
            before = case.withdraw_consent(withdrawn, now)
            assert case.consent is not None
            await repository.update_consent_scopes(case.consent)
            event = ConsentWithdrawnV1(
                actor_id=actor.actor_id,
                actor_role=actor.role,
                case_id=case_id,
                consent_id=before.consent_id,
                withdrawn_scopes=withdrawn,
            )
        await repository.update(case)
        _emit(uow, event, case_id, correlation_id=case.correlation_id)
        await uow.commit()
        return ConsentState(
            case_id=case_id,
            consent=ConsentView.of(case.consent) if case.consent is not None else None,
        )


async def close_case(
    ctx: IntakeContext, actor: Actor, case_id: UUID, command: CloseCase
) -> CaseSummary:
    """Closes a case when every referral intake knows of is finished (completed, failed,
    cancelled, unroutable), or with a supervisor's approved closure request of the case
    (`approval_id`), which closes it once whatever its referrals (the referral service then
    cancels those still open)."""
    async with ctx.unit_of_work() as uow:
        repository = uow.cases
        case = (await _load_for_change(ctx, actor, repository, case_id)).case
        case.ensure_open()
        now = ctx.clock()
        if any(h.is_open for h in await uow.casework.of_case(Handoff, case_id)):
            # The receiving office accepted (or is asked to accept) responsibility: the
            # hand-off ends first, by arrival or by being cancelled.
            raise CaseConflict("a cross-border hand-off of the case is under way")
        if command.approval_id is not None:
            approval = await uow.casework.get(Approval, command.approval_id, for_update=True)
            if approval is None or approval.case_id != case_id:
                raise InvalidCase(
                    [FieldError("body.approval_id", "not an approval request of this case")]
                )
            approval.use_for_closure(now)
            await uow.casework.save(approval)
        else:
            unfinished = [
                r
                for r in await uow.casework.of_case(ReferralProgress, case_id)
                if not r.is_finished
            ]
            if unfinished:
                raise CaseConflict(
                    f"{len(unfinished)} referral(s) of the case are not finished; closing "
                    "it needs a supervisor's approved closure request (approval_id)"
                )
        case.close(command.reason, now)
        await repository.update(case)
        _emit(
            uow,
            CaseClosedV1(
                actor_id=actor.actor_id,
                actor_role=actor.role,
                case_id=case_id,
                reason=command.reason,
                approval_id=command.approval_id,
            ),
            case_id,
            correlation_id=case.correlation_id,
        )
        await uow.commit()
        return case_summary(case)


async def erase_personal_data(
    ctx: IntakeContext, actor: Actor, case_id: UUID, basis: ErasureBasis
) -> ErasureResult:
    """Crypto-shredding: the data key and ciphertext are destroyed, the case stays as a
    tombstone with its pseudonymous attributes, and consumers erase their copies."""
    async with ctx.unit_of_work() as uow:
        repository = uow.cases
        stored = await _load_for_change(ctx, actor, repository, case_id)
        case = stored.case
        case.ensure_not_erased()
        try:
            fields = ctx.vault.open(case_id, _sealed(stored)).present_fields()
        except UndecryptableData:
            # Its master key is gone already: erase anyway and name every field it could hold.
            fields = frozenset(PersonalDataField)
        now = ctx.clock()
        case.erase(basis, now)
        await repository.update(case)
        await repository.shred_personal_data(case_id)
        erased = sorted(fields)
        _emit(
            uow,
            CasePersonalDataErasedV1(
                actor_id=actor.actor_id,
                actor_role=actor.role,
                case_id=case_id,
                basis=basis,
                erased_fields=tuple(erased),
            ),
            case_id,
            correlation_id=case.correlation_id,
        )
        await uow.commit()
        return ErasureResult(case_id=case_id, basis=basis, erased_fields=erased, erased_at=now)


# --- helpers -----------------------------------------------------------------------------------


def _emit(
    uow: IntakeUnitOfWorkPort, data: EventData, case_id: UUID, *, correlation_id: UUID
) -> Envelope:
    """Queues an event of the case's story (one correlation id from registration on)."""
    return uow.emit(data, subject=f"case/{case_id}", cause=Cause.story(correlation_id))


async def _load_for_change(
    ctx: IntakeContext, actor: Actor, repository: CaseRepository, case_id: UUID
) -> StoredCase:
    """The case, locked for this transaction, if it lies within the actor's write scope."""
    stored = await repository.get(case_id, for_update=True)
    if stored is None:
        raise CaseNotFound(f"no case {case_id}")
    scope = ctx.scopes.write_scope(actor.role)
    if not within(scope, stored.case.ownership, actor.viewer):
        raise OutsideScope(f"this case is outside the {scope} scope this role may change")
    return stored


async def _load_for_read(
    ctx: IntakeContext, actor: Actor, uow: IntakeUnitOfWorkPort, case_id: UUID
) -> tuple[StoredCase, Mapping[UUID, str]]:
    """The case, locked for this transaction, if it lies within the actor's read scope;
    with its casework notes opened (none once erased). Whoever shows the notes announces
    the read."""
    stored = await uow.cases.get(case_id, for_update=True)
    if stored is None:
        raise CaseNotFound(f"no case {case_id}")
    scope = ctx.scopes.read_scope(actor.role)
    if not within(scope, stored.case.ownership, actor.viewer):
        raise OutsideScope(f"this case is outside the {scope} scope this role reads")
    notes: Mapping[UUID, str] = {}
    if stored.sealed is not None and not stored.case.is_erased:
        notes = ctx.vault.open(case_id, stored.sealed).casework_notes
    return stored, notes


def _sealed(stored: StoredCase) -> SealedPersonalData:
    stored.case.ensure_not_erased()
    assert stored.sealed is not None  # a case not erased has its personal data
    return stored.sealed


def _need_entry(need: NeedInput, now: datetime) -> NeedEntry:
    return NeedEntry(
        need_id=uuid4(),
        category=need.category,
        urgency=need.urgency,
        assistance_country=need.assistance_country,
        added_at=now,
    )


def _consent_record(details: ConsentDetails, actor: Actor, now: datetime) -> ConsentRecord:
    return ConsentRecord(
        consent_id=uuid4(),
        scopes=tuple(details.scopes),
        given_by=details.given_by,
        method=details.method,
        obtained_by=actor.actor_id,
        obtained_at=details.obtained_at,
        expires_at=details.expires_at,
        refused_partner_ids=tuple(details.refused_partner_ids),
        refused_partner_types=tuple(details.refused_partner_types),
        recorded_at=now,
    )


def _profile(person: PersonalData, command: RegisterCase, today: date) -> RoutingProfile:
    return routing_profile(
        band=age_band_of(person, today),
        sex=command.person.sex,
        nationality=command.person.nationality,
        languages=tuple(command.person.languages),
        country=command.location.country,
        admin_area=command.location.admin_area,
        vulnerabilities=tuple(command.vulnerabilities),
    )


def _patched_person(person: PersonalData, command: UpdateCase) -> PersonalData:
    updates: dict[str, object] = {}
    patch = command.person
    if patch is not None:
        for name in set(_PERSON_FIELDS) & patch.model_fields_set:
            updates[name] = getattr(patch, name)
        # One age source: setting one clears the other.
        if patch.date_of_birth is not None:
            updates["estimated_age"] = None
        if patch.estimated_age is not None:
            updates["date_of_birth"] = None
    if command.location is not None:
        updates["place"] = command.location.place
    if command.safety is not None:
        updates["safe_contact_details"] = command.safety.safe_contact_details
    patched = person.model_copy(update=updates)
    if patched.date_of_birth is None and patched.estimated_age is None:
        raise InvalidCase(
            [FieldError("body.person", "the person needs a date_of_birth or an estimated_age")]
        )
    return patched


def _patched_profile(
    current: RoutingProfile, person: PersonalData, command: UpdateCase, today: date
) -> RoutingProfile:
    patch = command.person
    given = patch.model_fields_set if patch is not None else set()
    location = command.location
    return routing_profile(
        band=age_band_of(person, today),
        sex=patch.sex if patch is not None and patch.sex is not None else current.sex,
        nationality=patch.nationality
        if patch is not None and "nationality" in given
        else current.nationality,
        languages=tuple(patch.languages)
        if patch is not None and patch.languages is not None
        else current.languages,
        country=location.country if location is not None else current.location.country,
        admin_area=location.admin_area if location is not None else current.location.admin_area,
        vulnerabilities=tuple(command.vulnerabilities)
        if command.vulnerabilities is not None
        else current.vulnerabilities,
    )


def _match_digests(ctx: IntakeContext, person: PersonalData) -> dict[MatchKind, bytes]:
    return {
        kind: ctx.matcher.match_digest(kind, material)
        for kind, material in match_material(person).items()
    }
