"""The HSDS 3.1 profile's mapping, without a database: what an export says is what an import
reads back, and a bad document yields every bad path, each with a reason and no value."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from mpa_contracts.vocabularies import DeactivationReason, NeedCategory, ServiceStatus, Urgency
from mpa_referral.app.hsds.export import organization_of, service_of
from mpa_referral.app.hsds.importer import plan_import
from mpa_referral.app.hsds.schema import HsdsDocument, Schedule

PARTNER_ID = uuid.UUID(int=1)
SERVICE_ID = uuid.UUID(int=2)


def partner_row(**changes: Any) -> dict[str, Any]:
    return {
        "id": PARTNER_ID,
        "code": "DPE-NE",
        "name": "Direction",
        "partner_type": "government_agency",
        "countries": ["NE", "ML"],
        "designations": [
            {"role": "child_protection_authority", "country": "NE", "admin_areas": []},
            {
                "role": "anti_trafficking_focal_point",
                "country": "NE",
                "admin_areas": ["NE-8", "NE-1"],
            },
        ],
        "contacts": [{"label": "Desk", "email": "desk@example.org", "phone": "+227 1"}],
        "active": False,
        "deactivation_reason": "suspended",
        "is_demo": True,
        **changes,
    }


def service_row(**changes: Any) -> dict[str, Any]:
    return {
        "id": SERVICE_ID,
        "partner_id": PARTNER_ID,
        "name": "Shelter",
        "description": "",
        "category": "shelter",
        "status": "inactive",
        "coverage": [
            {"country": "NE", "admin_areas": ["NE-8"]},
            {"country": "ML", "admin_areas": []},
        ],
        "languages": ["fr", "ha"],
        "min_age": 18,
        "max_age": None,
        "sexes": ["female"],
        "nationalities_served": [],
        "nationalities_excluded": ["NE"],
        "vulnerabilities_required": ["trafficking_victim"],
        "vulnerability_focus": [],
        "capacity_total": 10,
        "capacity_available": 3,
        "capacity_updated_at": datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
        "opening_hours": [{"days": ["mon", "fri"], "opens": "08:00:00", "closes": "16:00:00"}],
        "sla_hours": {"critical": 1},
        "free_of_charge": False,
        "fees_description": None,
        "contacts": [],
        "assured_date": date(2026, 2, 1),
        "gbv_sensitive": True,
        "deactivation_reason": "duplicate",
        "is_demo": False,
        **changes,
    }


def document(**service_changes: Any) -> HsdsDocument:
    return HsdsDocument(
        organizations=[organization_of(partner_row(), with_contacts=True)],
        services=[service_of(service_row(**service_changes), with_contacts=True)],
    )


def test_an_import_reads_back_what_the_export_wrote() -> None:
    plan = plan_import(HsdsDocument.model_validate_json(document().model_dump_json()))
    assert plan.errors == []
    (partner,) = plan.partners
    assert (partner.partner_id, partner.draft.code, partner.active) == (PARTNER_ID, "DPE-NE", False)
    assert partner.deactivation_reason is DeactivationReason.SUSPENDED
    assert partner.is_demo
    assert [d.admin_areas for d in partner.draft.designations] == [[], ["NE-8", "NE-1"]]
    assert partner.draft.contacts[0].phone == "+227 1"
    (service,) = plan.services
    draft = service.draft
    assert (draft.category, draft.status) == (NeedCategory.SHELTER, ServiceStatus.INACTIVE)
    assert [(a.country, a.admin_areas) for a in draft.coverage] == [("NE", ["NE-8"]), ("ML", [])]
    assert (draft.capacity_available, draft.capacity_total) == (3, 10)
    assert service.capacity_updated_at == datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    assert draft.sla_hours == {Urgency.CRITICAL: 1}
    assert (draft.free_of_charge, draft.gbv_sensitive) == (False, True)
    assert draft.opening_hours is not None
    assert [d.value for d in draft.opening_hours[0].days] == ["mon", "fri"]
    assert service.deactivation_reason is DeactivationReason.DUPLICATE


def test_a_bad_document_yields_each_bad_path_with_a_reason() -> None:
    bad = document()
    service = bad.services[0]
    service.attributes[0].taxonomy_term.code = "haircut"  # type: ignore[union-attr]
    # NE is covered by a subdivision already: whole as well is a contradiction.
    service.service_areas.append(service.service_areas[1].model_copy(update={"extent": "NE"}))
    service.schedules = [Schedule(id=uuid.uuid4(), freq="MONTHLY", byday="MO")]
    service.languages = []
    bad.organizations[0].organization_identifiers = []
    plan = plan_import(bad)
    assert plan.partners == plan.services == []
    paths = {path for path, _ in plan.errors}
    assert paths == {
        "body.organizations.0.organization_identifiers",
        "body.services.0.attributes.0.taxonomy_term.code",
        "body.services.0.service_areas.2.name",
        "body.services.0.schedules.0.freq",
        "body.services.0.languages",
    }
    assert all("haircut" not in reason for _, reason in plan.errors)


def test_a_duplicated_id_is_named() -> None:
    twice = document()
    twice.services.append(twice.services[0])
    plan = plan_import(twice)
    assert [path for path, _ in plan.errors] == ["body.services.1.id"]
