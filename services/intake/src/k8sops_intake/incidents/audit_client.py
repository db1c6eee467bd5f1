"""Reads the audit trail's public query API (`GET /v1/audit/entries`) for a request's timeline.

Services exchange events over Kafka; reading another service's query API for display is the one
exception. An API caller's timeline is read with the caller's own bearer token, so the audit
service applies its own scoping; the report drafted after resolution, which has no caller, with
intake's service credential (`service_authorization`). Never called inside a database transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from k8sops_common.auth import Role
from k8sops_common.auth.tokens import mint_token
from k8sops_common.events.envelope import utc_now
from k8sops_common.settings import ServiceSettings

from ..requests.repository import RequestRecord
from .settings import IncidentSettings

SERVICE_SUBJECT = "service:intake"
# Entries a little before the opening (what caused it) and after now (clock skew between services).
AUDIT_MARGIN = timedelta(minutes=1)


@dataclass(frozen=True)
class AuditRead:
    entries: list[dict[str, Any]]
    unavailable: str | None  # why the audit trail could not be read, or None


def service_authorization(settings: ServiceSettings, engagement_id: str, ttl_s: int) -> str | None:
    """Intake's own bearer token for reading one engagement's audit trail: signed with the
    platform's JWT configuration, the read-only viewer role, that one engagement, short-lived, so
    the audit service scopes it like any reader. None when tokens come from an identity provider
    (RS256), whose key intake does not hold. The token is never logged."""
    if settings.jwt_algorithm != "HS256":
        return None
    token = mint_token(
        settings.jwt_secret,
        sub=SERVICE_SUBJECT,
        roles=[Role.VIEWER.value],
        engagements=[engagement_id],
        ttl_s=ttl_s,
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
    )
    return f"Bearer {token}"


async def entries_of_request(
    settings: IncidentSettings, authorization: str | None, request: RequestRecord
) -> AuditRead:
    """The engagement's entries from the request's opening until now, or why they are missing."""
    if authorization is None:
        return AuditRead([], "intake holds no credential for the audit trail (tokens come from an identity provider)")
    since, until = request["opened_at"] - AUDIT_MARGIN, utc_now() + AUDIT_MARGIN
    return await entries_between(settings, authorization, request["engagement_id"], since, until)


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
