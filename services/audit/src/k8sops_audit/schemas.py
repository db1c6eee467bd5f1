"""Audit's API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class AuditEntryOut(BaseModel):
    seq: int
    event_id: str
    occurred_at: datetime
    recorded_at: datetime
    source_service: str
    actor_sub: str
    actor_roles: list[str]
    action: str
    target_kind: str
    target_name: str
    target_namespace: str | None
    target_cluster: str | None
    engagement_id: str | None
    outcome: str
    authorization_ref: str | None
    trace_id: str | None
    details: dict[str, Any]
    content_hash: str
    link_hash: str


class AuditEntryPage(BaseModel):
    items: list[AuditEntryOut]
    next_cursor: str | None


class MismatchOut(BaseModel):
    kind: str
    sequence: int
    event_id: str | None
    expected: str
    found: str
    description: str


class VerificationOut(BaseModel):
    ok: bool
    first_sequence: int
    entries_verified: int
    head_sequence: int
    head_link_hash: str
    checkpoints_checked: int
    first_mismatch: MismatchOut | None


class CheckpointOut(BaseModel):
    head_sequence: int
    head_link_hash: str
    entry_count: int
    created_at: datetime
    key_id: str
    signature: str
    signed_bytes: str


class PublicKeyOut(BaseModel):
    key_id: str
    public_key_pem: str
    jwk: dict[str, str]
