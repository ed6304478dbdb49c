"""mpa_audit."""
