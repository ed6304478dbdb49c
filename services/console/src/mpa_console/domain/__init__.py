"""domain layer of the console."""
