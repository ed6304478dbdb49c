"""Pure rules: the retry schedule, reading responses, the URL policy, who is told what."""

from __future__ import annotations

import ipaddress
import random
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from mpa_contracts import examples
from mpa_contracts.envelope import new_envelope
from mpa_contracts.vocabularies import (
    DeliveryFailureReason,
    EndpointDisabledReason,
    NotificationRecipient,
)
from mpa_notification.domain.content import body_for_event
from mpa_notification.domain.models import DisabledReason
from mpa_notification.domain.outcomes import Verdict, classify_http_response, parse_retry_after
from mpa_notification.domain.routing import (
    EMAIL_AUDIENCES,
    RECIPIENT_KIND,
    WEBHOOK_EVENT_TYPES,
    Audience,
    partner_concerned,
)
from mpa_notification.domain.schedule import RetrySchedule
from mpa_notification.domain.url_policy import UrlPolicy, UrlRefused
from mpa_notification.settings import DEFAULT_RETRY_SCHEDULE_SECONDS

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def test_the_default_schedule_is_the_issue_s() -> None:
    schedule = RetrySchedule(DEFAULT_RETRY_SCHEDULE_SECONDS, jitter_ratio=0)
    waits = [schedule.delay_after(n) for n in range(8)]
    assert waits == [0, 5, 300, 1800, 7200, 18000, 36000, 36000]
    assert schedule.delay_after(8) is None


def test_jitter_stays_within_its_ratio_and_varies() -> None:
    schedule = RetrySchedule((0, 100), jitter_ratio=0.1)
    rng = random.Random(7)
    waits = {schedule.delay_after(1, rng=rng) for _ in range(50)}
    assert all(w is not None and 90 <= w <= 110 for w in waits)
    assert len(waits) > 1


def test_retry_after_replaces_the_wait_but_is_capped_and_never_extends_the_attempts() -> None:
    schedule = RetrySchedule((0, 5, 300), jitter_ratio=0, max_retry_after=600)
    assert schedule.delay_after(1, retry_after=2) == 2
    assert schedule.delay_after(1, retry_after=10_000) == 600
    assert schedule.delay_after(3, retry_after=2) is None


def test_parse_retry_after_reads_seconds_and_http_dates() -> None:
    assert parse_retry_after("120", NOW) == 120
    later = format_datetime(NOW + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(later, NOW) == 30
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after(None, NOW) is None


@pytest.mark.parametrize(
    ("status", "verdict", "failure"),
    [
        (200, Verdict.DELIVERED, None),
        (204, Verdict.DELIVERED, None),
        (410, Verdict.GONE, DeliveryFailureReason.HTTP_CLIENT_ERROR),
        (404, Verdict.RETRY, DeliveryFailureReason.HTTP_CLIENT_ERROR),
        (301, Verdict.RETRY, DeliveryFailureReason.HTTP_CLIENT_ERROR),
        (500, Verdict.RETRY, DeliveryFailureReason.HTTP_SERVER_ERROR),
    ],
)
def test_responses_are_classified(
    status: int, verdict: Verdict, failure: DeliveryFailureReason | None
) -> None:
    result = classify_http_response(status, None, NOW)
    assert (result.verdict, result.failure, result.status_code) == (verdict, failure, status)


def test_retry_after_counts_only_on_429_and_503() -> None:
    assert classify_http_response(429, "7", NOW).retry_after_seconds == 7
    assert classify_http_response(503, "7", NOW).retry_after_seconds == 7
    assert classify_http_response(500, "7", NOW).retry_after_seconds is None


PRODUCTION = UrlPolicy.build(allow_http=False, allowed_networks=())


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.5",
        "172.16.3.4",
        "192.168.0.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104 (an address to refuse, not one to bind)
        "::1",
        "fe80::1",
        "fc00::1",
        "fd00:ec2::254",
        "::ffff:10.0.0.1",
        "224.0.0.1",
    ],
)
def test_internal_addresses_are_refused(address: str) -> None:
    with pytest.raises(UrlRefused):
        PRODUCTION.check_addresses([ipaddress.ip_address(address)])


def test_public_addresses_pass_and_one_bad_answer_spoils_the_lot() -> None:
    PRODUCTION.check_addresses([ipaddress.ip_address("93.184.215.14")])
    with pytest.raises(UrlRefused):
        PRODUCTION.check_addresses(
            [ipaddress.ip_address("93.184.215.14"), ipaddress.ip_address("10.0.0.1")]
        )
    with pytest.raises(UrlRefused):
        PRODUCTION.check_addresses([])


def test_an_explicit_allowance_opens_only_its_network() -> None:
    local = UrlPolicy.build(allow_http=True, allowed_networks=["127.0.0.1/32"])
    local.check_addresses([ipaddress.ip_address("127.0.0.1")])
    with pytest.raises(UrlRefused):
        local.check_addresses([ipaddress.ip_address("127.0.0.2")])


@pytest.mark.parametrize(
    "url",
    ["http://partner.example.org/h", "ftp://x.org/", "https://u:p@x.org/", "https:///h"],
)
def test_production_takes_only_plain_https_urls(url: str) -> None:
    with pytest.raises(UrlRefused) as refused:
        PRODUCTION.check_url(url)
    assert url not in str(refused.value)


def test_who_is_told_what() -> None:
    r = "org.mpa.referral."
    assert EMAIL_AUDIENCES[r + "routed.v1"] == {Audience.PARTNER}
    for event in ("accepted", "declined", "completed", "failed"):
        assert EMAIL_AUDIENCES[f"{r}{event}.v1"] == {Audience.REFERRER}
    for event in ("sla_breached", "unroutable"):
        assert EMAIL_AUDIENCES[f"{r}{event}.v1"] == {Audience.REFERRER, Audience.SUPERVISORS}
    assert EMAIL_AUDIENCES["org.mpa.notification.exhausted.v1"] == {
        Audience.PARTNER,
        Audience.REFERRER,
        Audience.SUPERVISORS,
    }
    assert r + "routed.v1" in WEBHOOK_EVENT_TYPES
    assert r + "requested.v1" not in WEBHOOK_EVENT_TYPES


def test_outcome_events_name_every_audience_and_every_disabling_reason() -> None:
    assert {RECIPIENT_KIND[audience].value for audience in Audience} == {a.value for a in Audience}
    assert set(RECIPIENT_KIND.values()) == set(NotificationRecipient)
    # Each reason this service decides is a code of the event (410 included: `gone`).
    assert {EndpointDisabledReason(reason.value) for reason in DisabledReason} <= set(
        EndpointDisabledReason
    )
    assert EndpointDisabledReason(DisabledReason.GONE.value) is EndpointDisabledReason.GONE


def test_a_rerouted_referral_concerns_the_partner_it_left() -> None:
    rerouted = examples.example_event("org.mpa.referral.rerouted.v1")
    assert partner_concerned(rerouted) == examples.PARTNER_ID


def test_a_body_holds_ids_state_and_links_but_not_routing_s_explanation() -> None:
    envelope = new_envelope(
        examples.example_event("org.mpa.referral.routed.v1"), source="urn:mpa:service:referral"
    )
    body = body_for_event(envelope, referral_api_base_url="http://referral:8002/")
    assert body["type"] == "org.mpa.referral.routed.v1"
    data = body["data"]
    assert data["state"] == "routed"
    assert data["event_id"] == str(envelope.id)
    assert data["links"]["referral"] == f"http://referral:8002/v1/referrals/{examples.REFERRAL_ID}"
    assert "explanation" not in data
    assert str(examples.OTHER_PARTNER_ID) not in str(body)
    assert uuid.UUID(data["referral_id"]) == examples.REFERRAL_ID
