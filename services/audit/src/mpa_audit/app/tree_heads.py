"""Use cases: signed tree heads (checkpoints), on demand and periodically."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mpa_audit.adapters.log_store import LogStore, StoredTreeHead
from mpa_audit.adapters.signing import TreeHeadSigner
from mpa_common.health import DependencyMonitor
from mpa_common.problems import Problem
from mpa_common.workers import PeriodicWorker

log = logging.getLogger(__name__)


class TreeHeads:
    """Issues and reads signed tree heads. A size is signed at most once: the first
    checkpoint stored for it is the one every later request gets."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], signer: TreeHeadSigner) -> None:
        self._sessions = sessions
        self._signer = signer

    @property
    def origin(self) -> str:
        """The log's name, the first line of each of its checkpoints."""
        return self._signer.origin

    async def at(self, tree_size: int | None = None) -> StoredTreeHead:
        """The signed tree head of ``tree_size`` (default: the log's current size), signed
        now if none is stored. Raises a 422 Problem for a size the log has not reached."""
        async with self._sessions() as session, session.begin():
            store = LogStore(session)
            current = await store.tree_size()
            size = current if tree_size is None else tree_size
            if size > current:
                raise Problem(
                    422, "Tree size not reached", f"tree_size {size} exceeds the log's {current}"
                )
            stored = await store.tree_head(size)
            if stored is not None:
                return stored
            root = (await store.compact_range(size)).root()
            issued_at = datetime.now(UTC)
            checkpoint = self._signer.sign(size, root, issued_at)
            return await store.add_tree_head(StoredTreeHead(size, root, issued_at, checkpoint))

    async def sign_if_grown(self) -> StoredTreeHead | None:
        """Sign the current size unless a tree head of it exists already."""
        async with self._sessions() as session:
            store = LogStore(session)
            size = await store.tree_size()
            latest = await store.latest_tree_heads(1)
        if latest and latest[0].tree_size >= size:
            return None
        return await self.at(size)


def checkpoint_worker(
    tree_heads: TreeHeads, interval_seconds: float, *, monitor: DependencyMonitor | None = None
) -> PeriodicWorker:
    """Background worker: signs a tree head every interval in which the log grew."""

    async def sign_if_grown() -> None:
        head = await tree_heads.sign_if_grown()
        if head is not None:
            log.info("tree head signed", extra={"tree_size": head.tree_size})

    return PeriodicWorker("audit-checkpoints", sign_if_grown, interval_seconds, monitor=monitor)
