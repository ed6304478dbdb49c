"""Master key rotation: move every case's data key under the active master key."""

from __future__ import annotations

from mpa_intake.app.context import IntakeContext
from mpa_intake.app.views import RewrapReport


async def rewrap_data_keys(ctx: IntakeContext, *, batch_size: int = 200) -> RewrapReport:
    """Re-wraps, in batches of one transaction each, every data key wrapped by another
    configured master key than the active one. Ciphertexts are untouched; concurrent
    writers are not blocked (locked rows are skipped and picked up by the next batch).
    Cases under a key that is not configured cannot be opened and are left alone: the
    report's `cases_by_master_key` shows them. PSEA complaints the same."""
    active = ctx.vault.active_key_id
    retiring = sorted(ctx.vault.key_ids - {active})
    rewrapped = await _rewrap_cases(ctx, retiring, batch_size)
    # PSEA complaints are sealed the same way, each under a data key of its own.
    complaints = 0
    while retiring:
        async with ctx.unit_of_work() as uow:
            sealed_complaints = await uow.psea.lock_wrapped_by(retiring, batch_size)
            for complaint_id, sealed in sealed_complaints:
                await uow.psea.store_sealed(complaint_id, ctx.vault.rewrap(complaint_id, sealed))
            await uow.commit()
        complaints += len(sealed_complaints)
        if len(sealed_complaints) < batch_size:
            break
    async with ctx.unit_of_work() as uow:
        counts = await uow.cases.count_by_master_key()
        complaint_counts = await uow.psea.count_by_master_key()
    return RewrapReport(
        rewrapped=rewrapped,
        active_master_key=active,
        cases_by_master_key=counts,
        complaints_rewrapped=complaints,
        complaints_by_master_key=complaint_counts,
    )


async def _rewrap_cases(ctx: IntakeContext, retiring: list[str], batch_size: int) -> int:
    rewrapped = 0
    while retiring:
        async with ctx.unit_of_work() as uow:
            batch = await uow.cases.lock_cases_wrapped_by(retiring, batch_size)
            for case_id, sealed in batch:
                await uow.cases.store_personal_data(case_id, ctx.vault.rewrap(case_id, sealed))
            await uow.commit()
        rewrapped += len(batch)
        if len(batch) < batch_size:
            break
    return rewrapped
