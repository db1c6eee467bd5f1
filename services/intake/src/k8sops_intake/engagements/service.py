"""Engagement and cluster use cases: each runs inside the caller's unit of work and writes the
`engagement.changed` event and the audit event of its change in that same transaction."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from k8sops_common.audit import audit_event
from k8sops_common.auth import Principal
from k8sops_common.bus import Outbox
from k8sops_common.events.catalog import AuditTargetV1, ClusterV1, EngagementChangedV1, MaintenanceWindowV1
from k8sops_common.events.envelope import utc_now

from ..auth import ensure_engagement_in_token, ensure_visible, found
from ..domain.engagements import (
    PairCandidate,
    becomes_prod_while_staging,
    cluster_admin_refusal,
    pairing_refusal,
    tier_change_refusal,
)
from ..domain.holiday_calendar import HolidayCalendarError, holiday_dates
from ..kit import Created, fingerprint_of, problem, replayed_id
from . import repository
from .repository import ClusterRecord, EngagementRecord
from .schemas import ClusterCreate, ClusterOut, ClusterUpdate, EngagementCreate, EngagementOut, EngagementUpdate


def _engagement_out(row: EngagementRecord, cluster_rows: list[ClusterRecord]) -> EngagementOut:
    clusters = [ClusterOut.model_validate(cluster) for cluster in cluster_rows]
    return EngagementOut.model_validate({**row, "clusters": clusters})


async def _engagement_view(session: AsyncSession, engagement_id: str) -> EngagementOut:
    row = await repository.get_engagement(session, engagement_id)
    assert row is not None
    return _engagement_out(row, await repository.clusters_of(session, [engagement_id]))


async def visible_engagement(
    session: AsyncSession, principal: Principal, engagement_id: str, *, for_update: bool = False
) -> EngagementRecord:
    """The engagement if the caller may read it, else 404."""
    row = await repository.get_engagement(session, engagement_id, readable_by=principal, for_update=for_update)
    return found(row, "engagement", engagement_id)


async def ensure_engagement_and_cluster(session: AsyncSession, engagement_id: str, cluster_id: str | None) -> None:
    """For bodies that name an engagement (and a cluster of it): both must exist, else 422."""
    if await repository.get_engagement(session, engagement_id) is None:
        raise problem(
            422,
            "Unknown engagement",
            f"Engagement {engagement_id!r} is not set up yet; its provider senior creates it first.",
            "unknown-engagement",
        )
    if (
        cluster_id is not None
        and await repository.get_cluster(session, cluster_id, engagement_id=engagement_id) is None
    ):
        raise problem(
            422,
            "Unknown cluster",
            f"Engagement {engagement_id!r} has no cluster {cluster_id!r}; list its clusters with "
            f"GET /v1/engagements/{engagement_id}.",
            "unknown-cluster",
        )


async def _engagement_changed(
    session: AsyncSession, engagement_id: str, change: str
) -> tuple[EngagementOut, EngagementChangedV1]:
    """The engagement as clients see it now, and its `engagement.changed` event with the whole of it
    (the caller writes it with its audit event in one `Outbox.add_all`).

    Each cluster travels with its credentials reference (where the secret store keeps its token), so
    the upgrade-runner can fetch the token itself; the reference is not a secret and no token ever
    leaves the secret store. Clients never see the reference (`ClusterOut` leaves it out)."""
    row = await repository.get_engagement(session, engagement_id)
    assert row is not None
    cluster_rows = await repository.clusters_of(session, [engagement_id])
    view = _engagement_out(row, cluster_rows)
    references = {cluster["id"]: cluster["credentials_ref"] for cluster in cluster_rows}
    window = view.maintenance_window
    event = EngagementChangedV1(
        engagement_id=view.id,
        change=cast(Any, change),
        name=view.name,
        tier=view.tier,
        timezone=view.timezone,
        working_days=view.working_days,
        holiday_country=view.holiday_country,
        extra_holidays=view.extra_holidays,
        official_holidays=view.official_holidays,
        maintenance_window=MaintenanceWindowV1(**window.model_dump()) if window else None,
        on_call=view.on_call,
        cluster_admin=view.cluster_admin,
        clusters=[
            ClusterV1(
                cluster_id=cluster.id,
                name=cluster.name,
                environment=cluster.environment,
                paired_cluster_id=cluster.paired_cluster_id,
                api_endpoint=cluster.api_endpoint,
                credentials_ref=references[cluster.id],
                size_band=cluster.size_band,
                workload_band=cluster.workload_band,
                monthly_retainer_bdt=cluster.monthly_retainer_bdt,
            )
            for cluster in view.clusters
        ],
        changed_at=view.updated_at,
    )
    return view, event


def _engagement_columns(values: Mapping[str, Any]) -> dict[str, Any]:
    """JSON columns hold plain JSON: dates as ISO strings, the window as an object."""
    columns = dict(values)
    if "extra_holidays" in columns:
        columns["extra_holidays"] = [day.isoformat() for day in columns["extra_holidays"]]
    if columns.get("maintenance_window") is not None:
        window = columns["maintenance_window"]
        columns["maintenance_window"] = window.model_dump() if isinstance(window, BaseModel) else window
    return columns


async def create_engagement(
    session: AsyncSession, outbox: Outbox, principal: Principal, body: EngagementCreate, idempotency_key: str | None
) -> Created[EngagementOut]:
    ensure_engagement_in_token(principal, body.id)
    replayed = await replayed_id(
        session, principal, "engagement.create", idempotency_key, fingerprint_of(body), body.id
    )
    if replayed is not None:
        return Created(await _engagement_view(session, replayed), is_new=False)
    now = utc_now()
    values = _engagement_columns(
        {**body.model_dump(exclude={"maintenance_window"}), "maintenance_window": body.maintenance_window}
    )
    if not await repository.add_engagement(
        session, {**values, "created_by": principal.sub, "created_at": now, "updated_at": now}
    ):
        raise problem(
            409, "Engagement exists", f"Engagement {body.id!r} exists already; change it with PATCH.", "conflict"
        )
    view, event = await _engagement_changed(session, body.id, "created")
    audit = audit_event(
        outbox,
        actor=principal,
        action="engagement.create",
        target=AuditTargetV1(kind="Engagement", name=body.id),
        engagement_id=body.id,
        details={"tier": body.tier},
    )
    await outbox.add_all(session, [event, audit])
    return Created(view, is_new=True)


async def get_engagement(session: AsyncSession, principal: Principal, engagement_id: str) -> EngagementOut:
    row = await visible_engagement(session, principal, engagement_id)
    return _engagement_out(row, await repository.clusters_of(session, [engagement_id]))


async def list_engagements(session: AsyncSession, principal: Principal) -> list[EngagementOut]:
    rows = await repository.list_engagements(session, principal)
    cluster_rows = await repository.clusters_of(session, [row["id"] for row in rows])
    return [_engagement_out(row, [c for c in cluster_rows if c["engagement_id"] == row["id"]]) for row in rows]


async def update_engagement(
    session: AsyncSession, outbox: Outbox, principal: Principal, engagement_id: str, body: EngagementUpdate
) -> EngagementOut:
    current = await visible_engagement(session, principal, engagement_id, for_update=True)
    changes = body.model_dump(exclude_unset=True)
    tier = changes.get("tier", current["tier"])
    refusal = tier_change_refusal(current["tier"], tier, principal.is_provider)
    if refusal:
        raise problem(403, "Tier is contractual", refusal, "tier-is-contractual")
    refusal = cluster_admin_refusal(tier, changes.get("cluster_admin", current["cluster_admin"]))
    if refusal:
        raise problem(422, "No cluster admin on this tier", refusal, "invalid-request")
    if not changes:
        return await _engagement_view(session, engagement_id)
    if "maintenance_window" in changes:
        changes["maintenance_window"] = body.maintenance_window
    await repository.update_engagement(
        session, engagement_id, {**_engagement_columns(changes), "updated_at": utc_now()}
    )
    view, event = await _engagement_changed(session, engagement_id, "updated")
    audit = audit_event(
        outbox,
        actor=principal,
        action="engagement.update",
        target=AuditTargetV1(kind="Engagement", name=engagement_id),
        engagement_id=engagement_id,
        details={"fields": ",".join(sorted(changes))},
    )
    await outbox.add_all(session, [event, audit])
    return view


async def upload_holiday_calendar(
    session: AsyncSession, outbox: Outbox, principal: Principal, engagement_id: str, ics: bytes
) -> EngagementOut:
    """Replaces the engagement's official holidays with the dates of an uploaded .ics file."""
    await visible_engagement(session, principal, engagement_id, for_update=True)
    try:
        dates = holiday_dates(ics)
    except HolidayCalendarError as error:
        raise problem(422, "Unusable holiday calendar", str(error), "invalid-holiday-calendar") from None
    listed = [day.isoformat() for day in dates]
    await repository.update_engagement(session, engagement_id, {"official_holidays": listed, "updated_at": utc_now()})
    view, event = await _engagement_changed(session, engagement_id, "updated")
    audit = audit_event(
        outbox,
        actor=principal,
        action="engagement.holiday_calendar.upload",
        target=AuditTargetV1(kind="Engagement", name=engagement_id),
        engagement_id=engagement_id,
        details={"dates": ",".join(listed), "count": len(listed)},
    )
    await outbox.add_all(session, [event, audit])
    return view


async def _check_pairing(
    session: AsyncSession, engagement_id: str, cluster_id: str, environment: str, paired_cluster_id: str | None
) -> None:
    pair = None
    if paired_cluster_id is not None and environment == "prod":
        stored = await repository.get_cluster(session, paired_cluster_id)
        if stored is not None:
            pair = PairCandidate(stored["id"], stored["engagement_id"], stored["environment"])
    refusal = pairing_refusal(engagement_id, cluster_id, environment, paired_cluster_id, pair)
    if refusal:
        raise problem(422, "Invalid pairing", refusal, "invalid-pairing")


async def _cluster_changed(
    session: AsyncSession, outbox: Outbox, principal: Principal, engagement_id: str, cluster_id: str, action: str
) -> None:
    await repository.update_engagement(session, engagement_id, {"updated_at": utc_now()})
    _, event = await _engagement_changed(session, engagement_id, "updated")
    audit = audit_event(
        outbox,
        actor=principal,
        action=action,
        target=AuditTargetV1(kind="Cluster", name=cluster_id, cluster=cluster_id),
        engagement_id=engagement_id,
    )
    await outbox.add_all(session, [event, audit])


async def add_cluster(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    engagement_id: str,
    body: ClusterCreate,
    idempotency_key: str | None,
) -> Created[ClusterOut]:
    await visible_engagement(session, principal, engagement_id, for_update=True)
    fingerprint = fingerprint_of(body, engagement_id)
    replayed = await replayed_id(session, principal, "cluster.create", idempotency_key, fingerprint, body.id)
    if replayed is not None:
        existing = await repository.get_cluster(session, replayed)
        if existing is None:
            raise problem(
                409,
                "Created resource is gone",
                f"This Idempotency-Key created cluster {replayed!r}, which was removed since; use a new key.",
                "idempotency-resource-gone",
            )
        return Created(ClusterOut.model_validate(existing), is_new=False)
    await _check_pairing(session, engagement_id, body.id, body.environment, body.paired_cluster_id)
    now = utc_now()
    values = {**body.model_dump(), "engagement_id": engagement_id, "created_at": now, "updated_at": now}
    if not await repository.add_cluster(session, values):
        raise problem(409, "Cluster exists", f"Cluster id {body.id!r} is taken; choose another id.", "conflict")
    await _cluster_changed(session, outbox, principal, engagement_id, body.id, "cluster.create")
    return Created(ClusterOut.model_validate(values), is_new=True)


async def _visible_cluster(
    session: AsyncSession, principal: Principal, engagement_id: str, cluster_id: str
) -> ClusterRecord:
    await visible_engagement(session, principal, engagement_id, for_update=True)
    return found(await repository.get_cluster(session, cluster_id, engagement_id=engagement_id), "cluster", cluster_id)


async def get_cluster(session: AsyncSession, principal: Principal, engagement_id: str, cluster_id: str) -> ClusterOut:
    ensure_visible(principal, engagement_id, "engagement", engagement_id)
    cluster = await repository.get_cluster(session, cluster_id, engagement_id=engagement_id)
    return ClusterOut.model_validate(found(cluster, "cluster", cluster_id))


async def update_cluster(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    engagement_id: str,
    cluster_id: str,
    body: ClusterUpdate,
) -> ClusterOut:
    current = await _visible_cluster(session, principal, engagement_id, cluster_id)
    changes = body.model_dump(exclude_unset=True)
    merged = {**current, **changes}
    if current["environment"] == "non-prod" and merged["environment"] == "prod":
        staged_by = await repository.clusters_paired_with(session, cluster_id)
        if becomes_prod_while_staging(current["environment"], merged["environment"], staged_by):
            raise problem(
                409, "Cluster is a staging pair", "Unpair the prod cluster that stages here first.", "invalid-pairing"
            )
    await _check_pairing(session, engagement_id, cluster_id, merged["environment"], merged["paired_cluster_id"])
    if changes:
        await repository.update_cluster(session, cluster_id, {**changes, "updated_at": utc_now()})
        await _cluster_changed(session, outbox, principal, engagement_id, cluster_id, "cluster.update")
    updated = await repository.get_cluster(session, cluster_id)
    assert updated is not None
    return ClusterOut.model_validate(updated)


async def remove_cluster(
    session: AsyncSession, outbox: Outbox, principal: Principal, engagement_id: str, cluster_id: str
) -> None:
    await _visible_cluster(session, principal, engagement_id, cluster_id)
    staged_by = await repository.clusters_paired_with(session, cluster_id)
    if staged_by:
        raise problem(
            409,
            "Cluster is a staging pair",
            f"Cluster {cluster_id!r} stages upgrades for {', '.join(staged_by)}; unpair those first.",
            "invalid-pairing",
        )
    await repository.delete_cluster(session, cluster_id)
    await _cluster_changed(session, outbox, principal, engagement_id, cluster_id, "cluster.delete")
