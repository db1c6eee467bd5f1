"""Requests: opening, the lifecycle, priority, comments, listing, and the scope creep record."""
