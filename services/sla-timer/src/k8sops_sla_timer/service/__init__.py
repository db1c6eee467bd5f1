"""sla-timer's use cases, one module per subdomain; each runs inside the caller's unit of work.

Timers live in the `timers` table and are turned into the pure domain objects
(`ResponseTimer`, `ResolutionClock`) for every decision, so the rules stay in `domain/`.
Every change is written with the events it raises (and its audit event) in one transaction.
"""
