"""app layer of the console."""
