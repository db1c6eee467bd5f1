"""The incident timeline and the post-incident report draft, pure: entries in, order and Markdown out."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

Source = Literal["intake", "audit"]

# The contractual wall-clock first-response targets (SPEC section 3); the rest are business hours.
WALL_CLOCK_TARGETS: dict[tuple[str, str], timedelta] = {
    ("k8s-247", "P1"): timedelta(minutes=30),
    ("k8s-247", "P2"): timedelta(hours=2),
    ("k8s-247-cluster-admin", "P1"): timedelta(minutes=15),
    ("k8s-247-cluster-admin", "P2"): timedelta(hours=1),
}


@dataclass(frozen=True)
class Entry:
    at: datetime
    kind: str
    actor: str
    summary: str
    source: Source = "intake"
    details: Mapping[str, Any] = field(default_factory=dict)


def ordered(entries: Iterable[Entry]) -> list[Entry]:
    """By time; at the same instant intake's own record comes before what the audit trail adds."""
    return sorted(entries, key=lambda entry: (entry.at, entry.source != "intake"))


def audit_entry(row: Mapping[str, Any], linked_by: str) -> Entry:
    """One audit trail entry (the audit API's shape) as a timeline entry."""
    target = row["target_kind"] + "/" + (f"{row['target_namespace']}/" if row.get("target_namespace") else "")
    where = f" in {row['target_cluster']}" if row.get("target_cluster") else ""
    summary = f"{row['action']} {target}{row['target_name']}{where}: {row['outcome']}"
    return Entry(
        at=datetime.fromisoformat(row["occurred_at"]) if isinstance(row["occurred_at"], str) else row["occurred_at"],
        kind=f"audit.{row['action']}",
        actor=row["actor_sub"],
        summary=summary,
        source="audit",
        details={
            "source_service": row["source_service"],
            "linked_by": linked_by,
            "authorization_ref": row.get("authorization_ref"),
            "trace_id": row.get("trace_id"),
        },
    )


def link_of(row: Mapping[str, Any], request_id: str, trace_ids: set[str], cluster_id: str | None) -> str | None:
    """Why an audit entry belongs on this request's timeline, or None. Intake's own entries are
    already on it from intake's record."""
    if row["source_service"] == "intake":
        return None
    details = row.get("details") or {}
    if details.get("request_id") == request_id or row["target_name"] == request_id:
        return "request"
    if row.get("trace_id") and row["trace_id"] in trace_ids:
        return "trace"
    if cluster_id is not None and row.get("target_cluster") == cluster_id:
        return "cluster-during-incident"
    return None


def linked_entries(
    rows: Iterable[Mapping[str, Any]], request_id: str, trace_ids: set[str], cluster_id: str | None
) -> list[Entry]:
    """The audit trail entries that belong on the request's timeline, as timeline entries."""
    linked: list[Entry] = []
    for row in rows:
        reason = link_of(row, request_id, trace_ids, cluster_id)
        if reason is not None:
            linked.append(audit_entry(row, reason))
    return linked


def audit_note(unavailable: str | None) -> str | None:
    return f"Cluster actions may be missing: {unavailable}." if unavailable else None


def _minutes(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 60:.0f} min"


def response_line(request: Mapping[str, Any], tier: str) -> str:
    opened, acknowledged = request["opened_at"], request["acknowledged_at"]
    target = WALL_CLOCK_TARGETS.get((tier, request["priority"]))
    goal = f"target {_minutes(target)} wall clock" if target else "target 4 business hours"
    if acknowledged is None:
        return f"Not acknowledged ({tier} {request['priority']}: {goal})."
    taken = acknowledged - opened
    verdict = ""
    if target is not None:
        verdict = "; within the SLA" if taken <= target else "; SLA missed"
    if request.get("sla_breached_at") is not None:
        verdict = f"; SLA breached at {request['sla_breached_at'].isoformat()}"
    who = request["acknowledged_by"]
    return f"Acknowledged by {who} after {_minutes(taken)} ({tier} {request['priority']}: {goal}{verdict})."


def render_report(request: Mapping[str, Any], tier: str, entries: Sequence[Entry], audit_note: str | None) -> str:
    """The post-incident report draft in Markdown: detection, response, actions, resolution."""
    resolved = [entry for entry in entries if entry.kind == "request.status_changed" and "→ resolved" in entry.summary]
    actions = [entry for entry in entries if entry.source == "audit"]
    pages = [entry for entry in entries if entry.kind.startswith("page.")]
    lines = [
        f"# Post-incident report (draft): {request['title']}",
        "",
        f"- Request: {request['id']} ({request['priority']} {request['category']}), engagement "
        f"{request['engagement_id']}" + (f", cluster {request['cluster_id']}" if request["cluster_id"] else ""),
        "",
        "## Detection",
        f"Opened {request['opened_at'].isoformat()} by {request['opened_by']}.",
        "",
        "## Response",
        response_line(request, tier),
        *[f"- {entry.at.isoformat()} {entry.summary}" for entry in pages],
        "",
        "## Actions in the cluster",
        *([f"- {entry.at.isoformat()} {entry.actor}: {entry.summary}" for entry in actions] or ["None recorded."]),
        *([f"_{audit_note}_"] if audit_note else []),
        "",
        "## Resolution",
        *([f"Resolved {entry.at.isoformat()} by {entry.actor}." for entry in resolved[-1:]] or ["Not resolved yet."]),
        "",
        "## Timeline",
        *[f"- {entry.at.isoformat()} [{entry.source}] {entry.actor}: {entry.summary}" for entry in entries],
        "",
    ]
    return "\n".join(lines)
