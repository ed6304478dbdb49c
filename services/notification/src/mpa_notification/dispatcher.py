"""The durable dispatcher: claims due deliveries from the database, attempts them, and
records what happened — claims and results in bulk.

Every replica runs one. Claims use `FOR UPDATE SKIP LOCKED` plus a lease, so replicas share
the work without sending a message twice at once, and a crashed replica's claims become due
again when their lease ends (the same `webhook-id`, the same e-mail Message-ID). Isolation
between endpoints: a pool of concurrent attempts per replica, and per lane (one endpoint, or
the SMTP server) at most its max in flight and its rate limit across all replicas together
(the claim counts every replica's leases), so a slow or dead endpoint holds at most its own
few slots and never delays the others. Per-endpoint ordering is NOT promised: retries,
concurrency and replicas all reorder; receivers order by the body's `timestamp` and
deduplicate by `webhook-id`.

Attempts end into a buffer that one recorder writes, all it holds in one transaction
(group commit: the busier the dispatcher, the larger each batch). A database that goes
away stops claims and recording quietly — the service's dependency monitor says so once
(and in /readyz), both retry with capped backoff, and the buffer is recorded when the
database is back (claims wait for it, so a lease that ran out meanwhile is not re-sent
before its first attempt is recorded).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from datetime import UTC, datetime

from mpa_common.failures import dependency_of, describe, is_transient
from mpa_common.health import DependencyMonitor
from mpa_contracts.vocabularies import DeliveryFailureReason, NotificationChannel
from mpa_notification.adapters.email import EmailSender
from mpa_notification.adapters.webhooks import WebhookSender
from mpa_notification.app.attempts import AttemptMade, claim, record_attempts
from mpa_notification.app.context import NotificationContext
from mpa_notification.app.endpoints import signing_secrets
from mpa_notification.app.ports import UowFactory
from mpa_notification.domain.messages import Language
from mpa_notification.domain.models import Claim, Claimed, Endpoint
from mpa_notification.domain.outcomes import AttemptResult, Verdict

log = logging.getLogger(__name__)

# Let a few more attempts end before claiming again: one claim for several slots costs
# about what a claim for one does.
CLAIM_COALESCE_SECONDS = 0.01
RETRY_FIRST_SECONDS = 0.2
RETRY_MAX_SECONDS = 10.0
# Opened signing secrets kept per (endpoint, sealed secret) so that each attempt does not
# decrypt again; bounded (cleared when full).
_SECRET_CACHE_SIZE = 10_000


class _Backoff:
    """Capped exponential backoff with jitter in its upper half."""

    def __init__(self) -> None:
        self._attempt = 0

    def reset(self) -> None:
        self._attempt = 0

    def next(self) -> float:
        self._attempt += 1
        ceiling = min(RETRY_MAX_SECONDS, RETRY_FIRST_SECONDS * 2 ** (self._attempt - 1))
        return random.uniform(ceiling / 2, ceiling)


class Dispatcher:
    name = "dispatcher"
    recorder_name = "dispatcher-recorder"

    def __init__(
        self,
        context: NotificationContext,
        uow: UowFactory,
        webhooks: WebhookSender,
        email: EmailSender,
        *,
        monitor: DependencyMonitor | None = None,
    ) -> None:
        self._context = context
        self._uow = uow
        self._webhooks = webhooks
        self._email = email
        self._monitor = monitor or DependencyMonitor()
        settings = context.settings
        self._capacity = settings.dispatch_concurrency
        self._poll = settings.dispatch_poll_seconds
        self._idle = max(settings.dispatch_idle_seconds, self._poll)
        self._record_batch = settings.dispatch_record_batch_max
        self._tasks: set[asyncio.Task[None]] = set()
        self._ended: list[AttemptMade] = []  # attempts made, not recorded yet
        # Ended attempts whose lanes the next claim frees: (delivery, the lease it took).
        self._unreleased: dict[uuid.UUID, datetime] = {}
        self._have_ended = asyncio.Event()
        self._recorder_failing = False
        self._wake = asyncio.Event()
        # Until then (monotonic), nothing is due that the last claim left behind, so an
        # attempt that ends, or a recording of deliveries, need not wake the claimer: it
        # would claim nothing (new work, a due retry and stopping still wake it).
        self._quiet_until = 0.0
        self._stopping = asyncio.Event()
        self._claimer: asyncio.Task[None] | None = None
        self._recorder: asyncio.Task[None] | None = None
        self._secrets: dict[tuple[object, bytes, bytes | None], list[str]] = {}
        # Counters, for tests and benchmarks.
        self.attempts_made = 0
        self.attempts_recorded = 0
        self.claims = 0
        self.claimed = 0
        self.recordings = 0
        self.claim_seconds = 0.0
        self.record_seconds = 0.0

    def wake(self) -> None:
        self._quiet_until = 0.0
        self._wake.set()

    async def start(self) -> None:
        self._stopping.clear()
        self._claimer = asyncio.create_task(self._claim_loop(), name="notification-dispatcher")
        self._recorder = asyncio.create_task(self._record_loop(), name="notification-recorder")

    async def stop(self, timeout: float = 10.0) -> None:
        """Stops claiming; lets attempts in flight end and records them (bounded), then
        closes the clients.

        An attempt cut off here, or one whose result could not be recorded (the database
        away), is not lost: its lease ends and any replica makes it again.
        """
        self._stopping.set()
        self._wake.set()
        if self._claimer is not None:
            await self._claimer
            self._claimer = None
        deadline = time.monotonic() + timeout
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=timeout)
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._recorder is not None:
            self._have_ended.set()
            try:
                await asyncio.wait_for(self._recorder, max(deadline - time.monotonic(), 0.5))
            except TimeoutError:
                log.warning(
                    "dispatcher stopped with attempts unrecorded; their leases end and they "
                    "are made again",
                    extra={"unrecorded": len(self._ended)},
                )
            self._recorder = None
        await self._webhooks.close()

    # ---- claiming -----------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        backoff = _Backoff()
        while not self._stopping.is_set():
            self._wake.clear()
            self._quiet_until = 0.0
            started = 0
            claimed_now: Claim | None = None
            free = self._capacity - len(self._tasks)
            if free > 0 and not self._recorder_failing:
                ended = list(self._unreleased.items())
                clock = time.perf_counter()
                try:
                    claimed_now = await claim(self._uow, self._context, limit=free, ended=ended)
                except Exception as error:
                    self._failed(self.name, "claiming deliveries failed", error)
                    await self._pause(backoff.next())
                    continue
                backoff.reset()
                for delivery_id, _ in ended:
                    self._unreleased.pop(delivery_id, None)
                self._monitor.up_everywhere(self.name)
                self.claims += 1
                self.claimed += len(claimed_now.claimed)
                self.claim_seconds += time.perf_counter() - clock
                for item in claimed_now.claimed:
                    self._launch(item)
                started = len(claimed_now.claimed)
            if started and started == free:
                continue  # more may be due: claim again at once
            wait = self._poll
            if claimed_now is not None and not self._recorder_failing:
                # Fewer than the free slots were claimable (maybe none): the claim said
                # when more is due.
                wait = self._idle_wait(claimed_now.next_due_in)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
            await asyncio.sleep(CLAIM_COALESCE_SECONDS)

    def _idle_wait(self, due_in: float | None) -> float:
        """How long a claim that took fewer than its free slots may wait for a wake-up:
        until the next delivery is due (`due_in`: a retry, a lease that ends), at most the
        idle interval; the poll interval when one is due already but its lane is full
        (room comes back with time, or when an attempt ends). New work wakes the dispatcher
        (after the commit that wrote it); another replica's is found within the idle
        interval. When nothing is due before then, attempts that end do not wake it."""
        if due_in is not None and due_in <= 0:
            return self._poll
        wait = self._idle if due_in is None else min(due_in, self._idle)
        self._quiet_until = time.monotonic() + wait
        return wait

    def _failed(self, worker: str, what: str, error: BaseException) -> None:
        """A transient failure is the monitor's to report (once per outage); anything else
        is a bug, logged with its traceback — at most once per backoff round."""
        if is_transient(error):
            self._monitor.down(dependency_of(error), worker=worker, error=error)
        else:
            log.error(what, exc_info=error, extra={"worker": worker})

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    def _launch(self, claimed: Claimed) -> None:
        task = asyncio.create_task(self._attempt(claimed))
        self._tasks.add(task)
        task.add_done_callback(self._ended_task)

    def _ended_task(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if time.monotonic() >= self._quiet_until:
            self._wake.set()  # its slot (and its lane) may be what a due delivery waits for

    # ---- attempting ---------------------------------------------------------------------

    async def _attempt(self, claimed: Claimed) -> None:
        delivery = claimed.delivery
        started_at = datetime.now(UTC)
        clock = time.monotonic()
        try:
            result = await self._send(claimed, started_at)
        except Exception as error:  # a bug or an unexpected library error: retry later
            log.exception("delivery attempt crashed", extra={"delivery_id": str(delivery.id)})
            result = AttemptResult(
                Verdict.RETRY,
                failure=DeliveryFailureReason.CONNECTION_ERROR,
                error=type(error).__name__,
            )
        self.attempts_made += 1
        if delivery.next_attempt_at is not None:  # the claim set it to the lease's end
            self._unreleased[delivery.id] = delivery.next_attempt_at
        self._ended.append(
            AttemptMade(
                delivery.id,
                result,
                started_at=started_at,
                latency_ms=int((time.monotonic() - clock) * 1000),
                attempts_before=delivery.attempts,
            )
        )
        self._have_ended.set()

    async def _send(self, claimed: Claimed, now: datetime) -> AttemptResult:
        delivery = claimed.delivery
        if delivery.channel is NotificationChannel.WEBHOOK:
            endpoint = claimed.endpoint
            assert endpoint is not None  # the claim joins enabled endpoints
            return await self._webhooks.send(
                endpoint.url,
                message_id=delivery.message_id,
                body=delivery.body,
                secrets=self._signing_secrets(endpoint, now),
            )
        assert delivery.email is not None
        return await self._email.send(
            recipient=delivery.email,
            language=Language(delivery.language or Language.ENGLISH.value),
            message_id=delivery.message_id,
            body=delivery.body,
        )

    def _signing_secrets(self, endpoint: Endpoint, now: datetime) -> list[str]:
        in_grace = (
            endpoint.previous_secret_expires_at is not None
            and endpoint.previous_secret_expires_at > now
        )
        key = (endpoint.id, endpoint.secret, endpoint.previous_secret if in_grace else None)
        opened = self._secrets.get(key)
        if opened is None:
            if len(self._secrets) >= _SECRET_CACHE_SIZE:
                self._secrets.clear()
            opened = self._secrets[key] = signing_secrets(self._context.secrets, endpoint, now)
        return opened

    # ---- recording ----------------------------------------------------------------------

    async def _record_loop(self) -> None:
        backoff = _Backoff()
        while True:
            if not self._ended:
                if self._stopping.is_set() and not self._tasks:
                    return
                self._have_ended.clear()
                await self._have_ended.wait()
                continue
            batch = self._ended[: self._record_batch]
            try:
                await self._record(batch)
            except Exception as error:
                self._recorder_failing = True
                self._failed(self.recorder_name, "recording attempts failed", error)
                if self._stopping.is_set() and not is_transient(error):
                    return
                await self._pause_recording(backoff.next())
                continue
            del self._ended[: len(batch)]
            for made in batch:  # recorded: the lease is over anyway
                self._unreleased.pop(made.delivery_id, None)
            backoff.reset()
            if self._recorder_failing:
                self._recorder_failing = False
                self._wake.set()
            self._monitor.up_everywhere(self.recorder_name)
            if time.monotonic() >= self._quiet_until or any(
                made.result.verdict is not Verdict.DELIVERED for made in batch
            ):
                self._wake.set()  # their lanes are free again; a retry may be due at once

    async def _record(self, batch: list[AttemptMade]) -> None:
        """Records a batch; when it fails for a reason that is not transient (a bug in one
        result), records its attempts one by one and drops only those that fail (their
        leases end and they are made again)."""
        clock = time.perf_counter()
        try:
            await record_attempts(batch, self._uow, self._context)
        except Exception as error:
            if is_transient(error) or len(batch) == 1:
                raise
            for made in batch:
                try:
                    await record_attempts([made], self._uow, self._context)
                except Exception as single:
                    if is_transient(single):
                        raise
                    log.error(
                        "an attempt could not be recorded; it is made again after its lease",
                        extra={"delivery_id": str(made.delivery_id), "error": describe(single)},
                    )
        self.recordings += 1
        self.attempts_recorded += len(batch)
        self.record_seconds += time.perf_counter() - clock

    async def _pause_recording(self, seconds: float) -> None:
        # Not cut short by stopping: the buffer is worth recording while the stop allows.
        await asyncio.sleep(seconds)
