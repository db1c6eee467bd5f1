"""Disputes about a request or a recommendation, with each side's entries and the decision."""
