"""The content of one audit entry: who did what to which target, when, and with what outcome.

An entry is the stored form of one ``audit.event`` plus the two facts the audit service adds on
ingest: its position in the chain (``sequence``) and when it was recorded (``recorded_at``).
Everything here is hashed (see ``chain.py``), so an entry is immutable and validated on
construction: a malformed event is refused at ingest rather than stored unverifiable.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

# W3C Trace Context trace id: 16 bytes as lowercase hex (the audit.event schema's pattern).
TRACE_ID_PATTERN = re.compile(r"[0-9a-f]{32}")
# CloudEvents ids are strings; the envelope caps them at 200 characters.
MAX_EVENT_ID_LENGTH = 200


class InvalidAuditEntryError(ValueError):
    """An audit entry (or one of its parts) breaks a rule; the message says which and how."""


class Outcome(StrEnum):
    SUCCESS = "success"
    DENIED = "denied"  # refused by authorisation: the attempt itself is worth recording
    FAILURE = "failure"


@dataclass(frozen=True, slots=True, kw_only=True)
class Actor:
    """The authenticated caller: token subject and the roles it held when acting."""

    sub: str
    roles: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _require_text("actor.sub", self.sub)
        if not isinstance(self.roles, (tuple, list)):
            raise InvalidAuditEntryError(f"actor.roles must be a list of role names, got {self.roles!r}")
        for role in self.roles:
            _require_text("actor.roles[]", role)
        # Roles are a set; a fixed order makes equal role sets hash equally.
        object.__setattr__(self, "roles", tuple(sorted(set(self.roles))))


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """What was acted on. ``namespace`` and ``cluster`` are absent for non-cluster objects."""

    kind: str
    name: str
    namespace: str | None = None
    cluster: str | None = None

    def __post_init__(self) -> None:
        _require_text("target.kind", self.kind)
        _require_text("target.name", self.name)
        _require_optional_text("target.namespace", self.namespace)
        _require_optional_text("target.cluster", self.cluster)


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry:
    """One entry of the audit chain.

    ``details`` must be JSON (string keys; strings, numbers, booleans, null, lists, objects) and
    is checked when the entry is hashed; treat it as read-only once the entry exists, since the
    stored hash covers its content at that time.
    """

    sequence: int  # 1-based position in the chain, consecutive
    event_id: str  # id of the audit.event CloudEvent; a redelivery carries the same id
    occurred_at: datetime  # when the action happened, per the emitting service
    recorded_at: datetime  # when the audit service stored it
    source_service: str
    actor: Actor
    action: str
    target: Target
    engagement_id: str | None = None  # None for provider-level actions
    outcome: Outcome
    authorization_ref: str | None = None  # customer authorisation of a destructive action
    trace_id: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if type(self.sequence) is not int or self.sequence < 1:
            raise InvalidAuditEntryError(f"sequence must be a positive integer, got {self.sequence!r}")
        _require_text("event_id", self.event_id)
        if len(self.event_id) > MAX_EVENT_ID_LENGTH:
            raise InvalidAuditEntryError(f"event_id is longer than {MAX_EVENT_ID_LENGTH} characters")
        _require_optional_text("engagement_id", self.engagement_id)
        _require_aware("occurred_at", self.occurred_at)
        _require_aware("recorded_at", self.recorded_at)
        _require_text("source_service", self.source_service)
        _require_text("action", self.action)
        if not isinstance(self.actor, Actor):
            raise InvalidAuditEntryError("actor must be an Actor")
        if not isinstance(self.target, Target):
            raise InvalidAuditEntryError("target must be a Target")
        if type(self.outcome) is not Outcome:  # the enum call is skipped for what already is one
            try:
                object.__setattr__(self, "outcome", Outcome(self.outcome))
            except ValueError as error:
                allowed = ", ".join(outcome.value for outcome in Outcome)
                raise InvalidAuditEntryError(f"outcome must be one of {allowed}, got {self.outcome!r}") from error
        _require_optional_text("authorization_ref", self.authorization_ref)
        if self.trace_id is not None and (
            not isinstance(self.trace_id, str) or not TRACE_ID_PATTERN.fullmatch(self.trace_id)
        ):
            raise InvalidAuditEntryError(
                f"trace_id must be 32 lowercase hex digits (W3C Trace Context), got {self.trace_id!r}"
            )
        if not isinstance(self.details, Mapping):
            raise InvalidAuditEntryError("details must be a JSON object (a mapping)")


def _require_text(name: str, value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidAuditEntryError(f"{name} must be a non-empty string, got {value!r}")


def _require_optional_text(name: str, value: object) -> None:
    if value is not None:
        _require_text(name, value)


def _require_aware(name: str, value: object) -> None:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise InvalidAuditEntryError(f"{name} must be a timezone-aware datetime, got {value!r}")
