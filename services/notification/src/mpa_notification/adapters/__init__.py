"""adapters layer of the notification service."""
