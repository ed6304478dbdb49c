"""app layer of the referral service."""
