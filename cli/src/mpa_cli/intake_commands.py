"""`mpa intake ...`: operator commands of the intake service (master key rotation).

Rotation, step by step:
  1. `mpa intake new-master-key` prints a new key `kid:base64key`;
  2. append it to INTAKE_MASTER_KEYS, set INTAKE_ACTIVE_MASTER_KEY to its id, restart intake
     (new data keys are wrapped by it; old wraps still open);
  3. `mpa intake rewrap-keys` (same environment) moves every case's data key under it;
  4. remove the old key from INTAKE_MASTER_KEYS. Wrapped keys left in backups or old row
     versions by erasures are unreadable from then on.
"""

from __future__ import annotations

import asyncio
import json

import typer

intake_app = typer.Typer(help="Intake service: personal-data key management.")


@intake_app.command("new-master-key")
def new_master_key_command(
    key_id: str | None = typer.Option(None, help="Key id (default: mk-<random>)"),
) -> None:
    """Print a new random 256-bit master key as `kid:base64key` for INTAKE_MASTER_KEYS."""
    from mpa_intake.adapters.crypto import new_master_key

    typer.echo(new_master_key(key_id))


@intake_app.command("rewrap-keys")
def rewrap_keys_command(
    batch_size: int = typer.Option(200, min=1, help="Cases per transaction"),
) -> None:
    """Re-wrap every case's data key with the active master key (INTAKE_ACTIVE_MASTER_KEY)."""
    report = asyncio.run(_rewrap(batch_size))
    typer.echo(json.dumps(report, indent=2))


async def _rewrap(batch_size: int) -> dict[str, object]:
    from mpa_common.db import create_engine, create_session_factory
    from mpa_intake.adapters.crypto import PersonalDataVault
    from mpa_intake.adapters.keys import master_keyring, match_keyer
    from mpa_intake.adapters.unit_of_work import unit_of_work_factory
    from mpa_intake.app.context import UNSCOPED, IntakeContext
    from mpa_intake.app.keys import rewrap_data_keys
    from mpa_intake.settings import IntakeSettings

    settings = IntakeSettings()
    # The service's own schema (INTAKE_DATABASE_SCHEMA), exactly as the service connects:
    # rewrapping any other schema would leave the real cases under the key being retired.
    engine = create_engine(
        settings.database_url.get_secret_value(),
        application_name="mpa-cli",
        schema=settings.database_schema,
    )
    try:
        context = IntakeContext(
            unit_of_work=unit_of_work_factory(
                create_session_factory(engine), topic_prefix=settings.kafka_topic_prefix
            ),
            vault=PersonalDataVault(master_keyring(settings)),
            matcher=match_keyer(settings),
            scopes=UNSCOPED,  # the service's own maintenance, not a person's access
        )
        report = await rewrap_data_keys(context, batch_size=batch_size)
    finally:
        await engine.dispose()
    return report.model_dump()
