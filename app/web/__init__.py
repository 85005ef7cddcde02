"""The web's side: URLs, error pages, per-database slots for slow requests."""
