"""api layer of the referral service."""
