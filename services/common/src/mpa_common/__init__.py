"""mpa_common."""
