"""domain layer of the intake service."""
