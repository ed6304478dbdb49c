"""The auditor's use cases: event search, a case's timeline, the signed tree head, and the
material for the in-browser verification.

Everything here comes from the audit service, whose log holds events without personal data;
the auditor's token cannot read a case's personal data from intake, and nothing here asks.
"""

from __future__ import annotations

import asyncio
from typing import Any

from mpa_console.adapters.platform import Platform, Service
from mpa_console.app.context import User

# Bounded, so one page never fans out into an unbounded number of proof requests.
MAX_PROVEN_EVENTS = 500
_PROOF_CONCURRENCY = 8


async def search_events(
    platform: Platform, user: User, filters: dict[str, str | None], cursor: str | None
) -> dict[str, Any]:
    page: dict[str, Any] = await platform.get(
        Service.AUDIT, "/v1/audit/events", user.token, cursor=cursor, limit=50, **filters
    )
    return page


async def timeline(platform: Platform, user: User, case_id: str) -> dict[str, Any]:
    found: dict[str, Any] = await platform.get(
        Service.AUDIT, f"/v1/audit/cases/{case_id}/timeline", user.token, limit=MAX_PROVEN_EVENTS
    )
    return found


async def tree_head(platform: Platform, user: User) -> dict[str, Any]:
    head, key = await asyncio.gather(
        platform.get(Service.AUDIT, "/v1/audit/tree-head", user.token),
        platform.get(Service.AUDIT, "/v1/audit/public-key", None),
    )
    return {"tree_head": head, "public_key": key}


async def proof_bundle(platform: Platform, user: User, case_id: str) -> dict[str, Any]:
    """The case's logged events, a signed tree head that covers them, the log's public key
    and an inclusion proof of each event: what the browser needs to check, by itself, that
    every event shown is in the signed log. The console checks none of it: the point is
    that the auditor's browser does."""
    found = await timeline(platform, user, case_id)
    # The timeline first, then the head: the head's tree then holds every listed event.
    head, key = await asyncio.gather(
        platform.get(Service.AUDIT, "/v1/audit/tree-head", user.token),
        platform.get(Service.AUDIT, "/v1/audit/public-key", None),
    )
    size = head["tree_size"]
    limit = asyncio.Semaphore(_PROOF_CONCURRENCY)

    async def proof_of(seq: int) -> dict[str, Any]:
        async with limit:
            proof: dict[str, Any] = await platform.get(
                Service.AUDIT, "/v1/audit/proofs/inclusion", user.token, seq=seq, tree_size=size
            )
            return proof

    entries = [e for e in found["events"] if e["seq"] < size]
    proofs = await asyncio.gather(*(proof_of(e["seq"]) for e in entries))
    return {
        "case_id": case_id,
        "tree_head": head,
        "verifier_key": key["verifier_key"],
        "entries": [
            {
                "seq": entry["seq"],
                "leaf_hash": entry["leaf_hash"],
                "origin": entry["origin"],
                "event": entry["event"],
                "audit_path": proof["audit_path"],
                "proof_leaf_hash": proof["leaf_hash"],
            }
            for entry, proof in zip(entries, proofs, strict=True)
        ],
        "truncated": found.get("truncated", False),
    }
