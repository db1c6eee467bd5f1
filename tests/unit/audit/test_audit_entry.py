"""Audit entry content: what a valid entry is and what is refused on construction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest

from k8sops_audit.domain.entry import Actor, AuditEntry, InvalidAuditEntryError, Outcome, Target

EntryFactory = Callable[..., AuditEntry]


def test_roles_are_a_set_kept_in_sorted_order() -> None:
    actor = Actor(sub="u-1", roles=("k8s-ops.viewer", "k8s-ops.admin", "k8s-ops.viewer"))
    assert actor.roles == ("k8s-ops.admin", "k8s-ops.viewer")


def test_outcome_given_as_text_becomes_the_enum(make_entry: EntryFactory) -> None:
    entry = make_entry(1, outcome="denied")
    assert entry.outcome is Outcome.DENIED


def test_provider_level_action_has_no_engagement_and_no_cluster(make_entry: EntryFactory) -> None:
    entry = make_entry(1, engagement_id=None, target=Target(kind="SlaPolicy", name="k8s-247"), trace_id=None)
    assert entry.engagement_id is None
    assert entry.target.cluster is None and entry.target.namespace is None


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"sequence": 0}, "sequence must be a positive integer"),
        ({"occurred_at": datetime(2026, 3, 1, 8, 15)}, "occurred_at must be a timezone-aware"),
        ({"recorded_at": "2026-03-01T08:15:00Z"}, "recorded_at must be a timezone-aware"),
        ({"outcome": "partial"}, "outcome must be one of success, denied, failure"),
        ({"trace_id": "4BF92F3577B34DA6A3CE929D0E0E4736"}, "trace_id must be 32 lowercase hex"),
        ({"trace_id": "abc"}, "trace_id must be 32 lowercase hex"),
        ({"action": " "}, "action must be a non-empty string"),
        ({"source_service": ""}, "source_service must be a non-empty string"),
        ({"authorization_ref": ""}, "authorization_ref must be a non-empty string"),
        ({"event_id": ""}, "event_id must be a non-empty string"),
        ({"event_id": "e" * 201}, "event_id is longer than 200 characters"),
        ({"engagement_id": ""}, "engagement_id must be a non-empty string"),
        ({"details": ["not", "an", "object"]}, "details must be a JSON object"),
    ],
)
def test_invalid_entries_are_refused_with_a_message_that_names_the_field(
    make_entry: EntryFactory, overrides: dict[str, Any], message: str
) -> None:
    valid = make_entry(1)
    with pytest.raises(InvalidAuditEntryError, match=message):
        replace(valid, **overrides)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Actor(sub="", roles=()), "actor.sub"),
        (lambda: Actor(sub="u-1", roles=("",)), "actor.roles"),
        (lambda: Actor(sub="u-1", roles="k8s-ops.admin"), "actor.roles must be a list"),  # type: ignore[arg-type]
        (lambda: Target(kind="Namespace", name=""), "target.name"),
        (lambda: Target(kind="Pod", name="api-0", namespace=""), "target.namespace"),
    ],
)
def test_invalid_actor_or_target_is_refused(build: Any, message: str) -> None:
    with pytest.raises(InvalidAuditEntryError, match=message):
        build()
