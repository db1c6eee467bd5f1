"""Builders of realistic audit entries and chains for the audit domain tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from k8sops_audit.domain.chain import GENESIS, ChainedEntry, chain_entries
from k8sops_audit.domain.entry import Actor, AuditEntry, Outcome, Target

START = datetime(2026, 3, 1, 8, 15, tzinfo=UTC)
ENGAGEMENT_ID = "eng-acme-bd"

EntryFactory = Callable[..., AuditEntry]
ChainBuilder = Callable[[int], list[ChainedEntry]]


def make_audit_entry(sequence: int, **overrides: Any) -> AuditEntry:
    """A plausible operator action in a customer cluster; every value depends on ``sequence``
    so no two entries of a chain are alike."""
    occurred_at = START + timedelta(seconds=sequence, microseconds=sequence % 997)
    entry = AuditEntry(
        sequence=sequence,
        event_id=str(UUID(int=0xA0D17 << 64 | sequence)),
        occurred_at=occurred_at,
        recorded_at=occurred_at + timedelta(milliseconds=40),
        source_service="upgrade-runner",
        actor=Actor(sub=f"operator-{sequence % 7}", roles=("k8s-ops.operator",)),
        action="deployment.scale",
        target=Target(
            kind="Deployment",
            name=f"payments-api-{sequence}",
            namespace="payments",
            cluster="prod-dhaka-1",
        ),
        engagement_id=ENGAGEMENT_ID,
        outcome=Outcome.SUCCESS,
        authorization_ref=f"auth-{sequence}" if sequence % 5 == 0 else None,
        trace_id=f"{sequence:032x}",
        details={"replicas": {"from": 3, "to": sequence % 4}, "reason": "scale down for cost"},
    )
    return replace(entry, **overrides) if overrides else entry


def build_audit_chain(length: int) -> list[ChainedEntry]:
    return chain_entries(GENESIS, [make_audit_entry(sequence) for sequence in range(1, length + 1)])


@pytest.fixture(scope="session")
def make_entry() -> EntryFactory:
    return make_audit_entry


@pytest.fixture(scope="session")
def build_chain() -> ChainBuilder:
    return build_audit_chain
