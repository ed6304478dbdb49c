"""api layer of the intake service."""
