"""The notification service on the real stack: referral events from Kafka become signed
webhooks (verified with the `standardwebhooks` reference library) and e-mails (received by
a real SMTP server), retried durably, logged, and reported as events in the outbox."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from standardwebhooks import Webhook

from mpa_common.auth import Role
from mpa_contracts import examples
from mpa_contracts.envelope import Envelope, new_envelope
from mpa_contracts.events.notification import NO_PARTNER_ID
from mpa_contracts.events.referral import ReferralRequestedV1
from mpa_contracts.vocabularies import ActorRole
from tests.integration.notification_support import (
    DECOY_EMAIL,
    DECOYS,
    Playground,
    WebhookReceiver,
    always,
    bearer,
    eventually,
    mails_to,
    notification_records,
    open_playground,
    running_service,
    sequence,
    smtp_server,
    text_and_html,
)

pytestmark = pytest.mark.integration

ROUTED = "org.mpa.referral.routed.v1"
DELIVERED = "org.mpa.notification.delivered.v1"
REQUESTED = "org.mpa.referral.requested.v1"
ADMIN = bearer(Role.ADMIN)


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[int, list[EmailMessage]]]:
    with smtp_server() as server:
        yield server


@pytest.fixture(scope="module")
async def playground(
    bootstrap_servers: str, smtp: tuple[int, list[EmailMessage]]
) -> AsyncIterator[Playground]:
    async for ground in open_playground(bootstrap_servers, smtp[0]):
        yield ground


@pytest.fixture(scope="module")
async def api(playground: Playground) -> AsyncIterator[httpx.AsyncClient]:
    async with running_service(playground.settings()) as (_, client):
        yield client


class Story:
    """Unique ids for one referral, and its events (contract examples with those ids)."""

    def __init__(self, country: str = "NE") -> None:
        self.referral_id = uuid.uuid4()
        self.case_id = uuid.uuid4()
        self.partner_id = uuid.uuid4()
        self.referrer = f"caseworker:cw-{uuid.uuid4().hex[:8]}"
        self.country = country
        self.first: Envelope | None = None

    def event(self, event_type: str) -> Envelope:
        text = examples.example_event(event_type).model_dump_json()
        for old, new in (
            (examples.REFERRAL_ID, self.referral_id),
            (examples.CASE_ID, self.case_id),
            (examples.PARTNER_ID, self.partner_id),
        ):
            text = text.replace(str(old), str(new))
        data: dict[str, Any] = json.loads(text)
        if event_type == REQUESTED:
            data.update(actor_id=self.referrer, assistance_country=self.country)
        payload = type(examples.example_event(event_type)).model_validate(data)
        envelope = new_envelope(payload, source="urn:mpa:service:referral", caused_by=self.first)
        self.first = self.first or envelope
        return envelope

    def partner_headers(self) -> dict[str, str]:
        return bearer(Role.PARTNER, partner_id=self.partner_id)


async def register_endpoint(
    api: httpx.AsyncClient, story: Story, url: str, *, event_types: list[str] | None = None
) -> dict[str, Any]:
    response = await api.post(
        "/v1/endpoints",
        json={"url": url, "event_types": event_types or [ROUTED], "description": "test"},
        headers=story.partner_headers(),
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    assert created["secret"].startswith("whsec_")
    return created


async def add_contact(api: httpx.AsyncClient, kind: str, language: str, **owner: str) -> str:
    address, _ = await add_contact_entry(api, kind, language, **owner)
    return address


async def add_contact_entry(
    api: httpx.AsyncClient, kind: str, language: str, **owner: str
) -> tuple[str, uuid.UUID]:
    """A new recipient: its address and its registry id."""
    address = f"{kind}-{uuid.uuid4().hex[:8]}@agency.example.org"
    response = await api.post(
        "/v1/contacts",
        json={"kind": kind, "email": address, "language": language, **owner},
        headers=ADMIN,
    )
    assert response.status_code == 201, response.text
    return address, uuid.UUID(response.json()["id"])


async def deliveries_of(api: httpx.AsyncClient, headers: dict[str, str], **query: str) -> list[Any]:
    response = await api.get("/v1/deliveries", params=query, headers=headers)
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    return items


async def outbox_events(playground: Playground, referral_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await playground.query(
        "SELECT envelope FROM outbox WHERE envelope->'data'->>'referral_id' = :id "
        "OR envelope->>'subject' = :subject ORDER BY position",
        id=str(referral_id),
        subject=f"referral/{referral_id}",
    )
    return [row.envelope for row in rows]


def assert_no_personal_data(*texts: str) -> None:
    for text in texts:
        for decoy in DECOYS:
            assert decoy not in text


async def test_event_types_come_from_the_contracts(api: httpx.AsyncClient) -> None:
    response = await api.get("/v1/event-types", headers=ADMIN)
    assert response.status_code == 200
    types = {item["type"] for item in response.json()}
    assert ROUTED in types
    assert "org.mpa.referral.accepted.v1" in types
    assert REQUESTED not in types  # names no partner: nothing to tell one


async def test_a_routed_referral_reaches_the_partner_signed_and_by_email(
    api: httpx.AsyncClient, playground: Playground, smtp: tuple[int, list[EmailMessage]]
) -> None:
    story = Story()
    partner_mail = await add_contact(api, "partner", "fr", partner_id=str(story.partner_id))
    with WebhookReceiver() as receiver:
        endpoint = await register_endpoint(api, story, receiver.url())
        await playground.publish(story.event(REQUESTED), story.event(ROUTED))

        async def arrived() -> bool:
            return bool(receiver.received) and bool(mails_to(smtp[1], partner_mail))

        await eventually(arrived, what="webhook and e-mail")
    request = receiver.received[0]
    body = Webhook(endpoint["secret"]).verify(request.body, request.headers)
    assert body["type"] == ROUTED
    assert body["data"]["referral_id"] == str(story.referral_id)
    assert body["data"]["state"] == "routed"
    assert body["data"]["links"]["referral"].endswith(f"/v1/referrals/{story.referral_id}")
    assert "explanation" not in body["data"]  # other partners' scores are not its business

    mail = mails_to(smtp[1], partner_mail)[0]
    text, html = text_and_html(mail)
    assert "orientation" in str(mail["Subject"]).lower()
    assert str(story.referral_id) in text
    assert 'lang="fr"' in html

    async def logged() -> bool:
        items = await deliveries_of(
            api, story.partner_headers(), referral_id=str(story.referral_id), state="delivered"
        )
        return len(items) == 2

    await eventually(logged, what="both deliveries logged as delivered")
    types = [e["type"] for e in await outbox_events(playground, story.referral_id)]
    assert types.count("org.mpa.notification.delivered.v1") == 2  # webhook + partner e-mail
    assert_no_personal_data(request.body.decode(), json.dumps(request.headers), mail.as_string())


async def test_a_receiver_failing_twice_gets_the_same_message_three_times(
    api: httpx.AsyncClient, playground: Playground
) -> None:
    story = Story()
    with WebhookReceiver(sequence((500, {}), (502, {}))) as receiver:
        endpoint = await register_endpoint(api, story, receiver.url())
        await playground.publish(story.event(REQUESTED), story.event(ROUTED))

        async def three() -> bool:
            return len(receiver.received) >= 3

        await eventually(three, what="three attempts")
        await asyncio.sleep(0.5)  # a fourth would be a bug
    assert len(receiver.received) == 3
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
    for request in receiver.received:
        Webhook(endpoint["secret"]).verify(request.body, request.headers)

    async def delivered() -> bool:
        items = await deliveries_of(api, story.partner_headers(), endpoint_id=endpoint["id"])
        return bool(items) and items[0]["state"] == "delivered"

    await eventually(delivered, what="delivered state")
    (item,) = await deliveries_of(api, story.partner_headers(), endpoint_id=endpoint["id"])
    detail = (await api.get(f"/v1/deliveries/{item['id']}", headers=story.partner_headers())).json()
    assert [a["status_code"] for a in detail["attempt_log"]] == [500, 502, 204]
    assert all(a["latency_ms"] >= 0 and a["started_at"] for a in detail["attempt_log"])
    assert detail["webhook_id"] == receiver.received[0].headers["webhook-id"]
    types = [e["type"] for e in await outbox_events(playground, story.referral_id)]
    assert types.count("org.mpa.notification.attempt_failed.v1") == 2
    assert types.count("org.mpa.notification.delivered.v1") == 1


async def test_retry_after_is_honoured(api: httpx.AsyncClient, playground: Playground) -> None:
    story = Story()
    with WebhookReceiver(sequence((429, {"retry-after": "2"}))) as receiver:
        await register_endpoint(api, story, receiver.url())
        await playground.publish(story.event(REQUESTED), story.event(ROUTED))

        async def two() -> bool:
            return len(receiver.received) >= 2

        await eventually(two, what="the retry")
    gap = receiver.received[1].at - receiver.received[0].at
    assert gap >= 1.9, f"retried after {gap:.2f} s despite Retry-After: 2 (schedule: 0.3 s)"


async def test_410_disables_the_endpoint_and_tells_the_partner(
    api: httpx.AsyncClient, playground: Playground, smtp: tuple[int, list[EmailMessage]]
) -> None:
    story = Story()
    partner_mail = await add_contact(api, "partner", "en", partner_id=str(story.partner_id))
    with WebhookReceiver(always(410)) as receiver:
        endpoint = await register_endpoint(api, story, receiver.url())
        await playground.publish(story.event(REQUESTED), story.event(ROUTED))

        async def disabled() -> bool:
            response = await api.get(
                f"/v1/endpoints/{endpoint['id']}", headers=story.partner_headers()
            )
            return response.json()["enabled"] is False

        await eventually(disabled, what="endpoint disabled")

        async def mailed() -> bool:
            return any("disabled" in str(m["Subject"]) for m in mails_to(smtp[1], partner_mail))

        await eventually(mailed, what="the partner told")
        await asyncio.sleep(0.5)
    assert len(receiver.received) == 1  # never tried again
    view = (await api.get(f"/v1/endpoints/{endpoint['id']}", headers=ADMIN)).json()
    assert view["disabled_reason"] == "gone"
    rows = await playground.query(
        "SELECT envelope FROM outbox WHERE event_type = 'org.mpa.notification.endpoint_disabled.v1'"
        " AND envelope->'data'->>'partner_id' = :partner",
        partner=str(story.partner_id),
    )
    assert [r.envelope["data"]["reason"] for r in rows] == ["gone"]
    assert [r.envelope["data"]["endpoint_id"] for r in rows] == [endpoint["id"]]


async def test_rotation_signs_with_both_secrets_during_the_grace_period(
    api: httpx.AsyncClient,
) -> None:
    story = Story()
    with WebhookReceiver() as receiver:
        endpoint = await register_endpoint(api, story, receiver.url())
        rotated = await api.post(
            f"/v1/endpoints/{endpoint['id']}/rotate-secret",
            json={"grace_period_seconds": 3600},
            headers=story.partner_headers(),
        )
        assert rotated.status_code == 200, rotated.text
        new_secret = rotated.json()["secret"]
        assert new_secret != endpoint["secret"]
        queued = await api.post(
            f"/v1/endpoints/{endpoint['id']}/test", headers=story.partner_headers()
        )
        assert queued.status_code == 202

        async def arrived() -> bool:
            return bool(receiver.received)

        await eventually(arrived, what="the test message")
    request = receiver.received[0]
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    Webhook(endpoint["secret"]).verify(request.body, request.headers)  # the old one
    assert Webhook(new_secret).verify(request.body, request.headers)["type"] == "mpa.webhook.test"


@pytest.mark.parametrize(
    "url",
    [
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:8080/hook",
        "http://192.168.1.10/hook",
        "ftp://partner.example.org/hook",
        "http://user:pass@127.0.0.1/hook",
    ],
)
async def test_private_and_odd_urls_are_refused(api: httpx.AsyncClient, url: str) -> None:
    story = Story()
    response = await api.post(
        "/v1/endpoints",
        json={"url": url, "event_types": [ROUTED]},
        headers=story.partner_headers(),
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert url not in response.text  # errors name the rule, never the value


async def test_a_partner_manages_and_sees_only_its_own(api: httpx.AsyncClient) -> None:
    mine, theirs = Story(), Story()
    with WebhookReceiver() as receiver:
        endpoint = await register_endpoint(api, mine, receiver.url())
        other = theirs.partner_headers()
        assert (await api.get(f"/v1/endpoints/{endpoint['id']}", headers=other)).status_code == 404
        patched = await api.patch(
            f"/v1/endpoints/{endpoint['id']}", json={"enabled": False}, headers=other
        )
        assert patched.status_code == 404
        assert endpoint["id"] not in {
            e["id"] for e in (await api.get("/v1/endpoints", headers=other)).json()
        }
        assert endpoint["id"] in {
            e["id"] for e in (await api.get("/v1/endpoints", headers=ADMIN)).json()
        }
        foreign = await api.post(
            "/v1/endpoints",
            json={
                "url": receiver.url(),
                "event_types": [ROUTED],
                "partner_id": str(mine.partner_id),
            },
            headers=other,
        )
        assert foreign.status_code == 403
        assert (await api.get("/v1/endpoints", headers=bearer(Role.CASEWORKER))).status_code == 403
        queued = (
            await api.post(f"/v1/endpoints/{endpoint['id']}/test", headers=mine.partner_headers())
        ).json()
        assert (
            await api.get(f"/v1/deliveries/{queued['delivery_id']}", headers=other)
        ).status_code == 404


async def test_recover_and_retry_resend_with_the_same_webhook_id(
    api: httpx.AsyncClient, playground: Playground
) -> None:
    story = Story()
    headers = story.partner_headers()
    with WebhookReceiver(always(500)) as receiver:
        endpoint = await register_endpoint(api, story, receiver.url())
        await playground.publish(story.event(REQUESTED), story.event(ROUTED))

        async def exhausted() -> bool:
            items = await deliveries_of(api, headers, endpoint_id=endpoint["id"], state="failed")
            return len(items) == 1

        await eventually(exhausted, what="attempts exhausted")
        assert len(receiver.received) == 4  # the test schedule has four attempts
        receiver.responder = always(200)
        recovered = await api.post(
            f"/v1/endpoints/{endpoint['id']}/recover",
            params={"since": "2020-01-01T00:00:00Z"},
            headers=headers,
        )
        assert recovered.json() == {"requeued": 1}

        async def resent() -> bool:
            return len(receiver.received) == 5

        await eventually(resent, what="recovery re-send")
        (item,) = await deliveries_of(api, headers, endpoint_id=endpoint["id"])
        await eventually(lambda: _state_is(api, headers, item["id"], "delivered"), what="delivered")
        retried = await api.post(f"/v1/deliveries/{item['id']}/retry", headers=headers)
        assert retried.status_code == 202

        async def again() -> bool:
            return len(receiver.received) == 6

        await eventually(again, what="manual retry")
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
    types = [e["type"] for e in await outbox_events(playground, story.referral_id)]
    assert "org.mpa.notification.exhausted.v1" in types


async def _state_is(
    api: httpx.AsyncClient, headers: dict[str, str], delivery_id: str, state: str
) -> bool:
    response = await api.get(f"/v1/deliveries/{delivery_id}", headers=headers)
    return bool(response.json()["state"] == state)


async def test_emails_reach_referrers_and_supervisors_in_their_language(
    api: httpx.AsyncClient, playground: Playground, smtp: tuple[int, list[EmailMessage]]
) -> None:
    story = Story(country="LY")
    referrer_mail, referrer_id = await add_contact_entry(
        api, "referrer", "es", actor_id=story.referrer
    )
    supervisors_mail, supervisors_id = await add_contact_entry(
        api, "supervisors", "ar", country="LY"
    )
    await playground.publish(
        story.event(REQUESTED),
        story.event("org.mpa.referral.accepted.v1"),
        story.event("org.mpa.referral.unroutable.v1"),
    )

    async def arrived() -> bool:
        return len(mails_to(smtp[1], referrer_mail)) == 2 and bool(
            mails_to(smtp[1], supervisors_mail)
        )

    await eventually(arrived, what="referrer and supervisor e-mails")
    subjects = sorted(str(m["Subject"]) for m in mails_to(smtp[1], referrer_mail))
    assert any("aceptada" in s for s in subjects)
    assert any("enrutar" in s for s in subjects)
    (arabic,) = mails_to(smtp[1], supervisors_mail)
    text, html = text_and_html(arabic)
    assert 'dir="rtl"' in html
    assert 'lang="ar"' in html
    assert "الإحالة" in str(arabic["Subject"])
    assert "\u200f" in text
    assert str(story.referral_id) in text
    assert_no_personal_data(*(m.as_string() for m in smtp[1]))

    # Each e-mail's outcome reaches Kafka (and so the audit log): recipients by kind and
    # registry id, keyed by the partner concerned (the nil UUID for the unroutable one,
    # which no partner took), never an address.
    found = await notification_records(
        playground,
        lambda _, e: (
            e.type == DELIVERED and e.data.model_dump().get("referral_id") == story.referral_id
        ),
        expected=3,
    )
    outcomes = sorted(
        (
            e.data.model_dump(mode="json")["recipient"],
            e.data.model_dump(mode="json")["contact_id"],
            record.key.decode() if record.key else None,
        )
        for record, e in found
    )
    assert outcomes == sorted(
        [
            ("referrer", str(referrer_id), str(story.partner_id)),  # accepted: its partner
            ("referrer", str(referrer_id), str(NO_PARTNER_ID)),  # unroutable: no partner
            ("supervisors", str(supervisors_id), str(NO_PARTNER_ID)),
        ]
    )
    for record, envelope in found:
        assert envelope.data.model_dump()["channel"] == "email"
        assert envelope.data.model_dump()["case_id"] == story.case_id
        raw = (record.value or b"").decode() + json.dumps(
            [(k, (v or b"").decode()) for k, v in record.headers]
        )
        assert referrer_mail not in raw
        assert supervisors_mail not in raw
        assert_no_personal_data(raw)


async def test_no_personal_data_can_enter_an_event_or_leaves_in_a_notification(
    playground: Playground, smtp: tuple[int, list[EmailMessage]]
) -> None:
    # The contracts refuse a person's details where an id is expected...
    with pytest.raises(ValidationError):
        ReferralRequestedV1.model_validate(
            {
                **examples.example_event(REQUESTED).model_dump(),
                "actor_id": DECOY_EMAIL,
                "actor_role": ActorRole.CASEWORKER,
            }
        )
    # ...and nothing this service wrote (events, bodies, mails) holds the decoy person.
    rows = await playground.query("SELECT envelope::text AS doc FROM outbox")
    bodies = await playground.query("SELECT body::text AS doc FROM deliveries")
    assert rows
    assert bodies
    assert_no_personal_data(*(r.doc for r in rows), *(b.doc for b in bodies))
    assert_no_personal_data(*(m.as_string() for m in smtp[1]))


async def test_only_an_administrator_re_enables_an_endpoint_of_a_deactivated_partner(
    api: httpx.AsyncClient, playground: Playground
) -> None:
    story = Story()
    partner = story.partner_headers()
    endpoint = await register_endpoint(api, story, "http://127.0.0.1:9/hook")
    url = f"/v1/endpoints/{endpoint['id']}"
    await playground.publish(story.event("org.mpa.directory.partner_deactivated.v1"))

    async def disabled() -> bool:
        view = (await api.get(url, headers=ADMIN)).json()
        return view["enabled"] is False and view["disabled_reason"] == "partner_deactivated"

    await eventually(disabled, what="the endpoint disabled with its partner")
    refused = await api.patch(url, json={"enabled": True}, headers=partner)
    assert refused.status_code == 403, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    # Nor may an administrator while the partner is deactivated.
    early = await api.patch(url, json={"enabled": True}, headers=ADMIN)
    assert early.status_code == 409, early.text
    assert (await api.get(url, headers=ADMIN)).json()["enabled"] is False
    await playground.publish(story.event("org.mpa.directory.partner_updated.v1"))

    async def active_again() -> bool:
        rows = await playground.query(
            "SELECT active FROM partners WHERE partner_id = :id", id=story.partner_id
        )
        return bool(rows) and rows[0].active is True

    await eventually(active_again, what="the partner active again")
    assert (await api.patch(url, json={"enabled": True}, headers=partner)).status_code == 403
    enabled = await api.patch(url, json={"enabled": True}, headers=ADMIN)
    assert enabled.status_code == 200, enabled.text
    assert enabled.json()["enabled"] is True
    assert enabled.json()["disabled_reason"] is None


async def test_an_endpoint_an_administrator_disabled_stays_disabled_for_its_partner(
    api: httpx.AsyncClient, playground: Playground
) -> None:
    story = Story()
    partner = story.partner_headers()
    endpoint = await register_endpoint(api, story, "http://127.0.0.1:9/hook")
    url = f"/v1/endpoints/{endpoint['id']}"
    off = await api.patch(url, json={"enabled": False}, headers=ADMIN)
    assert off.status_code == 200, off.text
    assert off.json()["disabled_reason"] == "administrator_request"
    assert (await api.patch(url, json={"enabled": True}, headers=partner)).status_code == 403
    assert (await api.get(url, headers=partner)).json()["enabled"] is False
    # What the partner disabled itself, it enables again.
    mine = await register_endpoint(api, story, "http://127.0.0.1:9/other")
    own = f"/v1/endpoints/{mine['id']}"
    assert (await api.patch(own, json={"enabled": False}, headers=partner)).status_code == 200
    again = await api.patch(own, json={"enabled": True}, headers=partner)
    assert again.status_code == 200, again.text
    assert again.json()["enabled"] is True
    rows = await playground.query(
        "SELECT envelope FROM outbox WHERE event_type = 'org.mpa.notification.endpoint_disabled.v1'"
        " AND envelope->'data'->>'partner_id' = :partner ORDER BY position",
        partner=str(story.partner_id),
    )
    assert [r.envelope["data"]["reason"] for r in rows] == [
        "administrator_request",
        "partner_request",
    ]
