"""Disputes (SPEC section 4): both positions on record, an optional non-prod test, a senior engaged,
the customer decides. Which side may add which entry, and in what order, is decided here."""

from __future__ import annotations

from typing import Literal

EntryKind = Literal["customer_position", "provider_position", "nonprod_test", "senior_engaged", "decision"]
DisputeSide = Literal["customer", "provider", "senior", "customer_admin"]

WHO_MAY_ADD: dict[str, frozenset[str]] = {
    "customer_position": frozenset({"customer", "customer_admin"}),
    "provider_position": frozenset({"provider", "senior"}),
    "nonprod_test": frozenset({"customer", "customer_admin", "provider", "senior"}),
    "senior_engaged": frozenset({"senior"}),
    "decision": frozenset({"customer_admin"}),
}


class EntryRefused(Exception):
    """Not now: the dispute's state does not allow the entry."""


class WrongSide(EntryRefused):
    """Not by this party: the entry belongs to the other side or to another role."""


def check_entry(kind: str, sides: frozenset[str], recorded_kinds: set[str], decided: bool) -> None:
    """Raises EntryRefused with the reason when `sides` may not add a `kind` entry now."""
    if decided:
        raise EntryRefused("the dispute is decided; open a new dispute if the issue recurs, it will link this one")
    allowed = WHO_MAY_ADD[kind]
    if not sides & allowed:
        raise WrongSide(f"a {kind} entry is added by the {' or '.join(sorted(allowed))} side")
    if kind == "decision":
        missing = [
            needed
            for needed in ("customer_position", "provider_position", "senior_engaged")
            if needed not in recorded_kinds
        ]
        if missing:
            raise EntryRefused(f"the customer decides once these are on record: {', '.join(missing)}")
