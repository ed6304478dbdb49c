"""api layer of the audit service."""
