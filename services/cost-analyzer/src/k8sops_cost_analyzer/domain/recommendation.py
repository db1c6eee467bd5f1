"""The recommendation lifecycle: who may move a recommendation where, and what each move needs.

open -> accepted -> implemented
open -> rejected          both positions on record; the customer decides
open -> not_adopted       re-opened automatically at the next quarter's review
open -> accepted_as_is    the customer chose to spend more: not our call
not_adopted -> open       (the quarterly review), or any customer decision again
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    IMPLEMENTED = "implemented"
    REJECTED = "rejected"
    NOT_ADOPTED = "not_adopted"
    ACCEPTED_AS_IS = "accepted_as_is"


class Decider(StrEnum):
    CUSTOMER = "customer"  # an engagement admin
    PROVIDER = "provider"  # an operator or senior


CUSTOMER_DECISIONS = {Status.ACCEPTED, Status.REJECTED, Status.NOT_ADOPTED, Status.ACCEPTED_AS_IS}
ALLOWED: dict[Status, set[Status]] = {
    Status.OPEN: CUSTOMER_DECISIONS,
    Status.NOT_ADOPTED: CUSTOMER_DECISIONS - {Status.NOT_ADOPTED},
    Status.ACCEPTED: {Status.IMPLEMENTED, Status.NOT_ADOPTED},
    Status.IMPLEMENTED: set(),
    Status.REJECTED: set(),
    Status.ACCEPTED_AS_IS: set(),
}


class TransitionError(Exception):
    """A move the lifecycle does not allow from the current status (a 409)."""


class DecisionNotAllowed(Exception):
    """The caller's side may not make this move (a 403)."""


@dataclass(frozen=True)
class Positions:
    provider: str | None
    customer: str | None


def who_decides(to: Status) -> Decider:
    return Decider.PROVIDER if to is Status.IMPLEMENTED else Decider.CUSTOMER


def check_transition(current: Status, to: Status, decider: Decider, positions: Positions) -> None:
    if who_decides(to) is not decider:
        side = "an engagement admin (the customer)" if who_decides(to) is Decider.CUSTOMER else "an operator"
        raise DecisionNotAllowed(f"moving a recommendation to {to} is for {side}")
    if to not in ALLOWED[current]:
        allowed = ", ".join(sorted(ALLOWED[current])) or "nothing (it is final)"
        raise TransitionError(f"a recommendation in {current} can move to {allowed}, not {to}")
    if to is Status.REJECTED and not (positions.provider and positions.customer):
        missing = "the provider's position (recorded by an operator or senior)" if not positions.provider else ""
        missing = missing or "the customer's position (the reason for rejecting)"
        raise TransitionError(f"a rejection needs both positions on record; missing {missing}")


def resurfaces(status: Status) -> bool:
    """Whether the next quarter's review re-opens this recommendation."""
    return status is Status.NOT_ADOPTED
