"""mpa_notification."""
