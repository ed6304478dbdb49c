"""The after-scenario checks on made-up evidence: each passes on a healthy run and fails, with
its number, on the one defect it is there to find (the fault suite relies on them)."""

from __future__ import annotations

import dataclasses
import math
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mpa_cli.harness import checks
from mpa_cli.harness.checks import Evidence, Scope
from mpa_cli.harness.load import Attempt, CaseOutcome, LoadResult, percentile
from mpa_cli.harness.profiling import EVENT_LOOP, summarise
from mpa_cli.harness.receiver import Arrival
from mpa_cli.harness.report import ScenarioReport, table
from mpa_cli.harness.topics import TopicRecord

T0 = 1_800_000_000.0
CASE_TOPIC, REFERRAL_TOPIC = "h.mpa.case.v1", "h.mpa.referral.v1"


def record(topic: str, offset: int, event_type: str, case_id: str, at: float) -> TopicRecord:
    headers = {"ce_id": str(uuid.uuid4()).encode(), "ce_type": event_type.encode()}
    return TopicRecord(topic, 0, offset, int(at * 1000), case_id.encode(), headers, 100)


def healthy(cases: int = 3) -> Evidence:
    outcomes, records, arrivals, needs, referrals, audit = [], [], [], [], [], {}
    for i in range(cases):
        case_id, need_id = str(uuid.uuid4()), str(uuid.uuid4())
        outcome = CaseOutcome(i, f"key-{i}", status=201, case_id=case_id)
        outcome.attempts.append(Attempt(T0 + i, 0.05, "201"))
        outcome.case_ids_seen.add(case_id)
        outcome.responded_at = T0 + i + 0.05
        outcomes.append(outcome)
        registered = record(CASE_TOPIC, i, checks.REGISTERED, case_id, T0 + i + 0.1)
        routed = record(REFERRAL_TOPIC, i, checks.ROUTED, case_id, T0 + i + 0.5)
        records += [registered, routed]
        assert routed.event_id is not None
        arrivals.append(arrival(routed.event_id, case_id, "wh-" + routed.event_id, T0 + i + 2))
        needs.append({"case_id": case_id, "need_id": need_id})
        referrals.append(
            {
                "id": uuid.uuid4(),
                "case_id": case_id,
                "need_id": need_id,
                "state": "routed",
                "status_reason": None,
            }
        )
        for n, r in enumerate((registered, routed)):
            assert r.event_id is not None
            audit[r.event_id] = {
                "seq": 2 * i + n,
                "logged_at": datetime.fromtimestamp(T0 + i + 1, UTC),
            }
    leaves = len(audit)
    return Evidence(
        scope=Scope(T0 - 1, {}, {}, {}),
        load=LoadResult(outcomes, T0, T0 + cases),
        arrivals=arrivals,
        records=records,
        dead_letters=[],
        intake_needs=needs,
        intake_cases_since=[{"case_id": o.case_id} for o in outcomes],
        referral_cases={o.case_id for o in outcomes if o.case_id},
        referrals=referrals,
        audit_entries=audit,
        audit_sequence={"leaves": leaves, "first": 0, "last": leaves - 1, "events": leaves},
        unpublished={"intake": 0, "referral": 0, "notification": 0, "audit": 0},
        timers={"fired": 0, "overdue": 0},
        timers_fired_twice=[],
        breaches_twice=[],
        coverage={"complete": True, "partitions": []},
        export_verified=None,
        export_tree_size=leaves,
    )


def arrival(event_id: str, case_id: str, webhook_id: str, at: float = T0 + 2) -> Arrival:
    return Arrival("partner-a", webhook_id, checks.ROUTED, event_id, None, case_id, 1, at, True)


def names_failing(evidence: Evidence, **kwargs: Any) -> list[str]:
    return [c.name for c in checks.evaluate(evidence, **kwargs) if not c.passed]


def test_a_healthy_run_passes_every_check() -> None:
    assert names_failing(healthy()) == []


def test_a_case_routing_never_saw_is_lost() -> None:
    evidence = healthy()
    evidence.referral_cases.pop()
    check = checks.check_cases(evidence)
    assert not check.passed
    assert check.lost == 1


def test_a_referral_left_requested_or_unroutable_without_reason_is_lost() -> None:
    evidence = healthy()
    evidence.referrals[0]["state"] = "requested"
    evidence.referrals[1]["state"] = "unroutable"
    assert checks.check_cases(evidence).lost == 2
    evidence.referrals[1]["status_reason"] = "no_eligible_service"
    assert checks.check_cases(evidence).lost == 1


def test_webhooks_missing_or_repeated_under_another_id() -> None:
    evidence = healthy()
    first = evidence.arrivals[0]
    evidence.arrivals.append(first)  # the same webhook-id again: a retry, allowed
    assert checks.check_webhooks(evidence).passed
    evidence.arrivals.append(arrival(str(first.event_id), str(first.case_id), "another-id"))
    evidence.arrivals.pop(1)  # and the second referral's webhook never came
    check = checks.check_webhooks(evidence)
    assert not check.passed
    assert (check.lost, check.duplicated) == (1, 1)


def test_an_unsigned_webhook_fails() -> None:
    evidence = healthy()
    bad = evidence.arrivals[0]
    evidence.arrivals[0] = dataclasses.replace(bad, signature_valid=False)
    assert not checks.check_webhooks(evidence).passed


@pytest.mark.parametrize(
    "defect",
    ["missing event", "gap in seq", "export does not verify", "coverage gap", "lag"],
)
def test_audit_defects(defect: str) -> None:
    evidence = healthy()
    if defect == "missing event":
        evidence.audit_entries.pop(next(iter(evidence.audit_entries)))
    elif defect == "gap in seq":
        evidence.audit_sequence = {**evidence.audit_sequence, "last": 99}
    elif defect == "export does not verify":
        evidence.export_verified = "recomputed root differs"
    else:
        partition = {"topic": CASE_TOPIC, "partition": 0, "dead_lettered": 0, "gaps": []}
        if defect == "coverage gap":
            partition["gaps"] = [{"first": 4, "last": 5}]
        else:
            partition["lag"] = 3
        evidence.coverage = {"complete": False, "partitions": [partition]}
    assert not checks.check_audit(evidence).passed


def test_coverage_problems_from_before_the_scenario_are_not_its_own() -> None:
    evidence = healthy()
    key = (CASE_TOPIC, 0)
    before = {"topic": CASE_TOPIC, "partition": 0, "dead_lettered": 2, "gaps": []}
    evidence.scope = Scope(T0, {key: 10}, {}, {key: before})
    evidence.coverage = {
        "complete": False,
        "partitions": [{**before, "gaps": [{"first": 3, "last": 4}], "lag": 0}],
    }
    assert checks.check_audit(evidence).passed
    evidence.coverage["partitions"][0]["dead_lettered"] = 3
    assert not checks.check_audit(evidence).passed


def test_dead_letters_outbox_and_timers() -> None:
    evidence = healthy()
    letter = record(CASE_TOPIC + ".dlq", 0, checks.REGISTERED, "x", T0)
    evidence.dead_letters.append(letter)
    assert not checks.check_dead_letters(evidence).passed
    assert checks.check_dead_letters(evidence, expected=1).passed
    evidence.unpublished["referral"] = 2
    assert checks.check_outbox(evidence).lost == 2
    evidence.timers = {"fired": 5, "overdue": 1}
    evidence.breaches_twice = [{"referral_id": "r", "events": 2}]
    check = checks.check_timers(evidence)
    assert (check.passed, check.lost, check.duplicated) == (False, 1, 1)


def test_http_500s_and_half_written_registrations_fail() -> None:
    evidence = healthy()
    evidence.load.outcomes[0].attempts.insert(0, Attempt(T0, 0.1, "500"))
    assert not checks.check_http(evidence).passed
    evidence = healthy()
    evidence.load.outcomes[0].attempts.insert(0, Attempt(T0, 0.1, "503"))
    evidence.load.outcomes[1].attempts.insert(0, Attempt(T0, 3.0, "ReadTimeout"))
    assert checks.check_http(evidence).passed  # retried with the same key: fine
    evidence.intake_cases_since.append({"case_id": uuid.uuid4()})
    assert not checks.check_http(evidence).passed


def test_recovery_is_measured_from_the_fault_to_the_first_later_case_completed() -> None:
    evidence = healthy(cases=3)  # POSTs at T0, T0+1, T0+2; each done at T0+i+2 (webhook)
    assert checks.recovery_seconds(evidence, [T0 + 0.5]) == pytest.approx(2.5)
    assert math.isnan(checks.recovery_seconds(evidence, [T0 + 10]) or 0.0)
    evidence.arrivals = evidence.arrivals[:1]  # the cases sent after the fault never told
    assert checks.recovery_seconds(evidence, [T0 + 0.5]) is None


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 0.5), percentile(values, 0.99), percentile([], 0.5)) == (
        50.0,
        99.0,
        0.0,
    )


def test_profile_summary_counts_self_and_total_below_the_common_root(tmp_path: Path) -> None:
    raw = tmp_path / "svc.raw"
    raw.write_text(
        "<module> (main.py:1);Runner.run (runners.py:118);handle (app.py:10);"
        "execute (db.py:5) 30\n"
        "<module> (main.py:1);Runner.run (runners.py:118);handle (app.py:12) 10\n"
        "<module> (main.py:1);Runner.run (runners.py:118) 60\n"
    )
    profile = summarise("svc", raw)
    assert profile.samples == 100
    top = {s.frame: (s.self_share, s.total_share) for s in profile.by_self}
    assert top[EVENT_LOOP] == (0.6, 1.0)
    assert top["execute (db.py)"] == (0.3, 0.3)
    assert top["handle (app.py)"] == (0.1, 0.4)
    assert [s.frame for s in profile.by_total] == ["handle (app.py)", "execute (db.py)"]


def test_the_table_has_a_row_per_scenario() -> None:
    evidence = healthy()
    report = ScenarioReport(
        name="demo",
        cases_posted=3,
        cases_registered=3,
        events=6,
        dead_letters=0,
        checks=checks.evaluate(evidence),
        windows=[],
        recovery_seconds=1.5,
        drain=checks.Drain(1.0, True, {}),
        load_seconds=3.0,
    )
    text = table([report])
    assert text.splitlines()[2].split() == ["demo", "3/3", "6", "0", "0", "0", "1.5", "pass"]
    assert "| demo | 3/3 |" in table([report], markdown=True)


def test_coverage_counts_dead_lettered_events_missing_from_the_log_when_it_says_so() -> None:
    evidence = healthy()
    partition = {
        "topic": CASE_TOPIC,
        "partition": 0,
        "dead_lettered": 4,  # dead-lettered, then replayed into the log: not missing
        "missing_count": 0,
        "gaps": [],
        "lag": 0,
    }
    evidence.coverage = {"complete": True, "partitions": [partition]}
    assert checks.check_audit(evidence).passed
    partition["missing_count"] = 1
    assert not checks.check_audit(evidence).passed
