"""Use cases: signed tree heads (checkpoints), on demand and periodically, and their witnesses.

A size is signed at most once: the first checkpoint stored for it is the one every later
request gets. Each new tree head is then sent to the configured witnesses (C2SP tlog-witness
`add-checkpoint`, with a consistency proof from the size each one cosigned last); a witness
cosigns only if the head is consistent with everything it cosigned before, and its verified
cosignature is stored beside the head and served with it. A signature says "the log says
so"; a cosignature says "and it did not rewrite what it showed me before".
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from mpa_audit.app.ports import (
    LogRepository,
    Signer,
    StoredCosignature,
    StoredTreeHead,
    UnitOfWorkFactory,
    Witness,
)
from mpa_audit.app.proofs import consistency_between, size_or_current
from mpa_audit_verify.cosignature import add_signature_lines, cosignature_lines, verify_cosignature
from mpa_audit_verify.note import CheckpointError
from mpa_common.failures import DependencyUnavailable
from mpa_common.health import DependencyMonitor
from mpa_common.workers import PeriodicWorker

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CosignedTreeHead:
    """A signed tree head and the witnesses' cosignatures on it."""

    head: StoredTreeHead
    cosignatures: tuple[StoredCosignature, ...] = ()

    @property
    def tree_size(self) -> int:
        return self.head.tree_size

    @property
    def checkpoint(self) -> str:
        """The checkpoint note with every cosignature line (a C2SP cosigned checkpoint)."""
        lines = "".join(c.line for c in self.cosignatures)
        return add_signature_lines(self.head.checkpoint, lines) if lines else self.head.checkpoint


@dataclass(frozen=True, slots=True)
class WitnessOutcome:
    witness: str
    tree_size: int
    cosigned: bool
    status: int | None
    reason: str

    @property
    def refused(self) -> bool:
        """The witness judged the head and said no (asking again would not change that)."""
        return self.status in (400, 403, 404, 422)


class TreeHeads:
    """Issues, witnesses and reads signed tree heads."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        signer: Signer,
        witnesses: Sequence[Witness] = (),
    ) -> None:
        self._uow_factory = uow_factory
        self._signer = signer
        self.witnesses = tuple(witnesses)
        self.last_outcomes: dict[str, WitnessOutcome] = {}

    @property
    def origin(self) -> str:
        """The log's name, the first line of each of its checkpoints."""
        return self._signer.origin

    async def at(self, tree_size: int | None = None) -> CosignedTreeHead:
        """The signed tree head of ``tree_size`` (default: the log's current size), signed and
        witnessed now if none is stored. TreeSizeNotReached for a size the log lacks."""
        async with self._uow_factory() as uow:
            size = await size_or_current(uow.log, tree_size)
            stored = await uow.log.tree_head(size)
            if stored is not None:
                return CosignedTreeHead(
                    stored, tuple(self._valid(stored, await uow.log.cosignatures(size)))
                )
            root = (await uow.log.compact_range(size)).root()
            issued_at = datetime.now(UTC)
            checkpoint = self._signer.sign(size, root, issued_at)
            head = await uow.log.add_tree_head(StoredTreeHead(size, root, issued_at, checkpoint))
            await uow.commit()
        return await self.witness(head)

    async def sign_if_grown(self) -> CosignedTreeHead | None:
        """Sign the current size unless a tree head of it exists already; ask the witnesses
        again for the latest head if one of them has not cosigned it yet."""
        async with self._uow_factory() as uow:
            size = await uow.log.tree_size()
            latest = await uow.log.latest_tree_heads(1)
            cosigned = (
                self._valid(latest[0], await uow.log.cosignatures(latest[0].tree_size))
                if latest
                else []
            )
        if latest and latest[0].tree_size >= size:
            if {c.witness for c in cosigned} >= {w.key.name for w in self.witnesses}:
                return None
            return await self.witness(latest[0])
        return await self.at(size)

    async def witness(self, head: StoredTreeHead) -> CosignedTreeHead:
        """Ask every witness that has not cosigned ``head`` for its cosignature."""
        async with self._uow_factory() as uow:
            stored = await uow.log.cosignatures(head.tree_size)
        have = {c.witness: c for c in self._valid(head, stored)}
        for witness in self.witnesses:
            if witness.key.name in have:
                continue
            last = self.last_outcomes.get(witness.key.name)
            if last is not None and last.tree_size == head.tree_size and last.refused:
                continue
            try:
                outcome, cosignature = await self._ask(witness, head)
            except DependencyUnavailable as error:
                outcome = WitnessOutcome(witness.key.name, head.tree_size, False, None, str(error))
                cosignature = None
                log.warning(
                    "witness unreachable; the tree head stays unwitnessed for now",
                    extra={"witness": witness.key.name, "tree_size": head.tree_size},
                )
            self.last_outcomes[witness.key.name] = outcome
            if cosignature is not None:
                async with self._uow_factory() as uow:
                    await uow.log.add_cosignature(cosignature)
                    await uow.commit()
                have[witness.key.name] = cosignature
        return CosignedTreeHead(head, tuple(have.values()))

    def _valid(
        self, head: StoredTreeHead, cosignatures: Sequence[StoredCosignature]
    ) -> list[StoredCosignature]:
        """The stored cosignatures that are by a configured witness and verify on this very
        checkpoint (a row of the same size could belong to a tree head since replaced)."""
        keys = {witness.key.name: witness.key for witness in self.witnesses}
        valid = []
        for cosignature in cosignatures:
            key = keys.get(cosignature.witness)
            if key is None:
                continue
            try:
                verify_cosignature(add_signature_lines(head.checkpoint, cosignature.line), key)
            except CheckpointError:
                continue
            valid.append(cosignature)
        return valid

    async def _ask(
        self, witness: Witness, head: StoredTreeHead
    ) -> tuple[WitnessOutcome, StoredCosignature | None]:
        name = witness.key.name
        async with self._uow_factory() as uow:
            old = await uow.log.latest_cosigned_size(name) or 0
        for _attempt in range(2):  # a 409 tells the witness's size: one retry from it
            if old > head.tree_size:
                return WitnessOutcome(name, head.tree_size, False, 409, f"it cosigned {old}"), None
            async with self._uow_factory() as uow:
                proof = await _proof(uow.log, old, head.tree_size)
            answer = await witness.add_checkpoint(old, proof, head.checkpoint)
            if answer.status == 409 and answer.latest_size is not None:
                old = answer.latest_size
                continue
            if answer.status != 200:
                log.error(
                    "witness refused the tree head: it is not consistent with what the "
                    "witness cosigned before (was the log rewritten?)",
                    extra={
                        "witness": name,
                        "tree_size": head.tree_size,
                        "status": answer.status,
                        "reason": answer.reason[:200],
                    },
                )
                return (
                    WitnessOutcome(name, head.tree_size, False, answer.status, answer.reason),
                    None,
                )
            return self._verified(witness, head, answer.cosignatures)
        return WitnessOutcome(name, head.tree_size, False, 409, "its size kept moving"), None

    def _verified(
        self, witness: Witness, head: StoredTreeHead, lines: str
    ) -> tuple[WitnessOutcome, StoredCosignature | None]:
        name = witness.key.name
        try:
            own = cosignature_lines(lines, witness.key)
            checked = verify_cosignature(
                add_signature_lines(head.checkpoint, "".join(s.line() for s in own)),
                witness.key,
                now=datetime.now(UTC),
            )
        except CheckpointError as error:
            log.error(
                "witness answered without a valid cosignature",
                extra={"witness": name, "tree_size": head.tree_size, "error": str(error)[:200]},
            )
            outcome = WitnessOutcome(
                name, head.tree_size, False, 200, f"invalid cosignature: {error}"
            )
            return outcome, None
        log.info("tree head witnessed", extra={"witness": name, "tree_size": head.tree_size})
        cosignature = StoredCosignature(head.tree_size, name, checked.line, checked.timestamp)
        return WitnessOutcome(name, head.tree_size, True, 200, ""), cosignature


async def _proof(log_store: LogRepository, old: int, new: int) -> list[bytes]:
    return await consistency_between(log_store, old, new) if 0 < old < new else []


def checkpoint_worker(
    tree_heads: TreeHeads, interval_seconds: float, *, monitor: DependencyMonitor | None = None
) -> PeriodicWorker:
    """Background worker: signs (and has witnessed) a tree head every interval in which the
    log grew."""

    async def sign_if_grown() -> None:
        head = await tree_heads.sign_if_grown()
        if head is not None:
            log.info("tree head signed", extra={"tree_size": head.tree_size})

    return PeriodicWorker("audit-checkpoints", sign_if_grown, interval_seconds, monitor=monitor)
