"""The web console: server-rendered screens over the platform services' public APIs."""
