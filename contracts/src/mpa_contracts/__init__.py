"""mpa_contracts."""
