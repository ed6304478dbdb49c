"""mpa_cli."""
