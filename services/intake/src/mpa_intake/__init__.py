"""mpa_intake."""
