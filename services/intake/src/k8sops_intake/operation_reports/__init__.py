"""Operation reports: the report upgrade-runner publishes when an operation ends, attached to its request."""
