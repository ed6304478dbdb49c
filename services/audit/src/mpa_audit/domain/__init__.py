"""domain layer of the audit service."""
