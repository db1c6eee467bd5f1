"""Engagements, their clusters, and the holiday calendar."""
