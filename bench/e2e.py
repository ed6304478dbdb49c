"""`make bench`: the whole platform under load, beside the machine's own limits (issue 13).

It starts a platform under test (`mpa_cli.harness`: a private PostgreSQL and Kafka, the four
services as separate processes, a partner with a webhook endpoint on a local receiver), then:

1. registers `--warmup` cases at saturation, not reported (a running platform is warm: a cold
   broker JIT-compiles and the services fill their statement caches during the first phase),
   then N cases over HTTP at a fixed rate, then N more at saturation (a fixed number of
   requests in flight), each time waiting until every case is routed, every webhook received
   and the audit log drained, with a progress line;
2. measures, in the same run, the raw baselines: aiokafka producing and consuming records of
   the size the platform's own records have, and single-row PostgreSQL INSERT commits on 1
   and on 8 connections;
3. prints ONE table (each platform figure also as a ratio of a baseline), and writes
   bench/results/latest.json and bench/results/latest.md (the table with the machine it came
   from), which the README shows between its `bench:e2e` markers.

Latencies are measured per case from the POST's 201 response: to its referral routed (the
`referral.routed` record's timestamp: the moment it left the referral service), to the
partner's webhook received, and to the audit leaf of that routed event appended (the leaf's
`logged_at`). `--profile` also records py-spy profiles of the four services during the
saturation phase (bench/results/profiles/).

    .venv/bin/python bench/e2e.py [--cases 600] [--rate 50] [--concurrency 16] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform as host
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import uvloop

from mpa_cli.harness import checks, profiling
from mpa_cli.harness.baselines import (
    KafkaBaseline,
    PostgresBaseline,
    kafka_baseline,
    postgres_baseline,
)
from mpa_cli.harness.cpu import CpuMeter, own_cpu_seconds, postgres_cpu_seconds, process_cpu_seconds
from mpa_cli.harness.load import LoadGenerator, LoadResult, percentile
from mpa_cli.harness.platform import PlatformSettings
from mpa_cli.harness.receiver import Arrival
from mpa_cli.harness.scenario import PlatformUnderTest
from mpa_cli.harness.stack import PrivateStack
from mpa_cli.harness.topics import TopicRecord, TopicWatcher, end_offsets, read_records
from mpa_cli.stack.layout import Layout

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
README = ROOT / "README.md"
MARK_START, MARK_END = "<!-- bench:e2e:start -->", "<!-- bench:e2e:end -->"
PROFILED = ("intake", "referral", "notification", "audit")
IDLE_SECONDS = 5.0  # each process's idle CPU is measured this long before a phase


# ---- one phase: load, drain, figures -------------------------------------------------------


@dataclass
class Phase:
    name: str
    offered: str
    load: LoadResult
    records: list[TopicRecord]
    arrivals: list[Arrival]
    audit: dict[str, Any]  # event id -> row (seq, logged_at) of the phase's events
    drained: checks.Drain
    cpu_seconds: dict[str, float] = field(default_factory=dict)  # per part, load + drain
    cpu_window_seconds: float = 0.0  # how long that was
    idle_cpu_per_second: dict[str, float] = field(default_factory=dict)  # before the load
    figures: dict[str, Any] = field(default_factory=dict)


def _spread(values: list[float]) -> dict[str, float]:
    return {
        "p50": percentile(values, 0.50),
        "p95": percentile(values, 0.95),
        "p99": percentile(values, 0.99),
        "max": max(values, default=0.0),
        "n": float(len(values)),
    }


def figures_of(phase: Phase) -> dict[str, Any]:
    load = phase.load
    registered = load.registered
    posts = [a.seconds * 1000 for o in registered for a in o.attempts if a.outcome == "201"]
    # Each case's first referral.routed record, and its registration as it left intake
    # (its relay), which splits POST → routed into intake's part and referral's.
    first_routed: dict[str, TopicRecord] = {}
    registered_at: dict[str, float] = {}
    for record in phase.records:
        if record.key is None:
            continue
        case_id = record.key.decode()
        if record.event_type == checks.ROUTED:
            if (
                case_id not in first_routed
                or record.timestamp_ms < first_routed[case_id].timestamp_ms
            ):
                first_routed[case_id] = record
        elif record.event_type == checks.REGISTERED:
            at = record.timestamp_ms / 1000
            registered_at[case_id] = min(at, registered_at.get(case_id, at))
    webhook_at: dict[str, float] = {}
    for arrival in phase.arrivals:
        if arrival.event_id and arrival.event_id not in webhook_at:
            webhook_at[arrival.event_id] = arrival.arrived_at
    to_routed, to_webhook, to_audit, completed = [], [], [], []
    to_published, published_to_routed = [], []
    routed_emitted, routed_relayed = [], []
    for outcome in registered:
        assert outcome.case_id is not None
        assert outcome.responded_at is not None
        routed = first_routed.get(outcome.case_id)
        if routed is None or routed.event_id is None:
            continue
        to_routed.append(routed.timestamp_ms / 1000 - outcome.responded_at)
        published = registered_at.get(outcome.case_id)
        if published is not None:
            to_published.append(published - outcome.responded_at)
            published_to_routed.append(routed.timestamp_ms / 1000 - published)
            emitted = routed.headers.get("ce_time")
            if emitted is not None:
                at = dt.datetime.fromisoformat(emitted.decode()).timestamp()
                routed_emitted.append(at - published)
                routed_relayed.append(routed.timestamp_ms / 1000 - at)
        webhook = webhook_at.get(routed.event_id)
        entry = phase.audit.get(routed.event_id)
        if webhook is not None:
            to_webhook.append(webhook - outcome.responded_at)
        if entry is not None:
            to_audit.append(entry["logged_at"].timestamp() - outcome.responded_at)
        if webhook is not None and entry is not None:
            completed.append(max(webhook, entry["logged_at"].timestamp()))
    events = {r.event_id for r in phase.records if r.event_id}
    logged = sorted(row["logged_at"].timestamp() for row in phase.audit.values())
    end_to_end_window = (max(completed) - load.started_at) if completed else 0.0
    audit_window = (logged[-1] - logged[0]) if len(logged) > 1 else 0.0
    record_sizes = [r.size for r in phase.records]
    cases = len(registered)
    # What the cases cost beyond what each process burns idle (polls, heartbeats, the JVM)
    # over the same window: at low rates the idle part would otherwise dominate.
    idle = phase.idle_cpu_per_second
    cpu_ms = (
        {
            part: 1000 * max(0.0, sec - idle.get(part, 0.0) * phase.cpu_window_seconds) / cases
            for part, sec in phase.cpu_seconds.items()
        }
        if cases
        else {}
    )
    cpu_total_ms = sum(cpu_ms.values())
    return {
        "cpu_ms_per_case": cpu_ms,
        "cpu_ms_per_case_total": cpu_total_ms,
        "idle_cpu_ms_per_second": {part: 1000 * rate for part, rate in idle.items()},
        # What the machine could do at this cost with every core busy on nothing else.
        "cpu_ceiling_cases_per_second": (os.cpu_count() or 1) * 1000 / cpu_total_ms
        if cpu_total_ms
        else 0.0,
        "cases_posted": len(load.outcomes),
        "cases_registered": len(registered),
        "cases_completed": len(completed),
        "load_seconds": load.seconds,
        "registrations_per_second": len(registered) / load.seconds if load.seconds else 0.0,
        "post_ms": _spread(posts),
        "end_to_end_cases_per_second": len(completed) / end_to_end_window
        if end_to_end_window
        else 0.0,
        "events": len(events),
        "events_per_second": len(events) / end_to_end_window if end_to_end_window else 0.0,
        "to_routed_s": _spread(to_routed),
        "to_registered_published_s": _spread(to_published),
        "registered_published_to_routed_s": _spread(published_to_routed),
        # Referral's part split: until its handler emitted referral.routed (fetch, queue,
        # routing), and from then until its relay published it (commit, relay).
        "registered_published_to_routed_emitted_s": _spread(routed_emitted),
        "routed_emitted_to_published_s": _spread(routed_relayed),
        "to_webhook_s": _spread(to_webhook),
        "to_audit_s": _spread(to_audit),
        "audit_leaves": len(logged),
        "audit_leaves_per_second": len(logged) / audit_window if audit_window else 0.0,
        "audit_drained_after_load_s": (logged[-1] - load.finished_at) if logged else 0.0,
        "mean_record_bytes": sum(record_sizes) / len(record_sizes) if record_sizes else 0.0,
        "drained_quietly": phase.drained.quiet,
    }


async def run_phase(
    put: PlatformUnderTest,
    name: str,
    *,
    cases: int,
    rate: float | None,
    concurrency: int,
    first_index: int,
    profile_seconds: float = 0.0,
) -> Phase:
    platform = put.platform
    topics = platform.main_topics
    watermarks = await end_offsets(platform.stack.kafka_options, topics)
    watcher = TopicWatcher(platform.stack.kafka_options, topics)
    await watcher.start()
    arrivals_before = len(put.receiver.arrivals)
    leaves = _AuditLeaves(put)
    leaves_before = await leaves.count()
    posted = 0
    started = time.monotonic()
    stop_progress = asyncio.Event()

    def on_progress(done: int, total: int) -> None:
        nonlocal posted
        posted = done

    async def progress_line() -> None:
        while not stop_progress.is_set():
            logged = await leaves.count() - leaves_before
            line = (
                f"\r  {name:10} {time.monotonic() - started:6.1f} s | posted {posted}/{cases}"
                f" | routed {watcher.count('.referral.routed.v1')}"
                f" | webhooks {len(put.receiver.arrivals) - arrivals_before}"
                f" | events {sum(watcher.counts.values())} | audit leaves {logged}   "
            )
            print(line, end="", file=sys.stderr, flush=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop_progress.wait(), 1.0)

    meter = _cpu_meter(put)
    idle_before = meter.sample()
    await asyncio.sleep(IDLE_SECONDS)
    idle_cpu = {part: sec / IDLE_SECONDS for part, sec in meter.since(idle_before).items()}
    progress_task = asyncio.create_task(progress_line())
    cpu_before, cpu_started = meter.sample(), time.monotonic()
    profiles: list[asyncio.Task[Path]] = []
    if profile_seconds:
        out = Layout(ROOT).local / "harness" / "profiles"
        for service in PROFILED:
            pid = platform.services[service].pid
            assert pid is not None
            profiles.append(
                asyncio.create_task(
                    _profile_after(3.0, pid, profile_seconds, out / f"{service}.raw")
                )
            )
    generator = LoadGenerator(
        platform.urls["intake"],
        cases=cases,
        rate=rate,
        concurrency=concurrency,
        first_index=first_index,
    )
    try:
        load = await generator.run(on_progress)
        drained = await checks.wait_until_quiet(
            platform,
            load,
            put.receiver,
            not_before=time.time(),
            deadline_seconds=900.0,
            stall_seconds=60.0,
        )
        cpu_seconds, cpu_window = meter.since(cpu_before), time.monotonic() - cpu_started
        raws = await asyncio.gather(*profiles)
    finally:
        stop_progress.set()
        await progress_task
        await leaves.close()
        await watcher.stop()
        print(file=sys.stderr)
    for raw in raws:
        summary = profiling.summarise(raw.stem, raw)
        (RESULTS / "profiles").mkdir(parents=True, exist_ok=True)
        (RESULTS / "profiles" / f"{raw.stem}.txt").write_text(summary.text(25) + "\n")
        print(summary.text(10), file=sys.stderr)
    records = await read_records(platform.stack.kafka_options, topics, since=watermarks)
    event_ids = sorted({r.event_id for r in records if r.event_id})
    audit_rows = await platform.query(
        "audit",
        "SELECT event_id, seq, logged_at FROM log_entries WHERE event_id = ANY($1::uuid[])",
        event_ids,
    )
    phase = Phase(
        name=name,
        offered=f"{rate:g} cases/s" if rate else f"{concurrency} in flight",
        load=load,
        records=records,
        arrivals=put.receiver.arrivals[arrivals_before:],
        audit={str(r["event_id"]): r for r in audit_rows},
        drained=drained,
        cpu_seconds=cpu_seconds,
        cpu_window_seconds=cpu_window,
        idle_cpu_per_second=idle_cpu,
    )
    phase.figures = figures_of(phase)
    return phase


def _cpu_meter(put: PlatformUnderTest) -> CpuMeter:
    """The CPU of each process of the run, read by the pid the harness started it with."""
    parts: dict[str, Any] = {}
    for service in PROFILED:
        pid = put.platform.services[service].pid
        assert pid is not None
        parts[service] = lambda pid=pid: process_cpu_seconds(pid)
    postmaster = put.stack.postmaster_pid()
    parts["PostgreSQL"] = lambda: postgres_cpu_seconds(postmaster)
    broker = put.stack.kafka.pid()
    assert broker is not None
    parts["Kafka"] = lambda: process_cpu_seconds(broker)
    parts["load generator"] = own_cpu_seconds
    return CpuMeter(parts)


async def _profile_after(delay: float, pid: int, seconds: float, out: Path) -> Path:
    await asyncio.sleep(delay)  # past the first requests: the steady state
    return await profiling.record(pid, seconds, out)


class _AuditLeaves:
    """Counts the audit log's leaves for the progress line, on one kept connection: a new
    connection a second would be PostgreSQL CPU (a fork, a SCRAM exchange) counted against
    the platform."""

    def __init__(self, put: PlatformUnderTest) -> None:
        self._put = put
        self._connection: asyncpg.Connection | None = None

    async def count(self) -> int:
        try:
            if self._connection is None or self._connection.is_closed():
                self._connection = await self._put.platform.connect("audit")
            return int(await self._connection.fetchval("SELECT count(*) FROM log_entries"))
        except Exception:  # a progress line never stops the run
            await self.close()
            return 0

    async def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close(timeout=2)
            self._connection = None


# ---- the machine -----------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory_kb = 0
    with open("/proc/meminfo") as info:
        for line in info:
            if line.startswith("MemTotal"):
                memory_kb = int(line.split()[1])
    commit = subprocess.run(  # noqa: S603 - a fixed command
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "host": host.node(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kb / 1024 / 1024, 1),
        "kernel": host.release(),
        "python": host.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "commit": commit,
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


# ---- the table -------------------------------------------------------------------------------


def _ms(spread: dict[str, float]) -> str:
    return " / ".join(f"{spread[k]:,.0f}" for k in ("p50", "p95", "p99", "max"))


def _s(spread: dict[str, float]) -> str:
    return " / ".join(f"{spread[k]:,.2f}" for k in ("p50", "p95", "p99", "max"))


def _pct(value: float, of: float) -> str:
    return f"{100 * value / of:.2f}%" if of else "n/a"


def render(
    phases: list[Phase], kafka: KafkaBaseline, pg: PostgresBaseline, where: dict[str, Any]
) -> str:
    """The one table: a row per measure, a column per phase; ratios to the baselines."""
    hop = kafka.produce_to_consume_p50_ms / 1000
    commits = pg.commits_per_second_8
    figs = [p.figures for p in phases]

    def row(label: str, cells: list[str]) -> str:
        return "| " + " | ".join([label, *cells]) + " |"

    def end_to_end(f: dict[str, Any]) -> str:
        value = f["end_to_end_cases_per_second"]
        return f"**{value:,.1f}** ({_pct(value, commits)} of PG commits/s, 8 conn.)"

    def events(f: dict[str, Any]) -> str:
        value = f["events_per_second"]
        return (
            f"{value:,.0f} ({_pct(value, kafka.produced_per_second)} of Kafka produce/s, "
            f"{_pct(value, commits)} of PG commits/s)"
        )

    def latency(f: dict[str, Any], key: str) -> str:
        return f"{_s(f[key])} (p50 = {f[key]['p50'] / hop:,.0f}x a Kafka hop)"

    def cpu(f: dict[str, Any]) -> str:
        parts = " · ".join(f"{part} {ms:,.1f}" for part, ms in f["cpu_ms_per_case"].items())
        return f"**{f['cpu_ms_per_case_total']:,.1f}** = {parts}"

    def idle(f: dict[str, Any]) -> str:
        rates = f["idle_cpu_ms_per_second"]
        return " · ".join(f"{part} {ms:,.0f}" for part, ms in rates.items())

    def audit(f: dict[str, Any]) -> str:
        value = f["audit_leaves_per_second"]
        return f"{value:,.0f} ({_pct(value, commits)} of PG commits/s)"

    lines = [
        row("measure", [f"{p.name} ({p.offered})" for p in phases]),
        "|" + "---|" * (len(phases) + 1),
        row(
            "cases registered (201) / posted",
            [f"{f['cases_registered']}/{f['cases_posted']}" for f in figs],
        ),
        row("intake registrations/s", [f"{f['registrations_per_second']:,.1f}" for f in figs]),
        row("POST response, ms p50 / p95 / p99 / max", [_ms(f["post_ms"]) for f in figs]),
        row("**end to end, cases/s** (routed, told, logged)", [end_to_end(f) for f in figs]),
        row("events/s on the topics", [events(f) for f in figs]),
        row(
            "POST → referral routed, s p50 / p95 / p99 / max",
            [latency(f, "to_routed_s") for f in figs],
        ),
        row(
            "of which POST → case.registered on its topic (intake's relay), s",
            [latency(f, "to_registered_published_s") for f in figs],
        ),
        row(
            "and case.registered → referral.routed on its topic (referral), s",
            [latency(f, "registered_published_to_routed_s") for f in figs],
        ),
        row("POST → webhook received, s", [latency(f, "to_webhook_s") for f in figs]),
        row("POST → audit leaf appended, s", [latency(f, "to_audit_s") for f in figs]),
        row("audit appends, leaves/s", [audit(f) for f in figs]),
        row(
            "audit drained after the load ended, s",
            [f"{f['audit_drained_after_load_s']:,.1f}" for f in figs],
        ),
        row(
            "**CPU per case, ms** (load and drain, beyond idle, by process)",
            [cpu(f) for f in figs],
        ),
        row("idle CPU before the phase, ms/s", [idle(f) for f in figs]),
        row(
            f"ceiling at this CPU cost, cases/s ({os.cpu_count()} cores, nothing else running)",
            [f"{f['cpu_ceiling_cases_per_second']:,.0f}" for f in figs],
        ),
    ]
    baseline = (
        "Baselines, same run, same servers: aiokafka 0.14 idempotent producer (acks=all) "
        f"{kafka.produced_per_second:,.0f} records/s, consumer "
        f"{kafka.consumed_per_second:,.0f}/s, {kafka.record_bytes} B records (the platform's "
        f'mean record), produce→consume p50 {kafka.produce_to_consume_p50_ms:.1f} ms ("a '
        'Kafka hop"); PostgreSQL single-row INSERT commits '
        f"{pg.commits_per_second_1:,.0f}/s on 1 connection (p50 {pg.commit_p50_ms_1:.2f} ms), "
        f"{pg.commits_per_second_8:,.0f}/s on 8."
    )
    machine_line = (
        f"Measured {where['date']} on {where['host']}: {where['cpu']}, {where['cores']} cores, "
        f"{where['memory_gib']} GiB, Linux {where['kernel']}, Python {where['python']}; load "
        f"average {where['load_average'][0]} at the start (other work shares the machine); "
        f"commit {where['commit']}. The four services, Kafka, PostgreSQL and the load "
        "generator all run on this machine."
    )
    if where.get("warmup_cases"):
        machine_line += (
            f" Before the phases, {where['warmup_cases']} cases at saturation warmed the platform"
            " up (not in the table)."
        )
    if where.get("service_env"):
        tried = ", ".join(f"`{name}={value}`" for name, value in where["service_env"].items())
        machine_line += f" Services run with {tried}."
    return "\n".join(lines) + "\n\n" + baseline + "\n\n" + machine_line + "\n"


def update_readme(markdown: str) -> None:
    text = README.read_text()
    block = f"{MARK_START}\n{markdown}{MARK_END}"
    if MARK_START in text:
        text = re.sub(
            re.escape(MARK_START) + ".*?" + re.escape(MARK_END), lambda _: block, text, flags=re.S
        )
        README.write_text(text)


# ---- PostgreSQL statements (--pg-statements) ---------------------------------------------------

PG_STATEMENTS_SETTINGS = (
    "shared_preload_libraries=pg_stat_statements",
    "pg_stat_statements.track=all",
)
SERVICE_DATABASES = tuple(f"mpa_{service}" for service in PROFILED)


async def reset_pg_statements(stack: PrivateStack) -> None:
    import asyncpg

    for database in SERVICE_DATABASES:
        connection = await asyncpg.connect(stack.superuser_dsn(database))
        try:
            await connection.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            await connection.execute("SELECT pg_stat_statements_reset()")
        finally:
            await connection.close()


async def pg_statements_report(stack: PrivateStack, cases: int, top: int = 30) -> str:
    """The statements the services ran, per case, by total execution time: which round
    trips the database's CPU goes to."""
    import asyncpg

    connection = await asyncpg.connect(stack.superuser_dsn("mpa_intake"))
    try:
        rows = await connection.fetch(
            """
            SELECT d.datname, s.calls, s.total_exec_time, s.rows, s.query
            FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
            WHERE d.datname = ANY($1::text[])
            ORDER BY s.total_exec_time DESC
            """,
            list(SERVICE_DATABASES),
        )
    finally:
        await connection.close()
    calls = {database: 0.0 for database in SERVICE_DATABASES}
    for row in rows:
        calls[row["datname"]] += row["calls"]
    lines = [
        f"PostgreSQL statements over {cases} cases: calls per case by database: "
        + ", ".join(f"{d.removeprefix('mpa_')} {c / cases:.1f}" for d, c in calls.items()),
        "",
        "| database | calls/case | exec ms/case | rows/call | statement |",
        "|---|---|---|---|---|",
    ]
    for row in rows[:top]:
        query = re.sub(r"\s+", " ", row["query"]).strip()
        lines.append(
            f"| {row['datname'].removeprefix('mpa_')} | {row['calls'] / cases:.2f} "
            f"| {row['total_exec_time'] / cases:.3f} "
            f"| {row['rows'] / max(row['calls'], 1):.1f} | `{query[:140]}` |"
        )
    return "\n".join(lines)


# ---- main ------------------------------------------------------------------------------------


async def bench(args: argparse.Namespace) -> None:
    where = machine()
    where["service_env"] = dict(args.service_env)
    where["warmup_cases"] = args.warmup
    print(
        f"==> end-to-end benchmark: {args.cases} cases at {args.rate:g}/s, then {args.cases} "
        f"at saturation ({args.concurrency} in flight)",
        file=sys.stderr,
    )
    stack = PrivateStack.in_temporary_folder(
        prefix="mpa-bench-",
        postgres_settings=PG_STATEMENTS_SETTINGS if args.pg_statements else (),
    )
    await asyncio.to_thread(stack.start)
    statements = ""
    logs = Layout(ROOT).local / "harness" / "bench-logs"
    logs.mkdir(parents=True, exist_ok=True)
    put = await PlatformUnderTest.start(
        stack,
        logs,
        # No SLA falls due during a bench run: every case is routed once and stays routed.
        PlatformSettings(sla_low_seconds=86_400, log_level="WARNING", extra=dict(args.service_env)),
        endpoint_max_in_flight=64,
    )
    try:
        if args.warmup:
            # Not reported: a running platform is warm (the broker's JIT, the services'
            # statement caches and pools), and a phase that starts cold measures start-up.
            await run_phase(
                put,
                "warm-up",
                cases=args.warmup,
                rate=None,
                concurrency=args.concurrency,
                first_index=0,
            )
        if args.pg_statements:
            await reset_pg_statements(stack)
        phases = [
            await run_phase(
                put,
                "fixed rate",
                cases=args.cases,
                rate=args.rate,
                concurrency=64,
                first_index=args.warmup,
            ),
            await run_phase(
                put,
                "saturation",
                cases=args.cases,
                rate=None,
                concurrency=args.concurrency,
                first_index=args.warmup + args.cases,
                profile_seconds=args.profile_seconds if args.profile else 0.0,
            ),
        ]
        if args.pg_statements:
            statements = await pg_statements_report(stack, cases=2 * args.cases)
        record_bytes = round(max(p.figures["mean_record_bytes"] for p in phases) or 600)
        print("==> raw baselines on the same servers", file=sys.stderr)
        kafka = await kafka_baseline(stack.kafka_options, record_bytes=record_bytes)
        pg = await postgres_baseline(stack.superuser_dsn("mpa_intake"), row_bytes=record_bytes)
    finally:
        await put.close()
        await asyncio.to_thread(stack.destroy)
    markdown = render(phases, kafka, pg, where)
    print("\n" + markdown)
    if statements:
        print("\n" + statements)
        (RESULTS / "pg-statements.md").write_text(statements + "\n")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.md").write_text(markdown)
    (RESULTS / "latest.json").write_text(
        json.dumps(
            {
                "machine": where,
                "phases": {p.name: {"offered": p.offered, **p.figures} for p in phases},
                "baselines": {"kafka": kafka.as_dict(), "postgres": pg.as_dict()},
            },
            indent=2,
        )
        + "\n"
    )
    if not args.no_readme:
        update_readme(markdown)
    print(f"results: {RESULTS / 'latest.json'}, {RESULTS / 'latest.md'}", file=sys.stderr)


def _name_and_value(text: str) -> tuple[str, str]:
    name, separator, value = text.partition("=")
    if not separator or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--cases", type=int, default=600, help="cases per phase")
    parser.add_argument("--rate", type=float, default=50.0, help="fixed rate, cases/s")
    parser.add_argument(
        "--warmup", type=int, default=300, help="cases at saturation first, not reported"
    )
    parser.add_argument("--concurrency", type=int, default=16, help="in flight at saturation")
    parser.add_argument("--profile", action="store_true", help="py-spy the four services")
    parser.add_argument("--profile-seconds", type=float, default=20.0)
    parser.add_argument(
        "--pg-statements",
        action="store_true",
        help="load pg_stat_statements and print the services' statements per case",
    )
    parser.add_argument("--no-readme", action="store_true", help="leave README.md as it is")
    parser.add_argument(
        "--service-env",
        action="append",
        type=_name_and_value,
        default=[],
        metavar="NAME=VALUE",
        help="an environment variable for the services (repeatable), to try a setting",
    )
    # uvloop, as the services run: the load generator, the webhook receiver and the topic
    # watcher share this process, and its CPU is the platform's loss.
    uvloop.run(bench(parser.parse_args()))


if __name__ == "__main__":
    main()
