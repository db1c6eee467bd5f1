"""Partner ticketing systems: their links, and the signed ticket webhooks they send us."""
