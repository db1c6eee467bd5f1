"""The request lifecycle table: every allowed move, and a reason for every refused one."""

from __future__ import annotations

import pytest

from k8sops_intake.domain.lifecycle import (
    TERMINAL_STATUSES,
    TRANSITIONS,
    Action,
    Side,
    TransitionRefused,
    allowed_actions,
    next_status,
)

STATUSES = [
    "opened",
    "acknowledged",
    "in_progress",
    "waiting_on_customer",
    "resolved",
    "closed",
    "declined",
    "cancelled",
]

ALLOWED = {
    ("opened", Action.ACKNOWLEDGE, Side.PROVIDER): "acknowledged",
    ("acknowledged", Action.START, Side.PROVIDER): "in_progress",
    ("in_progress", Action.WAIT_ON_CUSTOMER, Side.PROVIDER): "waiting_on_customer",
    ("waiting_on_customer", Action.RESUME, Side.PROVIDER): "in_progress",
    ("waiting_on_customer", Action.RESUME, Side.CUSTOMER): "in_progress",
    ("in_progress", Action.RESOLVE, Side.PROVIDER): "resolved",
    ("waiting_on_customer", Action.RESOLVE, Side.PROVIDER): "resolved",
    ("resolved", Action.REOPEN, Side.CUSTOMER): "in_progress",
    ("resolved", Action.CLOSE, Side.PROVIDER): "closed",
    ("resolved", Action.CLOSE, Side.CUSTOMER): "closed",
    **{
        (status, Action.DECLINE, Side.PROVIDER): "declined"
        for status in ("opened", "acknowledged", "in_progress", "waiting_on_customer")
    },
    **{
        (status, Action.CANCEL, Side.CUSTOMER): "cancelled"
        for status in ("opened", "acknowledged", "in_progress", "waiting_on_customer")
    },
}


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("side", list(Side))
def test_exactly_the_table_is_allowed(status: str, action: Action, side: Side) -> None:
    expected = ALLOWED.get((status, action, side))
    if expected is None:
        with pytest.raises(TransitionRefused) as refused:
            next_status(status, action, side, reason="a reason")
        assert str(refused.value)  # every refusal says why
    else:
        assert next_status(status, action, side, reason="a reason") == expected


def test_acknowledgement_is_the_providers_first_response() -> None:
    with pytest.raises(TransitionRefused, match="provider side, not the customer side"):
        next_status("opened", Action.ACKNOWLEDGE, Side.CUSTOMER)


def test_a_refusal_names_the_current_status_and_what_is_possible_instead() -> None:
    with pytest.raises(TransitionRefused) as refused:
        next_status("opened", Action.RESOLVE, Side.PROVIDER)
    message = str(refused.value)
    assert "it is opened" in message and "acknowledge" in message and "decline" in message


def test_final_statuses_point_to_a_new_request() -> None:
    for status in TERMINAL_STATUSES:
        assert allowed_actions(status, Side.PROVIDER) == [] and allowed_actions(status, Side.CUSTOMER) == []
        with pytest.raises(TransitionRefused, match="open a new request"):
            next_status(status, Action.CANCEL, Side.CUSTOMER)


@pytest.mark.parametrize("action", [t.action for t in TRANSITIONS.values() if t.needs_reason])
def test_declining_and_reopening_need_a_reason(action: Action) -> None:
    transition = TRANSITIONS[action]
    source = sorted(transition.sources)[0]
    side = sorted(transition.sides)[0]
    for missing in (None, "", "   "):
        with pytest.raises(TransitionRefused, match="needs a reason"):
            next_status(source, action, side, reason=missing)
