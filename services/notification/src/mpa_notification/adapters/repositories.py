"""The service's repositories over PostgreSQL, inside a unit of work's session (the
delivery queue, the dispatcher's side of the deliveries, is in `delivery_queue`)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Sequence
from datetime import datetime

import asyncpg
from sqlalchemy import and_, bindparam, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mpa_common.driver import driver_of
from mpa_notification.adapters.records import (
    contact_of,
    delivery_of,
    endpoint_of,
    endpoint_values,
)
from mpa_notification.adapters.tables import (
    contacts,
    deliveries,
    delivery_attempts,
    endpoints,
    partners,
)
from mpa_notification.domain.errors import DuplicateAddress
from mpa_notification.domain.models import (
    Attempt,
    Contact,
    Delivery,
    DeliveryFilter,
    Endpoint,
    KnownReferral,
    NewDelivery,
    ReferralFacts,
)
from mpa_notification.domain.routing import Audience

_live = endpoints.c.deleted_at.is_(None)

# The fan-out's reads and write, one fixed statement each for any number of rows (arrays,
# not an expanding IN or a multi-row VALUES, which SQLAlchemy compiles anew every time),
# sent to the driver (`driver_of`).
_ENABLED_OF = f"""
SELECT {", ".join(c.name for c in endpoints.c)} FROM endpoints
WHERE partner_id = ANY($1::uuid[]) AND enabled AND deleted_at IS NULL
ORDER BY created_at, id
"""  # noqa: S608 - constants only
_ENABLED_OF_LOCKED = _ENABLED_OF + "FOR UPDATE\n"
_CONTACTS_OF_OWNERS = f"""
SELECT {", ".join(c.name for c in contacts.c)} FROM contacts
WHERE (kind, owner) IN (SELECT * FROM unnest($1::text[], $2::text[]))
ORDER BY created_at, id
"""  # noqa: S608 - constants only
# Both at once (a fan-out needs both): the endpoints' rows (part 0), then the contacts'
# (part 1), in one result of the endpoints' columns and then the contacts' own; a column
# the other kind has not is NULL in its rows.
_ENDPOINT_NAMES = [c.name for c in endpoints.c]
_CONTACT_NAMES = {c.name for c in contacts.c}
_CONTACT_ONLY = [c.name for c in contacts.c if c.name not in _ENDPOINT_NAMES]
_AS_ENDPOINT = [name if name in _CONTACT_NAMES else "NULL" for name in _ENDPOINT_NAMES]
_RECIPIENTS = f"""
SELECT * FROM (
    SELECT 0 AS part, {", ".join(_ENDPOINT_NAMES)},
        {", ".join(f"NULL::text AS {name}" for name in _CONTACT_ONLY)}
    FROM endpoints
    WHERE partner_id = ANY($1::uuid[]) AND enabled AND deleted_at IS NULL
    UNION ALL
    SELECT 1, {", ".join(_AS_ENDPOINT)}, {", ".join(_CONTACT_ONLY)}
    FROM contacts
    WHERE (kind, owner) IN (SELECT * FROM unnest($2::text[], $3::text[]))
) AS recipients
ORDER BY part, created_at, id
"""  # noqa: S608 - constants only
_ADD_DELIVERIES = """
INSERT INTO deliveries
    (id, channel, audience, endpoint_id, email, contact_id, language, partner_id, event_type,
     trigger_event_id, correlation_id, referral_id, case_id, body, state, next_attempt_at)
SELECT d.id, d.channel, d.audience, d.endpoint_id, d.email, d.contact_id, d.language,
       d.partner_id, d.event_type, d.trigger_event_id, d.correlation_id, d.referral_id,
       d.case_id, CAST(d.body AS jsonb), 'pending', d.next_attempt_at
FROM unnest(
    $1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::text[], $6::uuid[], $7::text[],
    $8::uuid[], $9::text[], $10::uuid[], $11::uuid[], $12::uuid[], $13::uuid[], $14::text[],
    $15::timestamptz[]
) WITH ORDINALITY AS d(id, channel, audience, endpoint_id, email, contact_id, language,
    partner_id, event_type, trigger_event_id, correlation_id, referral_id, case_id, body,
    next_attempt_at, n)
ORDER BY d.n
"""


class SqlEndpoints:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, endpoint: Endpoint) -> Endpoint:
        row = (
            await self._session.execute(
                insert(endpoints)
                .values(
                    id=endpoint.id,
                    partner_id=endpoint.partner_id,
                    created_at=endpoint.created_at,
                    updated_at=endpoint.updated_at,
                    **endpoint_values(endpoint),
                )
                .returning(endpoints)
            )
        ).one()
        return endpoint_of(row._mapping)

    async def get(
        self, endpoint_id: uuid.UUID, *, partner_id: uuid.UUID | None, lock: bool = False
    ) -> Endpoint | None:
        query = select(endpoints).where(endpoints.c.id == endpoint_id, _live)
        if partner_id is not None:
            query = query.where(endpoints.c.partner_id == partner_id)
        if lock:
            query = query.with_for_update()
        row = (await self._session.execute(query)).first()
        return endpoint_of(row._mapping) if row else None

    async def get_many(
        self, endpoint_ids: Collection[uuid.UUID], *, lock: bool = False
    ) -> dict[uuid.UUID, Endpoint]:
        if not endpoint_ids:
            return {}
        query = select(endpoints).where(endpoints.c.id.in_(list(endpoint_ids)), _live)
        if lock:
            # In id order: two transactions locking overlapping sets cannot deadlock.
            query = query.order_by(endpoints.c.id).with_for_update()
        rows = await self._session.execute(query)
        return {row.id: endpoint_of(row._mapping) for row in rows}

    async def visible(self, *, partner_id: uuid.UUID | None) -> list[Endpoint]:
        query = select(endpoints).where(_live)
        if partner_id is not None:
            query = query.where(endpoints.c.partner_id == partner_id)
        rows = await self._session.execute(query.order_by(endpoints.c.created_at, endpoints.c.id))
        return [endpoint_of(row._mapping) for row in rows]

    async def enabled_of(
        self, partner_ids: Collection[uuid.UUID], *, lock: bool = False
    ) -> list[Endpoint]:
        if not partner_ids:
            return []
        driver = await driver_of(self._session)
        rows = await driver.fetch(
            _ENABLED_OF_LOCKED if lock else _ENABLED_OF, list(set(partner_ids))
        )
        return [endpoint_of(row) for row in rows]

    async def save(self, endpoint: Endpoint) -> Endpoint:
        row = (
            await self._session.execute(
                update(endpoints)
                .where(endpoints.c.id == endpoint.id)
                .values(**endpoint_values(endpoint), updated_at=func.now())
                .returning(endpoints)
            )
        ).one()
        return endpoint_of(row._mapping)

    async def save_many(self, changed: Sequence[Endpoint]) -> None:
        if not changed:
            return
        names = list(endpoint_values(changed[0]))
        await self._session.execute(
            update(endpoints)
            .where(endpoints.c.id == bindparam("b_id"))
            .values({**{name: bindparam(f"b_{name}") for name in names}, "updated_at": func.now()}),
            [
                {"b_id": e.id, **{f"b_{k}": v for k, v in endpoint_values(e).items()}}
                for e in changed
            ],
        )

    async def delete(self, endpoint_id: uuid.UUID) -> None:
        await self._session.execute(
            update(endpoints)
            .where(endpoints.c.id == endpoint_id)
            .values(enabled=False, deleted_at=func.now(), updated_at=func.now())
        )


class SqlContacts:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, contact: Contact) -> Contact | None:
        row = (
            await self._session.execute(
                pg_insert(contacts)
                .values(
                    id=contact.id,
                    kind=contact.kind.value,
                    owner=contact.owner,
                    email=contact.email,
                    language=contact.language,
                    created_at=contact.created_at,
                    updated_at=contact.updated_at,
                )
                .on_conflict_do_nothing()
                .returning(contacts)
            )
        ).first()
        return contact_of(row._mapping) if row else None

    async def get(self, contact_id: uuid.UUID, *, lock: bool = False) -> Contact | None:
        query = select(contacts).where(contacts.c.id == contact_id)
        row = (await self._session.execute(query.with_for_update() if lock else query)).first()
        return contact_of(row._mapping) if row else None

    async def find(
        self, *, kind: Audience | None = None, owner: str | None = None
    ) -> list[Contact]:
        query = select(contacts)
        if kind is not None:
            query = query.where(contacts.c.kind == kind.value)
        if owner is not None:
            query = query.where(contacts.c.owner == owner)
        rows = await self._session.execute(query.order_by(contacts.c.created_at, contacts.c.id))
        return [contact_of(row._mapping) for row in rows]

    async def of_owners(self, owners: Collection[tuple[Audience, str]]) -> list[Contact]:
        if not owners:
            return []
        driver = await driver_of(self._session)
        pairs = list(owners)
        rows = await driver.fetch(
            _CONTACTS_OF_OWNERS, [kind.value for kind, _ in pairs], [owner for _, owner in pairs]
        )
        return [contact_of(row) for row in rows]

    async def recipients(
        self, partner_ids: Collection[uuid.UUID], owners: Collection[tuple[Audience, str]]
    ) -> tuple[list[Endpoint], list[Contact]]:
        if not partner_ids or not owners:  # one of them alone: its own statement
            found = await SqlEndpoints(self._session).enabled_of(partner_ids)
            return found, await self.of_owners(owners)
        driver = await driver_of(self._session)
        pairs = list(owners)
        rows = await driver.fetch(
            _RECIPIENTS,
            list(set(partner_ids)),
            [kind.value for kind, _ in pairs],
            [owner for _, owner in pairs],
        )
        return (
            [endpoint_of(row) for row in rows if row["part"] == 0],
            [contact_of(row) for row in rows if row["part"] == 1],
        )

    async def save(self, contact: Contact) -> Contact | None:
        try:
            async with self._session.begin_nested():
                row = (
                    await self._session.execute(
                        update(contacts)
                        .where(contacts.c.id == contact.id)
                        .values(
                            email=contact.email, language=contact.language, updated_at=func.now()
                        )
                        .returning(contacts)
                    )
                ).first()
        except IntegrityError as error:
            raise DuplicateAddress from error
        return contact_of(row._mapping) if row else None

    async def delete(self, contact_id: uuid.UUID) -> None:
        await self._session.execute(contacts.delete().where(contacts.c.id == contact_id))


# One fixed statement for any number of referrals, in key order (consumers of other
# partitions never deadlock on a referral). A multi-row VALUES would be compiled anew for
# every batch (SQLAlchemy caches no multi-row VALUES); arrays through unnest are not.
_UPSERT_REFERRALS = """
INSERT INTO referrals AS r
    (referral_id, case_id, referrer_actor_id, country, partner_id, state)
SELECT f.referral_id, f.case_id, f.referrer_actor_id, f.country, f.partner_id, f.state
FROM unnest(
    $1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::uuid[], $6::text[]
) WITH ORDINALITY AS f(referral_id, case_id, referrer_actor_id, country, partner_id, state, n)
ORDER BY f.n
ON CONFLICT (referral_id) DO UPDATE SET
    referrer_actor_id = coalesce(excluded.referrer_actor_id, r.referrer_actor_id),
    country = coalesce(excluded.country, r.country),
    partner_id = coalesce(excluded.partner_id, r.partner_id),
    state = coalesce(excluded.state, r.state),
    updated_at = now()
RETURNING r.referral_id, r.case_id, r.referrer_actor_id, r.country, r.partner_id
"""
_REFERRALS = """
SELECT referral_id, case_id, referrer_actor_id, country, partner_id
FROM referrals WHERE referral_id = ANY($1::uuid[])
"""


class SqlReferrals:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        # The referrals this unit of work recorded, as the upsert left them (returned by it):
        # their rows stay locked by this transaction until it ends, so `get_many` need not
        # read them again.
        self._recorded: dict[uuid.UUID, KnownReferral] = {}

    async def record(self, facts: Sequence[ReferralFacts]) -> None:
        folded: dict[uuid.UUID, ReferralFacts] = {}
        for fact in facts:
            known = folded.get(fact.referral_id)
            folded[fact.referral_id] = known.then(fact) if known else fact
        if not folded:
            return
        ordered = [f for _, f in sorted(folded.items())]
        driver = await driver_of(self._session)
        rows = await driver.fetch(
            _UPSERT_REFERRALS,
            [f.referral_id for f in ordered],
            [f.case_id for f in ordered],
            [f.referrer_actor_id for f in ordered],
            [f.country for f in ordered],
            [f.partner_id for f in ordered],
            [f.state for f in ordered],
        )
        for row in rows:
            self._recorded[row["referral_id"]] = _known(row)

    async def get_many(self, referral_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, KnownReferral]:
        found = {i: self._recorded[i] for i in referral_ids if i in self._recorded}
        missing = [i for i in referral_ids if i not in found]
        if missing:
            driver = await driver_of(self._session)
            rows = await driver.fetch(_REFERRALS, missing)
            found.update((row["referral_id"], _known(row)) for row in rows)
        return found


def _known(row: asyncpg.Record) -> KnownReferral:
    return KnownReferral(
        row["referral_id"], row["case_id"], row["referrer_actor_id"], row["country"],
        row["partner_id"],
    )  # fmt: skip


class SqlPartners:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def set_active(self, partner_id: uuid.UUID, active: bool) -> None:
        statement = pg_insert(partners).values(partner_id=partner_id, active=active)
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=[partners.c.partner_id],
                set_={"active": statement.excluded.active, "updated_at": func.now()},
            )
        )

    async def is_active(self, partner_id: uuid.UUID) -> bool:
        active = (
            await self._session.execute(
                select(partners.c.active).where(partners.c.partner_id == partner_id)
            )
        ).scalar_one_or_none()
        return active is not False


class SqlDeliveryLog:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_many(self, new: Sequence[NewDelivery]) -> None:
        if not new:
            return
        driver = await driver_of(self._session)
        await driver.execute(
            _ADD_DELIVERIES,
            [d.id for d in new],
            [d.channel.value for d in new],
            [d.audience.value for d in new],
            [d.endpoint_id for d in new],
            [d.email for d in new],
            [d.contact_id for d in new],
            [d.language for d in new],
            [d.partner_id for d in new],
            [d.event_type for d in new],
            [d.trigger_event_id for d in new],
            [d.correlation_id for d in new],
            [d.referral_id for d in new],
            [d.case_id for d in new],
            # The document's text, cast to JSONB by the server.
            [json.dumps(d.body) for d in new],
            [d.next_attempt_at for d in new],
        )

    async def get(
        self, delivery_id: uuid.UUID, *, partner_id: uuid.UUID | None, lock: bool = False
    ) -> Delivery | None:
        query = select(deliveries).where(deliveries.c.id == delivery_id)
        if partner_id is not None:
            query = query.where(
                deliveries.c.partner_id == partner_id,
                deliveries.c.audience == Audience.PARTNER.value,
            )
        row = (await self._session.execute(query.with_for_update() if lock else query)).first()
        return delivery_of(row._mapping) if row else None

    async def attempts_of(self, delivery_id: uuid.UUID) -> list[Attempt]:
        rows = await self._session.execute(
            select(delivery_attempts)
            .where(delivery_attempts.c.delivery_id == delivery_id)
            .order_by(delivery_attempts.c.attempt, delivery_attempts.c.id)
        )
        return [
            Attempt(
                attempt=r.attempt,
                started_at=r.started_at,
                latency_ms=r.latency_ms,
                status_code=r.status_code,
                failure=r.failure,
                error=r.error,
            )
            for r in rows
        ]

    async def page(
        self, where: DeliveryFilter, *, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[Delivery]:
        c = deliveries.c
        query = select(deliveries)
        if where.partner_id is not None:
            query = query.where(
                c.partner_id == where.partner_id, c.audience == Audience.PARTNER.value
            )
        if where.endpoint_id is not None:
            query = query.where(c.endpoint_id == where.endpoint_id)
        if where.state is not None:
            query = query.where(c.state == where.state.value)
        if where.event_type is not None:
            query = query.where(c.event_type == where.event_type)
        if where.channel is not None:
            query = query.where(c.channel == where.channel.value)
        if where.referral_id is not None:
            query = query.where(c.referral_id == where.referral_id)
        if where.since is not None:
            query = query.where(c.created_at >= where.since)
        if where.until is not None:
            query = query.where(c.created_at < where.until)
        if after is not None:
            created, last_id = after
            query = query.where(
                or_(c.created_at < created, and_(c.created_at == created, c.id < last_id))
            )
        rows = await self._session.execute(
            query.order_by(c.created_at.desc(), c.id.desc()).limit(limit)
        )
        return [delivery_of(row._mapping) for row in rows]
