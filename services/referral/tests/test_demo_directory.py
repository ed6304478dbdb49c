"""The demo directory seeds an empty directory once, every entry marked as demo."""

from __future__ import annotations

from mpa_contracts.vocabularies import NeedCategory
from mpa_referral.app.common import ReferralContext
from mpa_referral.demo import DEMO_PARTNERS, seed_demo_directory
from mpa_referral.testing import MemoryStore


async def test_the_demo_directory_is_seeded_once_and_marked(
    store: MemoryStore, context: ReferralContext
) -> None:
    assert await seed_demo_directory(context) is True
    assert await seed_demo_directory(context) is False  # not twice
    assert len(store.partners) == len(DEMO_PARTNERS)
    assert all(p["is_demo"] for p in store.partners.values())
    assert all(s["is_demo"] for s in store.services.values())
    for country in ("NE", "ML"):
        categories = {
            s["category"] for s in store.services.values() if country in s["coverage_countries"]
        }
        assert categories == {c.value for c in NeedCategory}
