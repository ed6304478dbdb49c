"""app layer of the intake service."""
