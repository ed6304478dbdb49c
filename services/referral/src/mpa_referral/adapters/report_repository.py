"""Aggregate figures over referrals for the reporting endpoint (counts and durations only)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from mpa_referral.adapters.write_buffer import WriteBuffer
from mpa_referral.app.ports import ReferralFigures

# Referrals created in [from, to), optionally in one country (where the service is wanted).
_SCOPE = """
    FROM referrals r
    WHERE r.created_at >= :start AND r.created_at < :end
      AND (CAST(:country AS text) IS NULL OR r.country = :country)
"""


class SqlReportRepository:
    def __init__(self, session: AsyncSession, buffer: WriteBuffer) -> None:
        self._session = session
        self._buffer = buffer

    async def referral_figures(
        self, start: datetime, end: datetime, country: str | None
    ) -> ReferralFigures:
        await self._buffer.flush()
        return await _referral_figures(self._session, start, end, country)


async def _referral_figures(
    session: AsyncSession, start: datetime, end: datetime, country: str | None
) -> ReferralFigures:
    params = {"start": start, "end": end, "country": country}

    async def grouped(column: str) -> dict[str, int]:
        rows = await session.execute(
            text(f"SELECT {column}, count(*) {_SCOPE} AND {column} IS NOT NULL GROUP BY {column}"),
            params,
        )
        return {str(key): int(count) for key, count in rows}

    attempts = (
        await session.execute(
            text(
                f"""
                SELECT
                  count(*) FILTER (WHERE a.response = 'accepted'),
                  count(*) FILTER (WHERE a.response IN ('accepted', 'declined', 'sla_breached')),
                  count(*) FILTER (WHERE a.response = 'sla_breached'),
                  percentile_cont(0.5) WITHIN GROUP (
                    ORDER BY extract(epoch FROM a.responded_at - a.decided_at))
                    FILTER (WHERE a.response = 'accepted'),
                  percentile_cont(0.9) WITHIN GROUP (
                    ORDER BY extract(epoch FROM a.responded_at - a.decided_at))
                    FILTER (WHERE a.response = 'accepted')
                FROM routing_attempts a JOIN referrals r ON r.id = a.referral_id
                WHERE r.id IN (SELECT r.id {_SCOPE})
                """  # noqa: S608 - no user input in the statement's text
            ),
            params,
        )
    ).one()
    accepted, answered, breaches, median, p90 = attempts
    start_breaches = (
        await session.execute(
            text(
                f"""
                SELECT count(*) FROM referral_history h
                WHERE h.event_type = 'org.mpa.referral.sla_breached.v1'
                  AND h.reason = 'service_start'
                  AND h.referral_id IN (SELECT r.id {_SCOPE})
                """  # noqa: S608 - no user input in the statement's text
            ),
            params,
        )
    ).scalar_one()
    # A partner's declines and missed deadlines are what moved its referrals elsewhere.
    partner_rows = await session.execute(
        text(
            f"""
            SELECT a.partner_id,
              count(*) FILTER (WHERE a.response = 'sla_breached'),
              count(*) FILTER (WHERE a.response IN ('declined', 'sla_breached'))
            FROM routing_attempts a
            WHERE a.partner_id IS NOT NULL AND a.referral_id IN (SELECT r.id {_SCOPE})
            GROUP BY a.partner_id
            """  # noqa: S608 - no user input in the statement's text
        ),
        params,
    )
    by_partner_rows = [(str(partner), int(b), int(r)) for partner, b, r in partner_rows]
    reroutes = (
        await session.execute(
            text(f"SELECT coalesce(sum(r.reroute_count), 0), count(*) {_SCOPE}"), params
        )
    ).one()
    return ReferralFigures(
        total=int(reroutes[1]),
        by_state=await grouped("r.state"),
        by_need=await grouped("r.category"),
        by_partner=await grouped("r.partner_id"),
        acceptance_rate=(accepted / answered) if answered else None,
        median_seconds_to_accept=float(median) if median is not None else None,
        p90_seconds_to_accept=float(p90) if p90 is not None else None,
        sla_breaches=int(breaches),
        start_sla_breaches=int(start_breaches),
        reroutes=int(reroutes[0]),
        sla_breaches_by_partner={p: b for p, b, _ in by_partner_rows if b},
        reroutes_by_partner={p: r for p, _, r in by_partner_rows if r},
    )
