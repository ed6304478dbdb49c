"""app layer of the audit service."""
