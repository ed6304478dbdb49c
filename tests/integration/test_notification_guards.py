"""The notification service's guards on the real stack: an endpoint failing for the whole
window is disabled and its partner told by e-mail (a real SMTP server); a host name that
rebinds to a forbidden address after registration is refused at delivery time (no request
reaches that address); and an endpoint's concurrency and rate limits hold across two
replicas sharing the database."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage
from typing import Any

import httpx
import pytest

from mpa_common.auth import Role
from mpa_contracts.events.notification import NotificationEndpointDisabledV1
from tests.integration.notification_support import (
    Playground,
    ScriptedResolver,
    WebhookReceiver,
    always,
    bearer,
    eventually,
    mails_to,
    notification_records,
    open_playground,
    running_service,
    smtp_server,
    text_and_html,
)
from tests.integration.test_notification_webhooks import (
    REQUESTED,
    ROUTED,
    Story,
    add_contact,
    deliveries_of,
    register_endpoint,
)

pytestmark = pytest.mark.integration

ADMIN = bearer(Role.ADMIN)
DISABLE_AFTER_SECONDS = 1.0


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[int, list[EmailMessage]]]:
    with smtp_server() as server:
        yield server


@pytest.fixture(scope="module")
async def playground(
    bootstrap_servers: str, smtp: tuple[int, list[EmailMessage]]
) -> AsyncIterator[Playground]:
    async for ground in open_playground(bootstrap_servers, smtp[0]):
        # Every replica in this module: ten attempts 0.3 s apart, an endpoint disabled after
        # failing for one second (not five days), at most two attempts at once per replica.
        ground.settings_overrides = {
            "retry_schedule_seconds": (0,) + (0.3,) * 9,
            "endpoint_disable_after_seconds": DISABLE_AFTER_SECONDS,
            "dispatch_concurrency": 2,
        }
        yield ground


@pytest.fixture(scope="module")
def dns() -> ScriptedResolver:
    return ScriptedResolver()


@pytest.fixture(scope="module")
async def api(playground: Playground, dns: ScriptedResolver) -> AsyncIterator[httpx.AsyncClient]:
    async with running_service(playground.settings(), resolver=dns) as (_, client):
        yield client


async def endpoint_view(api: httpx.AsyncClient, endpoint_id: str) -> dict[str, Any]:
    response = await api.get(f"/v1/endpoints/{endpoint_id}", headers=ADMIN)
    assert response.status_code == 200, response.text
    view: dict[str, Any] = response.json()
    return view


async def test_an_endpoint_failing_for_the_whole_window_is_disabled_and_its_partner_told(
    api: httpx.AsyncClient, playground: Playground, smtp: tuple[int, list[EmailMessage]]
) -> None:
    story = Story()
    partner_mail = await add_contact(api, "partner", "en", partner_id=str(story.partner_id))
    with WebhookReceiver(always(500)) as receiver:
        endpoint = await register_endpoint(api, story, receiver.url())
        await playground.publish(story.event(REQUESTED), story.event(ROUTED))

        async def disabled() -> bool:
            return (await endpoint_view(api, endpoint["id"]))["enabled"] is False

        await eventually(disabled, what="the endpoint disabled")
        attempts_when_disabled = len(receiver.received)

        async def told() -> bool:
            return any("disabled" in str(m["Subject"]) for m in mails_to(smtp[1], partner_mail))

        await eventually(told, what="the partner's e-mail")
        await asyncio.sleep(0.6)  # two more scheduled attempts would have come by now
    assert len(receiver.received) == attempts_when_disabled  # nothing after the disabling
    # Disabled on the attempt that found it failing for the window, not before: the
    # schedule had attempts to spare (ten), and the first ones were within the window.
    spread = receiver.received[-1].at - receiver.received[0].at
    assert spread >= DISABLE_AFTER_SECONDS
    assert 2 <= attempts_when_disabled < 10
    view = await endpoint_view(api, endpoint["id"])
    assert view["disabled_reason"] == "consecutive_failures"
    assert view["consecutive_failures"] == attempts_when_disabled
    (delivery,) = await deliveries_of(api, ADMIN, endpoint_id=endpoint["id"])
    assert delivery["state"] == "failed"
    (mail,) = [m for m in mails_to(smtp[1], partner_mail) if "disabled" in str(m["Subject"])]
    text, _ = text_and_html(mail)
    assert endpoint["id"] in text
    assert "consecutive_failures" in text

    found = await notification_records(
        playground,
        lambda _, e: (
            e.type == NotificationEndpointDisabledV1.event_type
            and e.data.model_dump().get("partner_id") == story.partner_id
        ),
        expected=1,
    )
    ((record, event),) = found
    assert record.key == str(story.partner_id).encode()
    assert event.data.model_dump(mode="json") == {
        "partner_id": str(story.partner_id),
        "channel": "webhook",
        "reason": "consecutive_failures",
        "consecutive_failures": attempts_when_disabled,
        "endpoint_id": endpoint["id"],
    }


async def test_a_name_rebound_to_a_forbidden_address_is_refused_at_delivery(
    api: httpx.AsyncClient, playground: Playground, dns: ScriptedResolver
) -> None:
    story = Story()
    # Two receivers on one port: the allowed address (127.0.0.1/32 is allowed here) and a
    # forbidden one (the rest of loopback is not).
    with (
        WebhookReceiver() as allowed,
        WebhookReceiver(host="127.0.0.2", port=allowed.port) as forbidden,
    ):
        stable = f"stable-{uuid.uuid4().hex[:8]}.partner.test"
        rebinding = f"rebinding-{uuid.uuid4().hex[:8]}.partner.test"
        dns.point(stable, "127.0.0.1")
        dns.point(rebinding, "127.0.0.1")  # what registration sees
        control = await register_endpoint(api, story, f"http://{stable}:{allowed.port}/hook")
        rebound = await register_endpoint(api, story, f"http://{rebinding}:{allowed.port}/hook")
        dns.point(rebinding, "127.0.0.2")  # what delivery sees
        await playground.publish(story.event(REQUESTED), story.event(ROUTED))

        async def refused_twice() -> bool:
            items = await deliveries_of(api, ADMIN, endpoint_id=rebound["id"])
            return bool(items) and items[0]["attempts"] >= 2

        await eventually(refused_twice, what="two refused attempts")

        async def control_arrived() -> bool:
            return bool(allowed.received)

        await eventually(control_arrived, what="the stable endpoint's message")
    assert forbidden.received == []  # no request ever reached the forbidden address
    assert [r.headers["host"] for r in allowed.received] == [f"{stable}:{allowed.port}"]
    assert dns.asked.count(rebinding) >= 3  # registration, then before every attempt
    (item,) = await deliveries_of(api, ADMIN, endpoint_id=rebound["id"])
    detail = (await api.get(f"/v1/deliveries/{item['id']}", headers=ADMIN)).json()
    assert {a["failure"] for a in detail["attempt_log"]} == {"invalid_endpoint"}
    assert all(a["status_code"] is None for a in detail["attempt_log"])
    assert all("loopback" in a["error"] for a in detail["attempt_log"])
    assert rebinding not in str(detail["attempt_log"])  # errors name the rule, not the host
    (sent,) = await deliveries_of(api, ADMIN, endpoint_id=control["id"])
    assert sent["state"] == "delivered"


async def _queue_tests(api: httpx.AsyncClient, story: Story, endpoint_id: str, count: int) -> None:
    for _ in range(count):
        response = await api.post(
            f"/v1/endpoints/{endpoint_id}/test", headers=story.partner_headers()
        )
        assert response.status_code == 202, response.text


async def _all_delivered(api: httpx.AsyncClient, endpoint_id: str, count: int) -> None:
    async def done() -> bool:
        items = await deliveries_of(
            api, ADMIN, endpoint_id=endpoint_id, state="delivered", limit=str(count)
        )
        return len(items) == count

    await eventually(done, timeout=30, what=f"{count} deliveries")


async def test_an_endpoint_s_concurrency_limit_holds_across_two_replicas(
    api: httpx.AsyncClient, playground: Playground, dns: ScriptedResolver
) -> None:
    # Each replica may run two attempts at once; the endpoint takes three. Limits counted
    # per replica would let four through; counted together, three at most, and three is
    # reached only if both replicas work.
    story = Story()
    async with running_service(playground.settings(), resolver=dns) as (second, _):
        with WebhookReceiver(lambda _n, _r: (204, {}, 0.4)) as receiver:
            created = await api.post(
                "/v1/endpoints",
                json={"url": receiver.url(), "event_types": [ROUTED], "max_in_flight": 3},
                headers=story.partner_headers(),
            )
            assert created.status_code == 201, created.text
            endpoint_id = created.json()["id"]
            await _queue_tests(api, story, endpoint_id, 12)
            await _all_delivered(api, endpoint_id, 12)
        assert second.state.dispatcher.attempts_made > 0
    assert len(receiver.received) == 12
    assert receiver.most_at_once == 3


async def test_an_endpoint_s_rate_limit_holds_across_two_replicas(
    api: httpx.AsyncClient, playground: Playground, dns: ScriptedResolver
) -> None:
    # Two per second for the endpoint: eight messages take three seconds or more, whichever
    # replica sends them (per-replica limits would send four a second).
    story = Story()
    async with running_service(playground.settings(), resolver=dns):
        with WebhookReceiver() as receiver:
            created = await api.post(
                "/v1/endpoints",
                json={"url": receiver.url(), "event_types": [ROUTED], "rate_limit_per_second": 2},
                headers=story.partner_headers(),
            )
            assert created.status_code == 201, created.text
            endpoint_id = created.json()["id"]
            await _queue_tests(api, story, endpoint_id, 8)
            await _all_delivered(api, endpoint_id, 8)
    arrivals = sorted(r.at for r in receiver.received)
    assert len(arrivals) == 8
    assert arrivals[-1] - arrivals[0] >= 2.8
    # At most two in any stretch shorter than a second (a little slack for the trip).
    assert all(
        later - earlier >= 0.8 for earlier, later in zip(arrivals, arrivals[2:], strict=False)
    )
