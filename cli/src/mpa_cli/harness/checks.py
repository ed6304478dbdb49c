"""What must hold after a scenario, each a precise query, and the evidence they read.

A scenario is scoped by a `Scope` taken before it starts: the end offset of every partition
(the scenario's records are those after it), the signed tree head (the log must only have
grown since), the audit coverage (what was incomplete before is not this scenario's doing).

The checks (issue 11):
- cases: every case registered with 201 has, for each of its needs, a referral that was
  routed or is unroutable with a recorded reason (none left `requested`, none missing);
- webhooks: every `referral.routed` event on the topic reached the receiver, correctly
  signed; a webhook repeated carries the same webhook-id (different ids = a duplicate effect);
- audit: every event on every topic is in the log, once; the log's sequence is contiguous;
  an export verifies against the signed root and is consistent with the earlier tree head;
  coverage has no lag, and no gap or dead-lettered offset within the scenario;
- dead letters: none on any `.dlq` topic that the scenario did not cause on purpose;
- outbox: no row left unpublished in any service's database;
- timers: every SLA timer due has fired, and none fired twice for the same referral attempt;
- http: registrations were answered 201 or 503 (never another 5xx), and no case was stored
  that its client was not told of (a half-written registration).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from mpa_cli.harness.load import LoadResult
from mpa_cli.harness.platform import SERVICES, Platform
from mpa_cli.harness.receiver import Arrival, WebhookReceiver
from mpa_cli.harness.topics import (
    Offsets,
    TopicRecord,
    end_offsets,
    partitions_of,
    read_records,
)
from mpa_common.auth import Role, mint_dev_token
from mpa_contracts.events.case import CaseRegisteredV1
from mpa_contracts.events.referral import ReferralRoutedV1, ReferralSlaBreachedV1

ROUTED = ReferralRoutedV1.event_type
REGISTERED = CaseRegisteredV1.event_type
SLA_BREACHED = ReferralSlaBreachedV1.event_type
SLA_TIMER_KINDS = ("referral.acceptance_sla", "referral.start_sla")
# A timer is late, not lost, within this margin past its due time (poll interval and load).
TIMER_GRACE_SECONDS = 5.0


def auditor_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_dev_token([Role.AUDITOR], subject='harness-au')}"}


# ---- scope ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    started_at: float
    watermarks: Offsets  # end offsets of every main and dead-letter partition at the start
    tree_head: Mapping[str, Any]  # GET /v1/audit/tree-head at the start
    coverage: Mapping[tuple[str, int], Mapping[str, Any]]  # per partition, at the start

    @classmethod
    async def capture(cls, platform: Platform) -> Scope:
        topics = [*platform.main_topics, *platform.dead_letter_topics]
        async with httpx.AsyncClient(timeout=60, headers=auditor_headers()) as client:
            head = (await client.get(f"{platform.urls['audit']}/v1/audit/tree-head")).json()
            coverage = (await client.get(f"{platform.urls['audit']}/v1/audit/coverage")).json()
        return cls(
            started_at=time.time(),
            watermarks=await end_offsets(platform.stack.kafka_options, topics),
            tree_head=head,
            coverage=_by_partition(coverage),
        )


def _by_partition(coverage: Mapping[str, Any]) -> dict[tuple[str, int], Mapping[str, Any]]:
    return {(p["topic"], int(p["partition"])): p for p in coverage.get("partitions", [])}


# ---- evidence ------------------------------------------------------------------------------


@dataclass
class Evidence:
    """Everything the checks read, gathered once the platform is quiet."""

    scope: Scope
    load: LoadResult
    arrivals: list[Arrival]
    records: list[TopicRecord]  # main topics, since the watermarks
    dead_letters: list[TopicRecord]  # .dlq topics, since the watermarks
    intake_needs: list[Any]  # (case_id, need_id) of the registered cases
    intake_cases_since: list[Any]  # case_id of every case intake stored during the scenario
    referral_cases: set[str]
    referrals: list[Any]  # id, case_id, need_id, state, status_reason
    audit_entries: dict[str, Any]  # event_id -> (seq, logged_at) for the scenario's events
    audit_sequence: Any  # count, min, max, distinct event ids of the whole log
    unpublished: dict[str, int]  # service -> outbox rows not yet published
    timers: Any  # fired, overdue (due + grace, not fired)
    timers_fired_twice: list[Any]
    breaches_twice: list[Any]
    coverage: Mapping[str, Any]
    export_verified: str | None  # None when it verified; otherwise why not
    export_tree_size: int
    collected_at: float = field(default_factory=time.time)

    @property
    def registered_case_ids(self) -> list[str]:
        return [o.case_id for o in self.load.registered if o.case_id is not None]


async def collect(
    platform: Platform, scope: Scope, load: LoadResult, receiver: WebhookReceiver
) -> Evidence:
    bootstrap = platform.stack.kafka_options
    records = await read_records(bootstrap, platform.main_topics, since=scope.watermarks)
    dead_letters = await read_records(
        bootstrap, platform.dead_letter_topics, since=scope.watermarks
    )
    case_ids = [uuid.UUID(o.case_id) for o in load.registered if o.case_id is not None]
    event_ids = sorted({r.event_id for r in records if r.event_id})
    intake_needs = await platform.query(
        "intake", "SELECT case_id, need_id FROM case_needs WHERE case_id = ANY($1)", case_ids
    )
    intake_cases_since = await platform.query(
        "intake",
        "SELECT case_id FROM cases WHERE registered_at >= to_timestamp($1)",
        scope.started_at - 1,
    )
    referral_cases = await platform.query(
        "referral", "SELECT case_id FROM cases WHERE case_id = ANY($1)", case_ids
    )
    referrals = await platform.query(
        "referral",
        "SELECT id, case_id, need_id, state, status_reason FROM referrals WHERE case_id = ANY($1)",
        case_ids,
    )
    audit_rows = await platform.query(
        "audit",
        "SELECT event_id, seq, logged_at FROM log_entries WHERE event_id = ANY($1::uuid[])",
        event_ids,
    )
    audit_sequence = (
        await platform.query(
            "audit",
            "SELECT count(*) AS leaves, coalesce(min(seq), 0) AS first,"
            " coalesce(max(seq), -1) AS last, count(DISTINCT event_id) AS events"
            " FROM log_entries",
        )
    )[0]
    unpublished = {
        service: int(
            (
                await platform.query(
                    service, "SELECT count(*) AS n FROM outbox WHERE published_at IS NULL"
                )
            )[0]["n"]
        )
        for service in SERVICES
    }
    timers = (
        await platform.query(
            "referral",
            "SELECT count(*) FILTER (WHERE fired_at IS NOT NULL) AS fired,"
            " count(*) FILTER (WHERE fired_at IS NULL"
            "   AND due_at < now() - make_interval(secs => $2)) AS overdue"
            " FROM timers WHERE kind = ANY($1)",
            list(SLA_TIMER_KINDS),
            TIMER_GRACE_SECONDS,
        )
    )[0]
    timers_fired_twice = await platform.query(
        "referral",
        "SELECT kind, subject_id, payload->>'attempt' AS attempt, count(*) AS fired"
        " FROM timers WHERE kind = ANY($1) AND outcome = 'fired'"
        " GROUP BY 1, 2, 3 HAVING count(*) > 1",
        list(SLA_TIMER_KINDS),
    )
    # The effect of a firing: a breach event. Two for one deadline = a timer fired twice.
    breaches_twice = await platform.query(
        "referral",
        "SELECT envelope->'data'->>'referral_id' AS referral_id,"
        " envelope->'data'->>'milestone' AS milestone,"
        " envelope->'data'->>'due_at' AS due_at, count(*) AS events"
        " FROM outbox WHERE event_type = $1 GROUP BY 1, 2, 3 HAVING count(*) > 1",
        SLA_BREACHED,
    )
    coverage, export_error, export_size = await _audit_api(platform, scope)
    return Evidence(
        scope=scope,
        load=load,
        arrivals=list(receiver.arrivals),
        records=records,
        dead_letters=dead_letters,
        intake_needs=intake_needs,
        intake_cases_since=intake_cases_since,
        referral_cases={str(r["case_id"]) for r in referral_cases},
        referrals=referrals,
        audit_entries={str(r["event_id"]): r for r in audit_rows},
        audit_sequence=audit_sequence,
        unpublished=unpublished,
        timers=timers,
        timers_fired_twice=timers_fired_twice,
        breaches_twice=breaches_twice,
        coverage=coverage,
        export_verified=export_error,
        export_tree_size=export_size,
    )


async def _audit_api(platform: Platform, scope: Scope) -> tuple[Mapping[str, Any], str | None, int]:
    """Coverage, and an export of the whole log verified as an auditor would, offline."""
    from mpa_audit_verify.export import ExportVerificationError, verify_export
    from mpa_audit_verify.note import CheckpointError, parse_verifier_key

    base = f"{platform.urls['audit']}/v1/audit"
    async with httpx.AsyncClient(timeout=120, headers=auditor_headers()) as client:
        coverage = (await client.get(f"{base}/coverage")).json()
        key_text = (await client.get(f"{base}/public-key")).json()["verifier_key"]
        export = await client.get(f"{base}/export")
    if export.status_code != 200:
        return coverage, f"export answered {export.status_code}", 0
    previous = scope.tree_head.get("checkpoint")
    try:
        verified = verify_export(
            export.content.splitlines(keepends=True),
            parse_verifier_key(key_text),
            previous if isinstance(previous, str) and scope.tree_head.get("tree_size") else None,
        )
    except (ExportVerificationError, CheckpointError) as error:
        return coverage, str(error), 0
    return coverage, None, verified.tree_head.tree_size


# ---- the checks ----------------------------------------------------------------------------


@dataclass
class Check:
    name: str
    passed: bool
    summary: str  # the numbers, always
    lost: int = 0
    duplicated: int = 0
    examples: list[str] = field(default_factory=list)

    def line(self) -> str:
        mark = "ok  " if self.passed else "FAIL"
        text = f"{mark} {self.name}: {self.summary}"
        if self.examples and not self.passed:
            text += " — e.g. " + "; ".join(self.examples[:3])
        return text


def check_cases(evidence: Evidence) -> Check:
    registered = evidence.registered_case_ids
    needs_of: dict[str, set[str]] = defaultdict(set)
    for row in evidence.intake_needs:
        needs_of[str(row["case_id"])].add(str(row["need_id"]))
    referrals_of_need: dict[str, list[Any]] = defaultdict(list)
    for row in evidence.referrals:
        referrals_of_need[str(row["need_id"])].append(row)
    missing_case: list[str] = []
    undecided: list[str] = []
    unreasoned: list[str] = []
    routed = unroutable = 0
    for case_id in registered:
        if case_id not in evidence.referral_cases:
            missing_case.append(case_id)
            continue
        for need in needs_of.get(case_id, ()):
            rows = referrals_of_need.get(need, [])
            if not rows or all(r["state"] == "requested" for r in rows):
                undecided.append(f"case {case_id} need {need}")
                continue
            for row in rows:
                if row["state"] == "unroutable":
                    unroutable += 1
                    if not row["status_reason"]:
                        unreasoned.append(f"referral {row['id']}")
                elif row["state"] != "requested":
                    routed += 1
    lost = len(missing_case) + len(undecided) + len(unreasoned)
    return Check(
        "cases routed or unroutable with a reason",
        lost == 0,
        f"{len(registered)} cases registered (201): {routed} referrals routed, {unroutable} "
        f"unroutable; {len(missing_case)} cases never reached routing, {len(undecided)} needs "
        f"without a decision, {len(unreasoned)} unroutable without a reason",
        lost=lost,
        examples=[f"case {c} unknown to referral" for c in missing_case] + undecided + unreasoned,
    )


def check_webhooks(evidence: Evidence) -> Check:
    routed = {r.event_id for r in evidence.records if r.event_type == ROUTED and r.event_id}
    by_event: dict[str, list[Arrival]] = defaultdict(list)
    for arrival in evidence.arrivals:
        if arrival.event_id:
            by_event[arrival.event_id].append(arrival)
    missing = sorted(routed - by_event.keys())
    duplicated = [e for e in routed if len({a.webhook_id for a in by_event.get(e, [])}) > 1]
    repeats = sum(len(by_event[e]) - 1 for e in routed if len(by_event.get(e, [])) > 1)
    invalid = [a for a in evidence.arrivals if not a.signature_valid]
    passed = not missing and not duplicated and not invalid
    return Check(
        "every routed referral's webhook arrived",
        passed,
        f"{len(routed)} routed events, {len(routed) - len(missing)} told by webhook; "
        f"{len(missing)} never arrived, {len(duplicated)} told twice under different "
        f"webhook-ids, {repeats} repeats in all, {len(invalid)} with a bad signature",
        lost=len(missing),
        duplicated=len(duplicated),
        examples=[f"routed event {e} not delivered" for e in missing]
        + [f"routed event {e} delivered under several webhook-ids" for e in duplicated],
    )


def check_audit(evidence: Evidence) -> Check:
    events = {r.event_id for r in evidence.records if r.event_id}
    missing = sorted(events - evidence.audit_entries.keys())
    sequence = evidence.audit_sequence
    leaves, first, last = int(sequence["leaves"]), int(sequence["first"]), int(sequence["last"])
    contiguous = leaves == 0 or (first == 0 and last == leaves - 1)
    duplicates = leaves - int(sequence["events"])
    problems = _coverage_problems(evidence)
    passed = (
        not missing
        and contiguous
        and duplicates == 0
        and evidence.export_verified is None
        and not problems
    )
    verified = (
        f"export of {evidence.export_tree_size} leaves verifies against the signed root"
        if evidence.export_verified is None
        else f"export does NOT verify ({evidence.export_verified})"
    )
    complete = evidence.coverage.get("complete")
    return Check(
        "every event in the audit log once, contiguous, verified, covered",
        passed,
        f"{len(events)} events on the topics, {len(events) - len(missing)} in the log, "
        f"{len(missing)} missing; log of {leaves} leaves "
        f"{'contiguous' if contiguous else f'NOT contiguous ({first}..{last})'}, "
        f"{duplicates} duplicate leaves; {verified}; coverage complete={complete}, "
        f"{len(problems)} problems in this scenario",
        lost=len(missing),
        duplicated=max(0, duplicates),
        examples=[f"event {e} not in the log" for e in missing] + problems,
    )


def _coverage_problems(evidence: Evidence) -> list[str]:
    """Coverage problems that are this scenario's: lag now, a gap past the watermark, more
    dead-lettered events missing from the log than at the start."""
    problems = []
    for partition in evidence.coverage.get("partitions", []):
        key = (partition["topic"], int(partition["partition"]))
        before = evidence.scope.coverage.get(key, {})
        watermark = evidence.scope.watermarks.get(key, 0)
        where = f"{key[0]}[{key[1]}]"
        if partition.get("lag"):
            problems.append(f"{where} lag {partition['lag']}")
        gaps = [g for g in partition.get("gaps", []) if _gap_end(g) >= watermark]
        if gaps:
            problems.append(f"{where} gaps {gaps[:3]}")
        # Dead-lettered events not in the log (`missing_count`); where the audit does not
        # say which of its dead-lettered offsets were logged later, every one counts.
        field = "missing_count" if "missing_count" in partition else "dead_lettered"
        missing = int(partition.get(field, 0)) - int(before.get(field, 0))
        if missing > 0:
            problems.append(f"{where} {missing} dead-lettered events not in the log")
    return problems


def _gap_end(gap: Any) -> int:
    if isinstance(gap, Mapping):
        return int(gap.get("last", gap.get("end", 0)))
    return int(gap[-1])


def check_dead_letters(evidence: Evidence, expected: int = 0) -> Check:
    letters = evidence.dead_letters
    kinds = Counter(
        (
            r.header("mpa_dlq_consumer"),
            r.header("mpa_dlq_reason"),
            r.event_type or "?",
            r.header("mpa_dlq_error")[:80],
        )
        for r in letters
    )
    unexpected = max(0, len(letters) - expected)
    return Check(
        "no dead letters the scenario did not cause",
        unexpected == 0,
        f"{len(letters)} dead letters ({expected} expected)",
        lost=0,
        examples=[
            f"{n}x {consumer} {reason} {etype} ({error})"
            for (consumer, reason, etype, error), n in kinds.most_common()
        ],
    )


def check_outbox(evidence: Evidence) -> Check:
    left = {s: n for s, n in evidence.unpublished.items() if n}
    return Check(
        "no outbox row left unpublished",
        not left,
        ", ".join(f"{s} {n}" for s, n in evidence.unpublished.items()) + " unpublished",
        lost=sum(left.values()),
        examples=[f"{s}: {n} rows" for s, n in left.items()],
    )


def check_timers(evidence: Evidence) -> Check:
    fired, overdue = int(evidence.timers["fired"]), int(evidence.timers["overdue"])
    twice = len(evidence.timers_fired_twice) + len(evidence.breaches_twice)
    return Check(
        "SLA timers fired once each, none lost",
        overdue == 0 and twice == 0,
        f"{fired} SLA timers fired, {overdue} overdue and not fired, {twice} fired twice",
        lost=overdue,
        duplicated=twice,
        examples=[
            f"referral {r['referral_id']} breached {r['events']}x" for r in evidence.breaches_twice
        ]
        + [f"timer of {r['subject_id']} fired {r['fired']}x" for r in evidence.timers_fired_twice],
    )


def check_http(evidence: Evidence) -> Check:
    counts = evidence.load.outcome_counts()
    server_errors = {k: n for k, n in counts.items() if k.isdigit() and k[0] == "5" and k != "503"}
    not_registered = [o for o in evidence.load.outcomes if not o.registered]
    twice = [o for o in evidence.load.outcomes if len(o.case_ids_seen) > 1]
    known = {o.case_id for o in evidence.load.outcomes if o.case_id}
    stored = {str(r["case_id"]) for r in evidence.intake_cases_since}
    untold = sorted(stored - known)
    passed = not server_errors and not twice and not untold and not not_registered
    shown = ", ".join(f"{k} x{n}" for k, n in sorted(counts.items()))
    return Check(
        "registrations answered 201 or 503, none half-written",
        passed,
        f"{len(evidence.load.outcomes)} cases posted in {len(evidence.load.attempts)} POSTs "
        f"({shown}); {len(not_registered)} never registered, {len(untold)} stored without "
        f"their client being told, {len(twice)} keys registered twice",
        duplicated=len(twice),
        examples=[f"case {c} stored, its POST not answered 201" for c in untold]
        + [f"case #{o.index} ended with {o.status}" for o in not_registered],
    )


def evaluate(evidence: Evidence, *, expected_dead_letters: int = 0) -> list[Check]:
    return [
        check_cases(evidence),
        check_webhooks(evidence),
        check_audit(evidence),
        check_dead_letters(evidence, expected_dead_letters),
        check_outbox(evidence),
        check_timers(evidence),
        check_http(evidence),
    ]


# ---- when a case is done, and how long recovery took ---------------------------------------


def case_milestones(evidence: Evidence) -> dict[str, dict[str, float]]:
    """Per registered case (wall-clock seconds): `registered` (the 201), `routed` (its first
    routed event left the referral service: the record's timestamp), `webhook` (its first
    routed webhook arrived), `audited` (the routed event's leaf was appended)."""
    outcomes = {o.case_id: o for o in evidence.load.registered}
    first_routed: dict[str, TopicRecord] = {}
    for record in evidence.records:
        if record.event_type == ROUTED and record.key is not None:
            case_id = record.key.decode()
            if case_id in outcomes:
                seen = first_routed.get(case_id)
                if seen is None or record.timestamp_ms < seen.timestamp_ms:
                    first_routed[case_id] = record
    webhook_at: dict[str, float] = {}
    for arrival in evidence.arrivals:
        if arrival.event_id and arrival.event_id not in webhook_at:
            webhook_at[arrival.event_id] = arrival.arrived_at
    milestones: dict[str, dict[str, float]] = {}
    for registered_id, outcome in outcomes.items():
        assert registered_id is not None
        assert outcome.responded_at is not None
        marks = {"registered": outcome.responded_at}
        routed = first_routed.get(registered_id)
        if routed is not None and routed.event_id is not None:
            marks["routed"] = routed.timestamp_ms / 1000
            if routed.event_id in webhook_at:
                marks["webhook"] = webhook_at[routed.event_id]
            entry = evidence.audit_entries.get(routed.event_id)
            if entry is not None:
                marks["audited"] = entry["logged_at"].timestamp()
        milestones[registered_id] = marks
    return milestones


def recovery_seconds(evidence: Evidence, fault_ends: Iterable[float]) -> float | None:
    """For each fault: seconds from its end until the first case registered after it had
    been routed, told by webhook and logged by the audit; the longest of them. None when
    after some fault no such case ever completed; NaN when no case was even sent after the
    faults ended (a run too short to tell)."""
    milestones = case_milestones(evidence)
    sent = {o.case_id: o.first_sent_at for o in evidence.load.outcomes}
    worst = math.nan
    for ended in fault_ends:
        after = [c for c, at in sent.items() if c is not None and at >= ended]
        if not after:
            continue
        done = [
            max(milestones[c]["webhook"], milestones[c]["audited"])
            for c in after
            if c in milestones and "webhook" in milestones[c] and "audited" in milestones[c]
        ]
        if not done:
            return None
        seconds = min(done) - ended
        worst = seconds if math.isnan(worst) else max(worst, seconds)
    return worst


# ---- waiting until the platform is quiet ----------------------------------------------------


@dataclass
class Drain:
    seconds: float
    quiet: bool  # every condition held; False: the deadline or a stall ended the wait
    last: dict[str, object]


async def wait_until_quiet(
    platform: Platform,
    load: LoadResult,
    receiver: WebhookReceiver,
    *,
    not_before: float,
    deadline_seconds: float = 240.0,
    stall_seconds: float = 30.0,
    interval: float = 1.0,
) -> Drain:
    """Polls cheap signs of a quiet platform until all hold twice in a row: every registered
    case decided, every routed referral's webhook in, outboxes empty, every consumer group
    at the end of its partitions, no SLA timer due; and wall clock past `not_before` (when
    the last short SLA is due). Gives up at the deadline, or when nothing moved for
    `stall_seconds` (something is lost: the checks will say what)."""
    started = time.monotonic()
    case_ids = [uuid.UUID(o.case_id) for o in load.registered if o.case_id is not None]
    last_signature: tuple[object, ...] = ()
    last_change = time.monotonic()
    quiet_streak = 0
    state: dict[str, object] = {}
    probe = _QuietProbe(platform)
    try:
        while True:
            try:
                state = await probe.state(case_ids, receiver)
            except Exception as error:  # a dependency still recovering: try again
                state = {"error": f"{type(error).__name__}: {error}"}
            quiet = (
                state.get("undecided") == 0
                and state.get("webhooks_missing") == 0
                and state.get("unpublished") == 0
                and state.get("consumer_lag") == 0
                and state.get("timers_due") == 0
                and time.time() >= not_before
            )
            quiet_streak = quiet_streak + 1 if quiet else 0
            if quiet_streak >= 2:
                return Drain(time.monotonic() - started, True, state)
            signature = tuple(sorted((k, str(v)) for k, v in state.items()))
            if signature != last_signature:
                last_signature, last_change = signature, time.monotonic()
            now = time.monotonic()
            stalled = now - last_change > stall_seconds and time.time() >= not_before
            if now - started > deadline_seconds or stalled:
                return Drain(now - started, False, state)
            await asyncio.sleep(interval)
    finally:
        await probe.close()


class _QuietProbe:
    """What `wait_until_quiet` reads, over connections kept for the whole wait and made
    again after a failure (a fault scenario stops the servers under it). New ones at every
    poll (six PostgreSQL connections, each a backend forked and a SCRAM exchange on both
    sides, and a Kafka admin client and consumer) were CPU that the bench counted as the
    platform's."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        self._connections: dict[str, asyncpg.Connection] = {}
        self._admin: AIOKafkaAdminClient | None = None
        self._reader: AIOKafkaConsumer | None = None
        self._partitions: list[TopicPartition] = []

    async def state(
        self, case_ids: list[uuid.UUID], receiver: WebhookReceiver
    ) -> dict[str, object]:
        decided = await self._query(
            "referral",
            "SELECT count(DISTINCT c.case_id) AS known,"
            " count(r.id) FILTER (WHERE r.state = 'requested') AS requested,"
            " (SELECT count(*) FROM routing_attempts a JOIN referrals x ON x.id = a.referral_id"
            "   WHERE x.case_id = ANY($1) AND a.partner_id IS NOT NULL) AS routings"
            " FROM cases c LEFT JOIN referrals r ON r.case_id = c.case_id"
            " WHERE c.case_id = ANY($1)",
            case_ids,
        )
        timers_due = await self._query(
            "referral",
            "SELECT count(*) AS n FROM timers WHERE fired_at IS NULL AND due_at <= now()"
            " AND kind = ANY($1)",
            list(SLA_TIMER_KINDS),
        )
        unpublished = 0
        for service in SERVICES:
            rows = await self._query(
                service, "SELECT count(*) AS n FROM outbox WHERE published_at IS NULL"
            )
            unpublished += int(rows[0]["n"])
        wanted = {str(c) for c in case_ids}
        told = {a.event_id for a in receiver.arrivals if a.case_id in wanted and a.event_id}
        row = decided[0]
        return {
            "undecided": len(case_ids) - int(row["known"]) + int(row["requested"]),
            "webhooks_missing": max(0, int(row["routings"]) - len(told)),
            "unpublished": unpublished,
            "consumer_lag": await self._consumer_lag(),
            "timers_due": int(timers_due[0]["n"]),
        }

    async def _query(self, service: str, sql: str, *args: Any) -> list[asyncpg.Record]:
        connection = self._connections.get(service)
        if connection is None or connection.is_closed():
            connection = self._connections[service] = await self._platform.connect(service)
        try:
            return list(await connection.fetch(sql, *args))
        except Exception:
            del self._connections[service]
            with contextlib.suppress(Exception):
                await connection.close(timeout=2)
            raise

    async def _consumer_lag(self) -> int:
        kafka = self._platform.stack.kafka_options
        try:
            if self._admin is None:
                self._admin = AIOKafkaAdminClient(**kafka, client_id="mpa-harness-quiet")
                await self._admin.start()
            if self._reader is None:
                self._reader = AIOKafkaConsumer(
                    **kafka, group_id=None, enable_auto_commit=False, client_id="mpa-harness-quiet"
                )
                await self._reader.start()
            if not self._partitions:
                self._partitions = await partitions_of(kafka, self._platform.main_topics)
            committed = await _committed_offsets(self._admin, self._platform.prefix)
            ends = await self._reader.end_offsets(self._partitions)
        except Exception:
            await self._close_kafka()
            raise
        return _lag(committed, {(tp.topic, tp.partition): int(o) for tp, o in ends.items()})

    async def _close_kafka(self) -> None:
        admin, reader, self._admin, self._reader = self._admin, self._reader, None, None
        with contextlib.suppress(Exception):
            if admin is not None:
                await admin.close()
        with contextlib.suppress(Exception):
            if reader is not None:
                await reader.stop()

    async def close(self) -> None:
        connections, self._connections = list(self._connections.values()), {}
        for connection in connections:
            with contextlib.suppress(Exception):
                await connection.close(timeout=2)
        await self._close_kafka()


async def _committed_offsets(
    admin: AIOKafkaAdminClient, prefix: str
) -> dict[str, dict[str, dict[int, int]]]:
    """group -> topic -> partition -> committed offset, for the deployment's groups."""
    groups = [g[0] for g in await admin.list_consumer_groups() if g[0].startswith(prefix)]
    committed: dict[str, dict[str, dict[int, int]]] = {}
    for group in groups:
        for tp, meta in (await admin.list_consumer_group_offsets(group)).items():
            committed.setdefault(group, {}).setdefault(tp.topic, {})[tp.partition] = max(
                0, meta.offset
            )
    return committed


def _lag(committed: dict[str, dict[str, dict[int, int]]], ends: Offsets) -> int:
    lag = 0
    for topics in committed.values():
        for (topic, partition), end in ends.items():
            if topic in topics:  # a partition it never committed counts from offset 0
                lag += max(0, end - topics[topic].get(partition, 0))
    return lag


async def consumer_lag(platform: Platform) -> int:
    """Records not yet committed by the deployment's consumer groups, over all partitions
    they consume (Kafka's own view: no service database is read)."""
    admin = AIOKafkaAdminClient(**platform.stack.kafka_options)
    await admin.start()
    try:
        committed = await _committed_offsets(admin, platform.prefix)
    finally:
        await admin.close()
    ends = await end_offsets(platform.stack.kafka_options, platform.main_topics)
    return _lag(committed, ends)
