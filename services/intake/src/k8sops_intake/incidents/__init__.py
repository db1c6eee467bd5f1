"""Incident response (SPEC section 7b): paging, escalation, the bridge, the timeline, the report draft."""
