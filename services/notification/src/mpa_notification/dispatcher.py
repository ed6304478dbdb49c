"""The durable dispatcher: claims due deliveries from the database and attempts them.

Every replica runs one. Claims use `FOR UPDATE SKIP LOCKED` plus a lease, so replicas share
the work without sending a message twice at once, and a crashed replica's claims become due
again when their lease ends. Isolation between endpoints: a pool of concurrent attempts per
replica, and per lane (one endpoint, or the SMTP server) at most its max in flight and its
rate limit across all replicas together (the claim counts every replica's leases), so a slow
or dead endpoint holds at most its own few slots and never delays the others. Per-endpoint
ordering is NOT promised: retries, concurrency and replicas all reorder; receivers order by
the body's `timestamp` and deduplicate by `webhook-id`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime

from mpa_contracts.vocabularies import DeliveryFailureReason, NotificationChannel
from mpa_notification.adapters.email import EmailSender
from mpa_notification.adapters.repositories import Claimed
from mpa_notification.adapters.webhooks import WebhookSender
from mpa_notification.app.attempts import record_attempt
from mpa_notification.app.claims import claim_due
from mpa_notification.app.context import NotificationContext
from mpa_notification.app.endpoints import signing_secrets
from mpa_notification.domain.messages import Language
from mpa_notification.domain.outcomes import AttemptResult, Verdict

log = logging.getLogger(__name__)

CLAIM_COALESCE_SECONDS = 0.02


class Dispatcher:
    name = "dispatcher"

    def __init__(
        self, context: NotificationContext, webhooks: WebhookSender, email: EmailSender
    ) -> None:
        self._context = context
        self._webhooks = webhooks
        self._email = email
        settings = context.settings
        self._capacity = settings.dispatch_concurrency
        self._poll = settings.dispatch_poll_seconds
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.attempts_made = 0

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name="notification-dispatcher")

    async def stop(self, timeout: float = 10.0) -> None:
        """Stops claiming; lets attempts in flight finish (bounded), then closes clients.

        An attempt cut off here is not lost: its lease ends and any replica retries it.
        """
        self._stopping.set()
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=timeout)
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self._webhooks.close()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            started = 0
            free = self._capacity - len(self._tasks)
            if free > 0:
                try:
                    claimed = await claim_due(self._context, limit=free)
                except Exception:
                    log.exception("claiming deliveries failed; retrying")
                    claimed = []
                for item in claimed:
                    self._launch(item)
                started = len(claimed)
            if started and started == free:
                continue  # more may be due: claim again at once
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll)
            # Let a few more attempts finish: one claim for several slots costs about what
            # a claim for one does.
            await asyncio.sleep(CLAIM_COALESCE_SECONDS)

    def _launch(self, claimed: Claimed) -> None:
        task = asyncio.create_task(self._attempt(claimed))
        self._tasks.add(task)

    async def _attempt(self, claimed: Claimed) -> None:
        delivery = claimed.delivery
        started_at = datetime.now(UTC)
        clock = time.monotonic()
        try:
            try:
                result = await self._send(claimed, started_at)
            except Exception as error:  # a bug or an unexpected library error: retry later
                log.exception("delivery attempt crashed", extra={"delivery_id": str(delivery.id)})
                result = AttemptResult(
                    Verdict.RETRY,
                    failure=DeliveryFailureReason.CONNECTION_ERROR,
                    error=type(error).__name__,
                )
            latency_ms = int((time.monotonic() - clock) * 1000)
            self.attempts_made += 1
            try:
                await record_attempt(
                    self._context, delivery, result, started_at=started_at, latency_ms=latency_ms
                )
            except Exception:
                # Not recorded: the lease ends and the attempt is made again (at least once).
                log.exception(
                    "recording an attempt failed", extra={"delivery_id": str(delivery.id)}
                )
        finally:
            task = asyncio.current_task()
            if task is not None:
                self._tasks.discard(task)
            self._wake.set()

    async def _send(self, claimed: Claimed, now: datetime) -> AttemptResult:
        delivery = claimed.delivery
        if delivery.channel is NotificationChannel.WEBHOOK:
            endpoint = claimed.endpoint
            assert endpoint is not None  # the claim joins enabled endpoints
            return await self._webhooks.send(
                endpoint.url,
                message_id=delivery.message_id,
                body=delivery.body,
                secrets=signing_secrets(self._context, endpoint, now),
            )
        assert delivery.email is not None
        return await self._email.send(
            recipient=delivery.email,
            language=Language(delivery.language or Language.ENGLISH.value),
            message_id=delivery.message_id,
            body=delivery.body,
        )
