"""The platform's long-running operations and its errors: what an API call starts and a client
polls, or waits on (`POST /v1/operations/{id}/wait`, like GCE's `zoneOperations.wait`)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .store import iso


def precise_now() -> str:
    """RFC 3339 with microseconds, as real platforms give an operation's start and end times."""
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class PlatformError(Exception):
    """A refused request, reported as problem+json."""

    def __init__(self, status: int, kind: str, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.kind, self.title, self.detail = status, kind, title, detail


class OperationFailed(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass
class Operation:
    id: str
    type: str
    cluster: str
    target: str
    node_pool: str | None = None
    node: str | None = None
    status: str = "PENDING"  # PENDING, RUNNING, DONE, FAILED
    created_at: str = field(default_factory=lambda: iso(datetime.now(UTC)))
    updated_at: str = field(default_factory=lambda: iso(datetime.now(UTC)))
    progress: dict[str, int] = field(default_factory=dict)
    steps: list[dict[str, str]] = field(default_factory=list)
    error: dict[str, str] | None = None
    # Sub-second: when the platform accepted the request and when it finished it, so a client can
    # tell the platform's own time from its own (created_at/updated_at keep whole seconds).
    started_at: str = field(default_factory=precise_now)
    ended_at: str | None = None
    finished: asyncio.Event = field(default_factory=asyncio.Event, repr=False, compare=False)

    def step(self, message: str) -> None:
        now = iso(datetime.now(UTC))
        self.steps.append({"at": now, "message": message})
        self.updated_at = now

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "cluster": self.cluster,
            "target_version": self.target,
            "node_pool": self.node_pool,
            "node": self.node,
            "status": self.status,
            "done": self.status in ("DONE", "FAILED"),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "progress": self.progress,
            "steps": self.steps,
            "error": self.error,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
        }

    def finish(self, status: str) -> None:
        self.status = status
        self.ended_at = precise_now()
        self.updated_at = iso(datetime.now(UTC))
        self.finished.set()
