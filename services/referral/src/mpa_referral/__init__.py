"""mpa_referral."""
