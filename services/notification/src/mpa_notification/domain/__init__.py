"""domain layer of the notification service."""
