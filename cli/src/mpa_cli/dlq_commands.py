"""`mpa dlq list` and `mpa dlq replay`: see what consumers could not process, and bring it
back once the cause is fixed. Both read KAFKA_BOOTSTRAP_SERVERS and KAFKA_TOPIC_PREFIX like
the services do, as the admin principal (the local stack's, or MPA_ADMIN_KAFKA_*)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime

import typer

from mpa_cli.dlq import Selection, read_dead_letters, replay, select
from mpa_common.kafka import client_options
from mpa_common.settings import OperatorSettings

dlq_app = typer.Typer(help="Dead letters: list them, replay them to the consumer that failed.")


def _selection(
    topic: str | None,
    consumer: str | None,
    reason: str | None,
    since: str | None,
    event_id: list[str] | None,
    include_replayed: bool,
) -> Selection:
    try:
        after = datetime.fromisoformat(since) if since else None
    except ValueError as error:
        raise typer.BadParameter(f"--since is not an ISO 8601 time: {since}") from error
    if after is not None and after.tzinfo is None:
        raise typer.BadParameter("--since needs a time zone, e.g. 2026-12-01T10:00:00+00:00")
    return Selection(
        topic=topic,
        consumer=consumer,
        reason=reason,
        since=after,
        event_ids=frozenset(event_id or ()),
        include_replayed=include_replayed,
    )


_TOPIC = typer.Option(None, help="Source topic, e.g. mpa.case.v1")
_CONSUMER = typer.Option(None, help="Consumer group that failed it, e.g. mpa-referral.cases")
_REASON = typer.Option(None, help="Reason, e.g. handler_failed, bad_json, forbidden_source")
_SINCE = typer.Option(None, help="Only dead letters from this ISO 8601 time on")
_EVENT_ID = typer.Option(None, "--event-id", help="Only this event id (repeatable)")


@dlq_app.command("list")
def list_dead_letters(
    topic: str | None = _TOPIC,
    consumer: str | None = _CONSUMER,
    reason: str | None = _REASON,
    since: str | None = _SINCE,
    event_id: list[str] | None = _EVENT_ID,
    include_replayed: bool = typer.Option(True, help="Also show dead letters replayed already"),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line"),
) -> None:
    """List dead letters: where from, which consumer, why, when, and whether replayed."""
    settings = OperatorSettings()
    chosen = _selection(topic, consumer, reason, since, event_id, include_replayed)
    letters = select(
        asyncio.run(read_dead_letters(client_options(settings), settings.kafka_topic_prefix)),
        chosen,
        settings.kafka_topic_prefix,
    )
    if as_json:
        for letter in letters:
            typer.echo(json.dumps(letter.summary()))
        return
    if not letters:
        typer.echo("no dead letters match")
        return
    typer.echo(
        f"{'dead letter':34} {'consumer':28} {'reason':18} {'failed at':26} {'replayed':9} event"
    )
    for letter in letters:
        failed = letter.failed_at.isoformat(timespec="seconds") if letter.failed_at else "?"
        typer.echo(
            f"{letter.ref:34} {letter.consumer:28} {letter.reason:18} {failed:26} "
            f"{'yes' if letter.replayed_at else 'no':9} {letter.event_type or '?'} "
            f"{letter.event_id or ''}"
        )
        if letter.error:
            typer.echo(f"{'':34} {letter.error[:120]}")
    typer.echo(f"{len(letters)} dead letter(s)")


@dlq_app.command("replay")
def replay_dead_letters(
    topic: str | None = _TOPIC,
    consumer: str | None = _CONSUMER,
    reason: str | None = _REASON,
    since: str | None = _SINCE,
    event_id: list[str] | None = _EVENT_ID,
    replay_all: bool = typer.Option(False, "--all", help="Every dead letter not yet replayed"),
    dry_run: bool = typer.Option(False, help="Only show what would be replayed"),
) -> None:
    """Re-deliver chosen dead letters to the consumer group that failed them (idempotent:
    each is replayed once; consumers skip an event they have processed)."""
    if not (replay_all or topic or consumer or reason or since or event_id):
        raise typer.BadParameter("choose what to replay (--consumer, --event-id, ...) or --all")
    settings = OperatorSettings()
    options = client_options(settings)
    chosen = _selection(topic, consumer, reason, since, event_id, include_replayed=False)
    letters = select(
        asyncio.run(read_dead_letters(options, settings.kafka_topic_prefix)),
        chosen,
        settings.kafka_topic_prefix,
    )
    if dry_run or not letters:
        for letter in letters:
            typer.echo(f"would replay {letter.ref} to {letter.consumer} ({letter.event_id})")
        typer.echo(f"{len(letters)} dead letter(s) to replay")
        return
    result = asyncio.run(replay(options, letters))
    for letter in result.replayed:
        typer.echo(f"replayed {letter.ref} to {letter.consumer} ({letter.event_id})")
    for letter in result.skipped:
        typer.echo(f"skipped {letter.ref}: it names no consumer or source (not replayable)")
    typer.echo(f"{len(result.replayed)} replayed, {len(result.skipped)} skipped")
