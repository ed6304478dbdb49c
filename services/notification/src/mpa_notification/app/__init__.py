"""app layer of the notification service."""
