"""adapters layer of the console."""
