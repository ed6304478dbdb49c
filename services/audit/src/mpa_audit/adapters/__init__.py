"""adapters layer of the audit service."""
