"""Adapters without servers: signatures, secrets at rest, e-mail rendering, rate buckets."""

from __future__ import annotations

import ipaddress
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from standardwebhooks import Webhook

from mpa_contracts import examples
from mpa_contracts.envelope import new_envelope
from mpa_notification.adapters.email import build_message, render_email
from mpa_notification.adapters.secrets import SecretBox, new_webhook_secret
from mpa_notification.adapters.webhooks import encode_body, resolve_checked, signature_header
from mpa_notification.domain.content import body_for_event
from mpa_notification.domain.messages import WORDING, Language
from mpa_notification.domain.url_policy import IPAddress, UrlPolicy, UrlRefused
from mpa_notification.settings import NotificationSettings


def test_signatures_verify_with_the_reference_library_for_each_secret() -> None:
    old, new = new_webhook_secret(), new_webhook_secret()
    payload = encode_body({"type": "mpa.webhook.test", "data": {"é": 1}})
    now = datetime.now(UTC)
    header = signature_header("msg_1", now, payload, [new, old])
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": header,
    }
    assert header.count("v1,") == 2
    for secret in (old, new):
        Webhook(secret).verify(payload, headers)
    with pytest.raises(Exception, match="signature"):
        Webhook(new_webhook_secret()).verify(payload, headers)


def test_secrets_are_sealed_per_endpoint(tmp_path: Path) -> None:
    settings = NotificationSettings(secrets_dev_key_file=tmp_path / "key")
    box = SecretBox.from_settings(settings)
    endpoint, other = uuid.uuid4(), uuid.uuid4()
    secret = new_webhook_secret()
    sealed = box.seal(endpoint, secret)
    assert secret.encode() not in sealed
    assert SecretBox.from_settings(settings).open(endpoint, sealed) == secret
    with pytest.raises(RuntimeError):
        box.open(other, sealed)  # copied onto another endpoint: refused
    assert (tmp_path / "key").stat().st_mode & 0o077 == 0


def test_production_refuses_the_development_key(tmp_path: Path) -> None:
    settings = NotificationSettings(MPA_ENV="production", secrets_dev_key_file=tmp_path / "k")
    with pytest.raises(RuntimeError, match="required in production"):
        SecretBox.from_settings(settings)


def test_every_message_is_worded_in_every_language() -> None:
    for language in Language:
        assert set(WORDING[language]) == set(WORDING[Language.ENGLISH])


@pytest.mark.parametrize("language", list(Language))
def test_emails_render_in_the_recipient_s_language(language: Language) -> None:
    envelope = new_envelope(
        examples.example_event("org.mpa.referral.routed.v1"), source="urn:mpa:service:referral"
    )
    body = body_for_event(envelope, referral_api_base_url="http://127.0.0.1:8002")
    rendered = render_email(body, language)
    assert str(examples.REFERRAL_ID) in rendered.subject
    assert f'lang="{language.value}"' in rendered.html
    assert ('dir="rtl"' in rendered.html) is (language is Language.ARABIC)
    assert f"/v1/referrals/{examples.REFERRAL_ID}" in rendered.text
    message = build_message(
        rendered, sender="n@mpa.invalid", recipient="r@x.org", message_id="msg_1", language=language
    )
    assert message["Content-Language"] == language.value
    assert message.get_body(preferencelist=("html",)) is not None


def test_html_escapes_what_it_shows() -> None:
    body = {"type": "org.mpa.referral.accepted.v1", "data": {"referral_id": "<b>x</b>"}}
    assert "<b>x</b>" not in render_email(body, Language.ENGLISH).html


async def test_names_are_resolved_by_the_injected_resolver_and_checked() -> None:
    policy = UrlPolicy.build(allow_http=True, allowed_networks=("127.0.0.1/32",))
    answers: dict[str, list[IPAddress]] = {"partner.test": [ipaddress.ip_address("127.0.0.1")]}
    asked: list[tuple[str, int]] = []

    async def resolver(host: str, port: int) -> list[IPAddress]:
        asked.append((host, port))
        if host not in answers:
            raise OSError("no such host")
        return answers[host]

    target = await resolve_checked("http://partner.test:8080/hook", policy, resolver)
    assert (str(target.address), target.port) == ("127.0.0.1", 8080)
    answers["partner.test"] = [ipaddress.ip_address("127.0.0.2")]  # rebound to loopback
    with pytest.raises(UrlRefused, match="loopback"):
        await resolve_checked("http://partner.test:8080/hook", policy, resolver)
    with pytest.raises(UrlRefused, match="does not resolve"):
        await resolve_checked("https://unknown.test/hook", policy, resolver)
    literal = await resolve_checked("http://127.0.0.1:9/hook", policy, resolver)
    assert str(literal.address) == "127.0.0.1"
    assert asked == [("partner.test", 8080), ("partner.test", 8080), ("unknown.test", 443)]
