"""web layer of the console."""
