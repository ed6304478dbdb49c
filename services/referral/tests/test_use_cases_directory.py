"""Directory use cases on the in-memory store: partners and services, who may change what,
who reads contacts and GBV services, the HSDS exchange and the referral figures
(milliseconds each, no server)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from mpa_contracts.events.directory import (
    PartnerDeactivatedV1,
    PartnerRegisteredV1,
    ServiceCapacityChangedV1,
    ServiceDeactivatedV1,
    ServiceRegisteredV1,
    ServiceUpdatedV1,
)
from mpa_contracts.vocabularies import (
    DeactivationReason,
    NeedCategory,
    ReferralState,
    ServiceStatus,
    Urgency,
)
from mpa_referral.app.common import DIRECTORY_RETRY_TIMER, ReferralContext
from mpa_referral.app.directory import (
    ADMIN_READER,
    DirectoryReader,
    GetPartner,
    ListPartners,
    ListServices,
    PartnerDraft,
    PartnerPatch,
    RegisterPartner,
    ServicePatch,
    UpdatePartner,
    UpdateService,
    get_partner,
    list_partners,
    list_services,
    register_partner,
    update_partner,
    update_service,
)
from mpa_referral.app.hsds.export import ExportDirectory, export_directory
from mpa_referral.app.hsds.importer import ImportDirectory, import_directory
from mpa_referral.app.ports import ServiceFilter
from mpa_referral.app.queries import ReportQuery, referral_figures
from mpa_referral.domain.errors import (
    Conflict,
    Forbidden,
    InvalidDocument,
    InvalidRequest,
    InvalidService,
    NotFound,
)
from mpa_referral.testing import ADMIN, MemoryStore, add_partner, partner_staff, registered

Deliver = Callable[[Any], Awaitable[Any]]
AUDITOR_READER = DirectoryReader(sees_gbv_services=False, sees_contacts=False)


def partner_reader(partner_id: uuid.UUID) -> DirectoryReader:
    return DirectoryReader(sees_gbv_services=False, sees_contacts=False, partner_id=partner_id)


async def test_registering_emits_events_without_contacts_and_codes_are_unique(
    store: MemoryStore, context: ReferralContext
) -> None:
    partner, _ = await add_partner(context, "NE", NeedCategory.SHELTER)
    assert [type(e) for e in store.events_of()] == [PartnerRegisteredV1, ServiceRegisteredV1]
    assert all("desk@partner.example" not in e.model_dump_json() for e in store.events_of())
    code = store.partners[partner]["code"]
    with pytest.raises(Conflict):
        await register_partner(
            context,
            RegisterPartner(
                PartnerDraft(code=code, name="Twin", partner_type="un_agency", countries=["NE"]),
                ADMIN,
            ),
        )
    # Every registered service makes the unroutable referrals it might take worth a retry.
    assert {t["timer"].kind for t in store.timers.values()} == {DIRECTORY_RETRY_TIMER}


async def test_a_partner_changes_only_status_and_capacity_of_its_own_services(
    store: MemoryStore, context: ReferralContext
) -> None:
    partner, (service,) = await add_partner(
        context, "NE", NeedCategory.SHELTER, capacity_total=5, capacity_available=5
    )
    staff = partner_staff(partner)

    def change(patch: ServicePatch, actor: Any = staff, partner_id: uuid.UUID = partner) -> Any:
        return update_service(
            context, UpdateService(partner_id, service, patch, actor, partner_reader(partner))
        )

    changed = await change(ServicePatch(capacity_available=2))
    assert changed["capacity_available"] == 2
    assert isinstance(store.events[-1].data, ServiceCapacityChangedV1)
    with pytest.raises(Forbidden):
        await change(ServicePatch(name="Renamed"))
    with pytest.raises(NotFound):
        await change(ServicePatch(capacity_available=1), actor=partner_staff(uuid.uuid4()))
    with pytest.raises(InvalidService):
        await change(ServicePatch(capacity_available=9))  # beyond the total
    with pytest.raises(InvalidRequest):
        await change(ServicePatch(status=ServiceStatus.INACTIVE))  # no reason


async def test_an_administrators_suspension_is_lifted_by_an_administrator_only(
    store: MemoryStore, context: ReferralContext
) -> None:
    partner, (service,) = await add_partner(context, "NE", NeedCategory.SHELTER)
    staff = partner_staff(partner)

    def change(patch: ServicePatch, actor: Any) -> Any:
        return update_service(context, UpdateService(partner, service, patch, actor, ADMIN_READER))

    suspended = ServicePatch(
        status=ServiceStatus.INACTIVE, deactivation_reason=DeactivationReason.SUSPENDED
    )
    await change(suspended, ADMIN)
    assert isinstance(store.events[-1].data, ServiceDeactivatedV1)
    for attempt in (
        ServicePatch(status=ServiceStatus.ACTIVE),
        ServicePatch(status=ServiceStatus.TEMPORARILY_CLOSED),
        ServicePatch(deactivation_reason=DeactivationReason.OTHER),
    ):
        with pytest.raises(Forbidden):
            await change(attempt, staff)
    assert store.services[service]["status"] == "inactive"
    assert (await change(ServicePatch(capacity_available=3), staff))["status"] == "inactive"
    back = await change(ServicePatch(status=ServiceStatus.ACTIVE), ADMIN)
    assert (back["status"], back["deactivation_reason"]) == ("active", None)
    # The partner's own deactivation is the partner's to lift.
    await change(suspended, staff)
    assert (await change(ServicePatch(status=ServiceStatus.ACTIVE), staff))["status"] == "active"


async def test_contacts_go_only_to_roles_that_reach_partners_and_gbv_only_partners_hide(
    context: ReferralContext,
) -> None:
    open_partner, _ = await add_partner(context, "ML", NeedCategory.FOOD)
    gbv_partner, _ = await add_partner(context, "ML", NeedCategory.SHELTER, gbv_sensitive=True)
    referrer = DirectoryReader(sees_gbv_services=True, sees_contacts=True)

    async def partners(reader: DirectoryReader) -> dict[uuid.UUID, Any]:
        rows = await list_partners(context, ListPartners(reader, country="ML"))
        return {row["id"]: row for row in rows}

    everyone = await partners(referrer)
    assert set(everyone) == {open_partner, gbv_partner}
    assert everyone[open_partner]["contacts"] != []
    audited = await partners(AUDITOR_READER)
    assert set(audited) == {open_partner}
    assert audited[open_partner]["contacts"] == []
    own = await partners(partner_reader(gbv_partner))
    assert own[gbv_partner]["contacts"] != []  # its own organisation, in full
    assert own[open_partner]["contacts"] == []
    with pytest.raises(NotFound):
        await get_partner(context, GetPartner(gbv_partner, AUDITOR_READER))
    seen = await get_partner(context, GetPartner(open_partner, referrer))
    assert seen["contacts"] != []
    services = await list_services(context, ListServices(AUDITOR_READER, ServiceFilter()))
    assert all(not s["gbv_sensitive"] and s["contacts"] == [] for s in services)
    own_services = await list_services(
        context, ListServices(partner_reader(gbv_partner), ServiceFilter(partner_id=gbv_partner))
    )
    assert [s["gbv_sensitive"] for s in own_services] == [True]


async def test_a_deactivated_partner_hands_on_what_it_holds_and_its_return_retries(
    store: MemoryStore, context: ReferralContext, deliver: Deliver
) -> None:
    leaving, _ = await add_partner(context, "QA", NeedCategory.FOOD, NeedCategory.LEGAL_AID)
    staying, _ = await add_partner(context, "QA", NeedCategory.FOOD, languages=["en"])
    case = registered(
        "QA", [(NeedCategory.FOOD, Urgency.LOW), (NeedCategory.LEGAL_AID, Urgency.LOW)]
    )
    await deliver(case)
    store.timers.clear()
    await update_partner(
        context,
        UpdatePartner(
            leaving,
            PartnerPatch(active=False, deactivation_reason=DeactivationReason.AGREEMENT_ENDED),
            ADMIN,
        ),
    )
    assert any(isinstance(e, PartnerDeactivatedV1) for e in store.events_of())
    by_category = {r.category: r for r in store.referrals.values()}
    assert by_category[NeedCategory.FOOD].partner_id == staying
    assert by_category[NeedCategory.LEGAL_AID].state is ReferralState.UNROUTABLE
    with pytest.raises(InvalidRequest):
        await update_partner(context, UpdatePartner(staying, PartnerPatch(active=False), ADMIN))
    retries = [t for t in store.timers.values() if t["timer"].kind == DIRECTORY_RETRY_TIMER]
    await update_partner(context, UpdatePartner(leaving, PartnerPatch(active=True), ADMIN))
    after = [t for t in store.timers.values() if t["timer"].kind == DIRECTORY_RETRY_TIMER]
    assert len(after) == len(retries) + 2  # one per service of the returning partner


async def test_hsds_export_import_export_is_the_same_and_reimport_changes_nothing(
    store: MemoryStore, context: ReferralContext
) -> None:
    await add_partner(context, "QB", NeedCategory.SHELTER, NeedCategory.MEDICAL)
    await add_partner(context, "QB", NeedCategory.FOOD, gbv_sensitive=True)
    exported = await export_directory(context, ExportDirectory(ADMIN_READER))
    elsewhere = MemoryStore().context()
    summary = await import_directory(elsewhere, ImportDirectory(exported, ADMIN))
    assert (summary.organizations.created, summary.services.created) == (2, 3)
    again = await export_directory(elsewhere, ExportDirectory(ADMIN_READER))
    assert again.model_dump(mode="json") == exported.model_dump(mode="json")
    unchanged = await import_directory(elsewhere, ImportDirectory(exported, ADMIN))
    assert unchanged.services.unchanged == 3
    # Readers see what their role may: no GBV service (nor its GBV-only partner), no contacts.
    audited = await export_directory(context, ExportDirectory(AUDITOR_READER))
    assert len(audited.organizations) == 1
    assert len(audited.services) == 2
    assert all(not o.contacts for o in audited.organizations)


async def test_a_bad_hsds_document_writes_nothing_and_names_the_paths(
    store: MemoryStore, context: ReferralContext
) -> None:
    await add_partner(context, "QC", NeedCategory.SHELTER)
    document = await export_directory(context, ExportDirectory(ADMIN_READER))
    document.services[0].languages = []
    elsewhere_store = MemoryStore()
    with pytest.raises(InvalidDocument) as invalid:
        await import_directory(elsewhere_store.context(), ImportDirectory(document, ADMIN))
    assert {e.field for e in invalid.value.errors} == {"body.services.0.languages"}
    assert elsewhere_store.partners == {}
    assert elsewhere_store.events == []


async def test_an_import_deactivating_a_service_reroutes_what_it_held(
    store: MemoryStore, context: ReferralContext, deliver: Deliver
) -> None:
    _first, (leaving,) = await add_partner(context, "QD", NeedCategory.MHPSS)
    second, _ = await add_partner(context, "QD", NeedCategory.MHPSS, languages=["en"])
    await deliver(registered("QD", [(NeedCategory.MHPSS, Urgency.MEDIUM)]))
    document = await export_directory(context, ExportDirectory(ADMIN_READER))
    for service in document.services:
        if service.id == leaving:
            service.status = "inactive"
    summary = await import_directory(context, ImportDirectory(document, ADMIN))
    assert summary.services.updated == 1
    (referral,) = store.referrals.values()
    assert referral.partner_id == second
    assert store.services[leaving]["deactivation_reason"] == "other"
    assert not any(isinstance(e, ServiceUpdatedV1) for e in store.events_of())


async def test_referral_figures_count_without_case_level_data(
    context: ReferralContext, deliver: Deliver
) -> None:
    await add_partner(context, "QE", NeedCategory.SHELTER)
    for _ in range(2):
        await deliver(registered("QE", [(NeedCategory.SHELTER, Urgency.HIGH)]))
    now = datetime.now(UTC)
    figures = await referral_figures(
        context, ReportQuery(now - timedelta(hours=1), now + timedelta(hours=1), "QE")
    )
    assert figures.total == 2
    assert figures.by_state == {"routed": 2}
    assert figures.acceptance_rate is None
    assert figures.reroutes_by_partner == figures.sla_breaches_by_partner == {}
    with pytest.raises(InvalidRequest):
        await referral_figures(context, ReportQuery(now, now - timedelta(hours=1)))
    with pytest.raises(InvalidRequest):
        await referral_figures(context, ReportQuery(datetime(2026, 1, 1), now))


def test_repeated_codes_in_a_service_are_refused_as_the_request_is_read() -> None:
    """Found by fuzzing: a repeated vulnerability made the directory event invalid (a 500);
    lists of distinct codes are refused before any use case runs (422)."""
    with pytest.raises(ValidationError):
        ServicePatch.model_validate({"vulnerability_focus": ["returnee", "returnee"]})
    with pytest.raises(ValidationError):
        ServicePatch.model_validate({"languages": ["fr", "en", "fr"]})
