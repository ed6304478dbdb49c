"""api layer of the notification service."""
