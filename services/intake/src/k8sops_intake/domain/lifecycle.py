"""The request lifecycle of SPEC section 4 as an explicit table of allowed transitions.

Each action names who may take it (the provider side, the customer side, or either) and the
statuses it leaves from. Anything not in the table is refused with the reason why.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

RequestStatus = Literal[
    "opened", "acknowledged", "in_progress", "waiting_on_customer", "resolved", "closed", "declined", "cancelled"
]
TERMINAL_STATUSES: frozenset[str] = frozenset({"closed", "declined", "cancelled"})
ACTIVE_STATUSES: frozenset[str] = frozenset({"opened", "acknowledged", "in_progress", "waiting_on_customer"})


class Side(StrEnum):
    PROVIDER = "provider"  # operators, seniors, and the platform itself (SLA and upgrade events)
    CUSTOMER = "customer"  # requesters and admins of the engagement


class Action(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    START = "start"
    WAIT_ON_CUSTOMER = "wait_on_customer"
    RESUME = "resume"
    RESOLVE = "resolve"
    REOPEN = "reopen"
    CLOSE = "close"
    DECLINE = "decline"
    CANCEL = "cancel"


@dataclass(frozen=True)
class Transition:
    action: Action
    sources: frozenset[str]
    target: RequestStatus
    sides: frozenset[Side]
    needs_reason: bool = False


PROVIDER = frozenset({Side.PROVIDER})
CUSTOMER = frozenset({Side.CUSTOMER})
EITHER = frozenset({Side.PROVIDER, Side.CUSTOMER})

TRANSITIONS: dict[Action, Transition] = {
    transition.action: transition
    for transition in (
        # Acknowledgement is the first response: it stops the response-SLA clock, so only the provider.
        Transition(Action.ACKNOWLEDGE, frozenset({"opened"}), "acknowledged", PROVIDER),
        Transition(Action.START, frozenset({"acknowledged"}), "in_progress", PROVIDER),
        Transition(Action.WAIT_ON_CUSTOMER, frozenset({"in_progress"}), "waiting_on_customer", PROVIDER),
        # The customer resumes by answering; the provider may resume when the answer came another way.
        Transition(Action.RESUME, frozenset({"waiting_on_customer"}), "in_progress", EITHER),
        Transition(Action.RESOLVE, frozenset({"in_progress", "waiting_on_customer"}), "resolved", PROVIDER),
        Transition(Action.REOPEN, frozenset({"resolved"}), "in_progress", CUSTOMER, needs_reason=True),
        Transition(Action.CLOSE, frozenset({"resolved"}), "closed", EITHER),
        Transition(Action.DECLINE, ACTIVE_STATUSES, "declined", PROVIDER, needs_reason=True),
        Transition(Action.CANCEL, ACTIVE_STATUSES, "cancelled", CUSTOMER),
    )
}


class TransitionRefused(Exception):
    """The action is not allowed now; the message says why and what would be."""


def next_status(current: str, action: Action, side: Side, reason: str | None = None) -> RequestStatus:
    """The status after `action`, or TransitionRefused explaining why it cannot happen."""
    transition = TRANSITIONS[action]
    if side not in transition.sides:
        who = " or ".join(sorted(s.value for s in transition.sides))
        raise TransitionRefused(f"'{action}' is taken by the {who} side, not the {side.value} side")
    if current not in transition.sources:
        if current in TERMINAL_STATUSES:
            raise TransitionRefused(f"the request is {current}, a final status; open a new request instead")
        allowed = ", ".join(allowed_actions(current, side)) or "none"
        raise TransitionRefused(
            f"'{action}' needs the request to be {' or '.join(sorted(transition.sources))}, but it is {current}; "
            f"actions open to you now: {allowed}"
        )
    if transition.needs_reason and not (reason and reason.strip()):
        raise TransitionRefused(f"'{action}' needs a reason")
    return transition.target


def allowed_actions(current: str, side: Side) -> list[str]:
    return [t.action.value for t in TRANSITIONS.values() if current in t.sources and side in t.sides]
