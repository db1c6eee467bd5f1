"""Reads the audit trail's public query API (`GET /v1/audit/entries`) for a request's timeline.

Services exchange events over Kafka; reading another service's query API for display is the one
exception, made with the caller's own bearer token so the audit service applies its own scoping.
Never called inside a database transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from .settings import IncidentSettings


@dataclass(frozen=True)
class AuditRead:
    entries: list[dict[str, Any]]
    unavailable: str | None  # why the audit trail could not be read, or None


async def entries_between(
    settings: IncidentSettings, authorization: str, engagement_id: str, since: datetime, until: datetime
) -> AuditRead:
    params: dict[str, str] = {
        "engagement_id": engagement_id,
        "since": since.isoformat(),
        "until": until.isoformat(),
        "limit": "1000",
    }
    entries: list[dict[str, Any]] = []
    url = settings.audit_url.rstrip("/") + "/v1/audit/entries"
    try:
        async with httpx.AsyncClient(timeout=settings.audit_timeout_s) as client:
            for _ in range(settings.audit_max_pages):
                response = await client.get(url, params=params, headers={"Authorization": authorization})
                if response.status_code != 200:
                    return AuditRead(entries, f"the audit service answered HTTP {response.status_code}")
                page = response.json()
                entries += page["items"]
                if not page.get("next_cursor"):
                    return AuditRead(entries, None)
                params["cursor"] = page["next_cursor"]
    except (httpx.HTTPError, ValueError, KeyError) as error:
        return AuditRead(entries, f"the audit service at {settings.audit_url} is unreachable ({type(error).__name__})")
    return AuditRead(entries, f"more than {settings.audit_max_pages * 1000} audit entries; the first ones are shown")
