"""The whole directory as Open Referral HSDS 3.1 JSON, on the real stack (issue 7): export,
import into an empty directory and export again gives the same document; an import is an
idempotent upsert that emits the directory events of what changed (and its cascades); a bad
document writes nothing and names every bad path; readers see only what their role may."""

from __future__ import annotations

import copy
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from mpa_common.auth import Role
from mpa_contracts.vocabularies import NeedCategory, PartnerType, Urgency
from tests.integration.referral_support import (
    ADMIN,
    OPERATOR,
    ReferralService,
    ReferralStack,
    add_partner,
    envelope,
    eventually,
    open_referral_stack,
    private_schema,
    referrals_of,
    registered,
    token,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def stack(bootstrap_servers: str) -> AsyncIterator[ReferralStack]:
    async for opened in open_referral_stack(bootstrap_servers):
        yield opened


@pytest.fixture(scope="module")
async def service(stack: ReferralStack) -> ReferralService:
    return await stack.start_instance()


async def export(service: ReferralService, headers: dict[str, str] = ADMIN) -> dict[str, Any]:
    answer = await service.client.get("/v1/directory/hsds", headers=headers)
    assert answer.status_code == 200, answer.text
    document: dict[str, Any] = answer.json()
    return document


async def outbox_types(stack: ReferralStack, schema: str | None = None) -> list[str]:
    rows = await stack.sql("SELECT event_type FROM outbox ORDER BY position", schema=schema)
    return [row[0].split(".")[3] for row in rows]


async def rich_directory(stack: ReferralStack, service: ReferralService) -> dict[str, uuid.UUID]:
    """Partners and services using every field the profile carries."""
    client = service.client
    country = stack.new_country()
    government, (protection,) = await add_partner(
        client,
        country,
        NeedCategory.CHILD_PROTECTION,
        partner_type=PartnerType.GOVERNMENT_AGENCY,
        designations=("child_protection_authority",),
        service_fields={
            "coverage": [
                {"country": country, "admin_areas": [f"{country}-1", f"{country}-2"]},
                {"country": "NE"},
            ],
            "languages": ["fr", "ha"],
            "min_age": 0,
            "max_age": 17,
            "sexes": ["female", "male"],
            "nationalities_served": ["NG", "ML"],
            "nationalities_excluded": ["NE"],
            "vulnerabilities_required": ["unaccompanied_child", "separated_child"],
            "vulnerability_focus": ["unaccompanied_child"],
            "capacity_total": 12,
            "capacity_available": 7,
            "opening_hours": [
                {"days": ["mon", "tue", "wed"], "opens": "08:00", "closes": "17:30"},
                {"days": ["sat"], "opens": "09:00", "closes": "12:00"},
            ],
            "sla_hours": {"critical": 1, "high": 12},
            "free_of_charge": False,
            "fees_description": "Fees waived for children",
            "contacts": [{"label": "Duty desk", "email": "duty@gov.example", "phone": "+1 555"}],
            "assured_date": "2026-01-15",
        },
    )
    ngo, (safe_house, closed) = await add_partner(
        client,
        country,
        NeedCategory.SHELTER,
        NeedCategory.FOOD,
        service_fields={"gbv_sensitive": True, "description": "Confidential"},
    )
    await client.patch(
        f"/v1/partners/{ngo}/services/{closed}",
        json={"gbv_sensitive": False, "status": "inactive", "deactivation_reason": "duplicate"},
        headers=ADMIN,
    )
    retired, _ = await add_partner(client, country, NeedCategory.LEGAL_AID)
    answer = await client.patch(
        f"/v1/partners/{retired}",
        json={"active": False, "deactivation_reason": "agreement_ended"},
        headers=ADMIN,
    )
    assert answer.status_code == 200, answer.text
    return {
        "government": government,
        "protection": protection,
        "ngo": ngo,
        "safe_house": safe_house,
    }


async def test_export_import_export_gives_the_same_document_and_reimport_changes_nothing(
    stack: ReferralStack, service: ReferralService
) -> None:
    await rich_directory(stack, service)
    exported = await export(service)
    assert exported["hsds_version"] == "3.1"
    counts = {
        "organizations": len(exported["organizations"]),
        "services": len(exported["services"]),
    }
    async with private_schema() as schema:
        empty = await stack.start_instance(schema=schema, workers=False, relay=False)
        try:
            assert (await export(empty))["organizations"] == []
            imported = await empty.client.post("/v1/directory/hsds", json=exported, headers=ADMIN)
            assert imported.status_code == 200, imported.text
            assert {k: v["created"] for k, v in imported.json().items()} == counts
            assert await export(empty) == exported
            events = await outbox_types(stack, schema)
            assert events.count("partner_registered") == counts["organizations"]
            assert events.count("service_registered") == counts["services"]
            assert events.count("partner_deactivated") == 1
            assert events.count("service_deactivated") == 0  # registered inactive: nothing left
            # Idempotent: the same document again changes and emits nothing.
            again = await empty.client.post("/v1/directory/hsds", json=exported, headers=ADMIN)
            assert again.status_code == 200, again.text
            assert {k: v["unchanged"] for k, v in again.json().items()} == counts
            assert await outbox_types(stack, schema) == events
        finally:
            await empty.stop()
            stack.instances.remove(empty)


async def test_readers_see_only_what_their_role_may(
    stack: ReferralStack, service: ReferralService
) -> None:
    ids = await rich_directory(stack, service)

    def service_ids(document: dict[str, Any]) -> set[str]:
        return {s["id"] for s in document["services"]}

    def contacts_of(document: dict[str, Any], partner_id: uuid.UUID) -> list[Any]:
        (organization,) = (o for o in document["organizations"] if o["id"] == str(partner_id))
        return list(organization.get("contacts", []))

    caseworker = await export(service, token(Role.CASEWORKER))
    assert str(ids["safe_house"]) in service_ids(caseworker)
    assert contacts_of(caseworker, ids["government"])[0]["department"] == "Desk"
    auditor = await export(service, token(Role.AUDITOR))
    assert str(ids["safe_house"]) not in service_ids(auditor)
    assert contacts_of(auditor, ids["government"]) == []
    assert all(not s["contacts"] for s in auditor["services"])
    # A partner sees its own organisation in full, and nobody else's contacts.
    own = await export(service, token(Role.PARTNER, ids["ngo"]))
    assert str(ids["safe_house"]) in service_ids(own)
    assert contacts_of(own, ids["ngo"]) != []
    assert contacts_of(own, ids["government"]) == []
    other = await export(service, token(Role.PARTNER, ids["government"]))
    assert str(ids["safe_house"]) not in service_ids(other)


async def test_a_bad_document_writes_nothing_and_names_every_bad_path(
    stack: ReferralStack, service: ReferralService
) -> None:
    ids = await rich_directory(stack, service)
    document = await export(service)
    before = (len(document["organizations"]), len(document["services"]))
    events = await outbox_types(stack)
    bad = copy.deepcopy(document)
    newcomer = copy.deepcopy(bad["organizations"][0])
    newcomer["id"] = str(uuid.uuid4())
    newcomer["organization_identifiers"][0]["identifier"] = f"N-{uuid.uuid4().hex[:8].upper()}"
    bad["organizations"].append(newcomer)  # valid on its own: must not be written either
    protection = next(i for i, s in enumerate(bad["services"]) if s["id"] == str(ids["protection"]))
    entry = bad["services"][protection]
    category = next(
        i
        for i, a in enumerate(entry["attributes"])
        if a["taxonomy_term"]["code"] == "child_protection"
    )
    entry["attributes"][category]["taxonomy_term"]["code"] = "haircut"
    entry["service_areas"][0]["extent"] = "Somewhere"
    entry["minimum_age"], entry["maximum_age"] = 16, 17
    orphan = copy.deepcopy(entry)
    orphan["id"] = str(uuid.uuid4())
    orphan["attributes"][category]["taxonomy_term"]["code"] = "shelter"
    orphan["service_areas"][0]["extent"] = "NE"
    orphan["service_areas"] = orphan["service_areas"][:1]
    orphan["minimum_age"], orphan["maximum_age"] = None, None
    orphan["organization_id"] = str(uuid.uuid4())
    bad["services"].append(orphan)

    answer = await service.client.post("/v1/directory/hsds", json=bad, headers=ADMIN)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    prefix = f"body.services.{protection}"
    assert {e["field"] for e in answer.json()["errors"]} == {
        f"{prefix}.attributes.{category}.taxonomy_term.code",
        f"{prefix}.service_areas.0.name",
        f"body.services.{len(bad['services']) - 1}.organization_id",
    }
    # Nothing was written: no partner, no event; the directory reads as before.
    assert await outbox_types(stack) == events
    after = await export(service)
    assert (len(after["organizations"]), len(after["services"])) == before
    # The range rule runs once the codes are right, and names its field.
    entry["attributes"][category]["taxonomy_term"]["code"] = "child_protection"
    entry["service_areas"][0]["extent"] = entry["service_areas"][0]["name"]
    bad["services"].pop()
    answer = await service.client.post("/v1/directory/hsds", json=bad, headers=ADMIN)
    assert answer.status_code == 422, answer.text
    assert [e["field"] for e in answer.json()["errors"]] == [f"{prefix}.minimum_age"]
    # Structural problems are the framework's 422, also naming the path; only admins import.
    broken = {"organizations": [{"id": "not-a-uuid", "name": "x"}], "services": []}
    answer = await service.client.post("/v1/directory/hsds", json=broken, headers=ADMIN)
    assert answer.status_code == 422
    assert "body.organizations.0.id" in {e["field"] for e in answer.json()["errors"]}
    assert (
        await service.client.post("/v1/directory/hsds", json=document, headers=OPERATOR)
    ).status_code == 403
    assert await outbox_types(stack) == events


async def test_an_import_emits_what_changed_and_a_deactivation_reroutes(
    stack: ReferralStack, service: ReferralService
) -> None:
    client = service.client
    country = stack.new_country()
    first, (leaving,) = await add_partner(client, country, NeedCategory.MHPSS)
    second, (staying,) = await add_partner(
        client,
        country,
        NeedCategory.MHPSS,
        service_fields={"languages": ["en"], "capacity_total": 4, "capacity_available": 4},
    )
    case = registered(country, [(NeedCategory.MHPSS, Urgency.MEDIUM)])
    await stack.publish(envelope(case))
    (referral,) = await referrals_of(client, case.case_id, 1)
    assert referral["partner_id"] == str(first)

    document = await export(service)
    entries = {s["id"]: s for s in document["services"]}
    entries[str(leaving)]["status"] = "inactive"  # no reason given: "other"
    entries[str(staying)]["capacities"][0]["available"] = 2
    events = await outbox_types(stack)
    answer = await client.post("/v1/directory/hsds", json=document, headers=ADMIN)
    assert answer.status_code == 200, answer.text
    assert answer.json()["services"]["updated"] == 2
    assert answer.json()["organizations"]["updated"] == 0
    new_events = (await outbox_types(stack))[len(events) :]
    assert sorted(set(new_events) - {"requested", "routed", "rerouted"}) == [
        "service_capacity_changed",
        "service_deactivated",
    ]

    async def rerouted() -> bool:
        body = (await client.get(f"/v1/referrals/{referral['id']}", headers=OPERATOR)).json()
        return bool(body["partner_id"] == str(second))

    await eventually(rerouted, timeout=5, what="the referral re-routed by the import")
    listed = (await client.get(f"/v1/partners/{first}/services", headers=ADMIN)).json()
    assert listed[0]["status"] == "inactive"
    assert listed[0]["deactivation_reason"] == "other"
