"""domain layer of the referral service."""
