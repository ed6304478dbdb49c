"""E-mail: rendering a notification in the recipient's language, and sending it over SMTP."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import aiosmtplib
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from mpa_contracts.vocabularies import DeliveryFailureReason
from mpa_notification.domain.messages import FRAMES, Language, wording_for
from mpa_notification.domain.outcomes import AttemptResult, Verdict
from mpa_notification.settings import NotificationSettings

_templates = Environment(
    loader=PackageLoader("mpa_notification", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=True),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def render_email(body: dict[str, Any], language: Language) -> RenderedEmail:
    data: dict[str, Any] = body.get("data", {})
    wording = wording_for(str(body["type"]), language, data)
    frame = FRAMES[language]
    facts = [(label, data[key]) for key, label in frame.labels.items() if data.get(key)]
    links: dict[str, str] = data.get("links") or {}
    context = {
        "language": language.value,
        "direction": "rtl" if language.right_to_left else "ltr",
        # RIGHT-TO-LEFT MARK: plain-text readers then lay each Arabic line out right to left.
        "mark": "\u200f" if language.right_to_left else "",
        "wording": wording,
        "frame": frame,
        "facts": facts,
        "link": next(iter(links.values()), None),
    }
    return RenderedEmail(
        subject=wording.subject,
        text=_templates.get_template("email.txt.j2").render(context),
        html=_templates.get_template("email.html.j2").render(context),
    )


def build_message(
    rendered: RenderedEmail, *, sender: str, recipient: str, message_id: str, language: Language
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = rendered.subject
    # Stable across retries, so a mail system that got it twice can tell.
    message["Message-ID"] = make_msgid(idstring=message_id, domain="mpa.invalid")
    message["X-MPA-Notification-Id"] = message_id
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    # After the content: setting content clears Content-* headers.
    message["Content-Language"] = language.value
    return message


class EmailSender:
    def __init__(self, settings: NotificationSettings) -> None:
        self._settings = settings

    async def send(
        self, *, recipient: str, language: Language, message_id: str, body: dict[str, Any]
    ) -> AttemptResult:
        settings = self._settings
        message = build_message(
            render_email(body, language),
            sender=settings.smtp_from,
            recipient=recipient,
            message_id=message_id,
            language=language,
        )
        try:
            await aiosmtplib.send(
                message,
                hostname=settings.smtp_host,
                port=settings.smtp_port,
                start_tls=settings.smtp_start_tls,
                use_tls=settings.smtp_use_tls,
                username=settings.smtp_username or None,
                password=settings.smtp_password.get_secret_value() or None,
                timeout=settings.smtp_timeout_seconds,
            )
        except aiosmtplib.SMTPTimeoutError:
            return _failed(DeliveryFailureReason.TIMEOUT, "SMTP server did not answer in time")
        except aiosmtplib.SMTPConnectError:
            return _failed(DeliveryFailureReason.CONNECTION_ERROR, "SMTP connection failed")
        except aiosmtplib.SMTPResponseException as error:
            return _failed(DeliveryFailureReason.SMTP_REJECTED, f"SMTP answered {error.code}")
        except aiosmtplib.SMTPException as error:
            return _failed(DeliveryFailureReason.SMTP_REJECTED, type(error).__name__)
        except OSError as error:
            return _failed(DeliveryFailureReason.CONNECTION_ERROR, type(error).__name__)
        return AttemptResult(Verdict.DELIVERED)


def _failed(reason: DeliveryFailureReason, error: str) -> AttemptResult:
    return AttemptResult(Verdict.RETRY, failure=reason, error=error)
