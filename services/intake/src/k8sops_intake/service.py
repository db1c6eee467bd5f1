"""Intake's use cases: each runs inside the caller's unit of work and records what it changed
(outbox event, audit event, outbound webhook deliveries) in that same transaction."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeAlias, TypeVar, cast

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from k8sops_common.audit import SYSTEM_ACTOR, record_audit
from k8sops_common.auth import Principal
from k8sops_common.bus import Outbox
from k8sops_common.errors import ProblemError
from k8sops_common.events.catalog import (
    ActorV1,
    AuditTargetV1,
    ClusterV1,
    EngagementChangedV1,
    MaintenanceWindowV1,
    RequestCategory,
    RequestOpenedV1,
    RequestUpdatedV1,
)
from k8sops_common.events.envelope import utc_now

from . import repository
from .auth import dispute_sides, ensure_engagement_in_token, ensure_visible, not_found, side_of
from .domain.disputes import EntryRefused, WrongSide, check_entry
from .domain.holiday_calendar import HolidayCalendarError, holiday_dates
from .domain.lifecycle import TERMINAL_STATUSES, Action, Side, TransitionRefused, next_status
from .domain.pagination import BadCursor, decode_cursor, encode_cursor
from .domain.scope import ScopeDecision, operator_decline, out_of_scope
from .domain.webhooks import SignatureRejected, new_secret, target_refusal, verify
from .repository import RequestFilter, Row
from .schemas import (
    TIERS_WITH_CLUSTER_ADMIN,
    ClusterCreate,
    ClusterOut,
    ClusterUpdate,
    CommentIn,
    CommentOut,
    DeliveryAttemptOut,
    DeliveryOut,
    DisputeCreate,
    DisputeEntryIn,
    DisputeEntryOut,
    DisputeOut,
    EngagementCreate,
    EngagementOut,
    EngagementUpdate,
    PartnerCreate,
    PartnerCreated,
    PartnerOut,
    PartnerTicket,
    PartnerTicketEvent,
    PartnerTicketReceipt,
    PriorityChange,
    RequestCreate,
    RequestOut,
    RequestPage,
    ScopeCreepRecord,
    ScopeCreepReport,
    TransitionIn,
    WebhookCreate,
    WebhookCreated,
    WebhookOut,
    WebhookUpdate,
)

T = TypeVar("T")
Actor: TypeAlias = Principal | ActorV1
AUTOMATIC_DECLINER = "intake:scope-rules"


@dataclass(frozen=True)
class Created(Generic[T]):
    value: T
    is_new: bool


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:20]}"


def fingerprint_of(body: BaseModel, *scope: str) -> str:
    """What a replay must match: the body and the path it was sent to."""
    return hashlib.sha256("\n".join([*scope, body.model_dump_json()]).encode()).hexdigest()


def _actor_sub(actor: Actor) -> str:
    return actor.sub


def _problem(status: int, title: str, detail: str, problem_type: str, **extensions: Any) -> ProblemError:
    return ProblemError(status, title, detail, problem_type=problem_type, **extensions)


async def _replayed_id(
    session: AsyncSession, principal: Principal, operation: str, key: str | None, fingerprint: str, fresh_id: str
) -> str | None:
    """None when this is a first use (go ahead and create `fresh_id`); else the id the key created."""
    if key is None:
        return None
    earlier = await repository.claim_idempotency_key(session, principal.sub, operation, key, fingerprint, fresh_id)
    if earlier is None:
        return None
    stored_fingerprint, stored_id = earlier
    if stored_fingerprint != fingerprint:
        raise _problem(
            422,
            "Idempotency key reused",
            "This Idempotency-Key was used with a different body; use a new key for a new request.",
            "idempotency-key-reused",
        )
    return stored_id


# --- engagements and clusters -------------------------------------------------------------------


def _cluster_out(row: Row) -> ClusterOut:
    return ClusterOut.model_validate(row)


def _engagement_out(row: Row, cluster_rows: list[Row]) -> EngagementOut:
    return EngagementOut.model_validate({**row, "clusters": [_cluster_out(cluster) for cluster in cluster_rows]})


async def _engagement_view(session: AsyncSession, engagement_id: str) -> EngagementOut:
    row = await repository.get_engagement(session, engagement_id)
    assert row is not None
    return _engagement_out(row, await repository.clusters_of(session, [engagement_id]))


async def _publish_engagement(session: AsyncSession, outbox: Outbox, view: EngagementOut, change: str) -> None:
    """`engagement.changed` with the whole engagement as it is now; credentials never leave the table."""
    window = view.maintenance_window
    await outbox.add(
        session,
        EngagementChangedV1(
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
                    size_band=cluster.size_band,
                    workload_band=cluster.workload_band,
                    monthly_retainer_bdt=cluster.monthly_retainer_bdt,
                )
                for cluster in view.clusters
            ],
            changed_at=view.updated_at,
        ),
    )


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
    replayed = await _replayed_id(
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
        raise _problem(
            409, "Engagement exists", f"Engagement {body.id!r} exists already; change it with PATCH.", "conflict"
        )
    view = await _engagement_view(session, body.id)
    await _publish_engagement(session, outbox, view, "created")
    await record_audit(
        session,
        outbox,
        actor=principal,
        action="engagement.create",
        target=AuditTargetV1(kind="Engagement", name=body.id),
        engagement_id=body.id,
        details={"tier": body.tier},
    )
    return Created(view, is_new=True)


async def get_engagement(session: AsyncSession, principal: Principal, engagement_id: str) -> EngagementOut:
    await _visible_engagement(session, principal, engagement_id)
    return await _engagement_view(session, engagement_id)


async def list_engagements(session: AsyncSession, principal: Principal) -> list[EngagementOut]:
    visible = None if principal.can_see_engagement(None) else principal.engagements
    rows = await repository.list_engagements(session, visible)
    cluster_rows = await repository.clusters_of(session, [row["id"] for row in rows])
    return [_engagement_out(row, [c for c in cluster_rows if c["engagement_id"] == row["id"]]) for row in rows]


async def _visible_engagement(
    session: AsyncSession, principal: Principal, engagement_id: str, *, for_update: bool = False
) -> Row:
    ensure_visible(principal, engagement_id, "engagement", engagement_id)
    row = await repository.get_engagement(session, engagement_id, for_update=for_update)
    if row is None:
        raise not_found("engagement", engagement_id)
    return row


async def update_engagement(
    session: AsyncSession, outbox: Outbox, principal: Principal, engagement_id: str, body: EngagementUpdate
) -> EngagementOut:
    current = await _visible_engagement(session, principal, engagement_id, for_update=True)
    changes = body.model_dump(exclude_unset=True)
    if "tier" in changes and changes["tier"] != current["tier"] and not principal.is_provider:
        raise _problem(
            403,
            "Tier is contractual",
            "The tier is part of the contract; ask your provider's senior to change it.",
            "tier-is-contractual",
        )
    tier = changes.get("tier", current["tier"])
    cluster_admin = changes.get("cluster_admin", current["cluster_admin"])
    if cluster_admin is not None and tier not in TIERS_WITH_CLUSTER_ADMIN:
        raise _problem(
            422,
            "No cluster admin on this tier",
            f"Tier {tier} has no named cluster admin; send cluster_admin: null or choose k8s-247-cluster-admin.",
            "invalid-request",
        )
    if changes:
        if "maintenance_window" in changes:
            changes["maintenance_window"] = body.maintenance_window
        await repository.update_engagement(
            session, engagement_id, {**_engagement_columns(changes), "updated_at": utc_now()}
        )
    view = await _engagement_view(session, engagement_id)
    if changes:
        await _publish_engagement(session, outbox, view, "updated")
        await record_audit(
            session,
            outbox,
            actor=principal,
            action="engagement.update",
            target=AuditTargetV1(kind="Engagement", name=engagement_id),
            engagement_id=engagement_id,
            details={"fields": ",".join(sorted(changes))},
        )
    return view


async def upload_holiday_calendar(
    session: AsyncSession, outbox: Outbox, principal: Principal, engagement_id: str, ics: bytes
) -> EngagementOut:
    """Replaces the engagement's official holidays with the dates of an uploaded .ics file."""
    await _visible_engagement(session, principal, engagement_id, for_update=True)
    try:
        dates = holiday_dates(ics)
    except HolidayCalendarError as error:
        raise _problem(422, "Unusable holiday calendar", str(error), "invalid-holiday-calendar") from None
    listed = [day.isoformat() for day in dates]
    await repository.update_engagement(session, engagement_id, {"official_holidays": listed, "updated_at": utc_now()})
    view = await _engagement_view(session, engagement_id)
    await _publish_engagement(session, outbox, view, "updated")
    await record_audit(
        session,
        outbox,
        actor=principal,
        action="engagement.holiday_calendar.upload",
        target=AuditTargetV1(kind="Engagement", name=engagement_id),
        engagement_id=engagement_id,
        details={"dates": ",".join(listed), "count": len(listed)},
    )
    return view


async def _check_pairing(
    session: AsyncSession, engagement_id: str, cluster_id: str, environment: str, paired_cluster_id: str | None
) -> None:
    if paired_cluster_id is None:
        return
    if environment != "prod":
        raise _problem(
            422, "Invalid pairing", "Only a prod cluster names a paired non-prod cluster.", "invalid-pairing"
        )
    pair = await repository.get_cluster(session, paired_cluster_id)
    if pair is None or pair.get("engagement_id") != engagement_id or pair["id"] == cluster_id:
        raise _problem(
            422,
            "Invalid pairing",
            f"paired_cluster_id {paired_cluster_id!r} is not another cluster of engagement {engagement_id!r}; "
            "add the non-prod cluster first.",
            "invalid-pairing",
        )
    if pair["environment"] != "non-prod":
        raise _problem(422, "Invalid pairing", f"Cluster {paired_cluster_id!r} is not non-prod.", "invalid-pairing")


async def _cluster_changed(
    session: AsyncSession, outbox: Outbox, principal: Principal, engagement_id: str, cluster_id: str, action: str
) -> None:
    await repository.update_engagement(session, engagement_id, {"updated_at": utc_now()})
    await _publish_engagement(session, outbox, await _engagement_view(session, engagement_id), "updated")
    await record_audit(
        session,
        outbox,
        actor=principal,
        action=action,
        target=AuditTargetV1(kind="Cluster", name=cluster_id, cluster=cluster_id),
        engagement_id=engagement_id,
    )


async def add_cluster(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    engagement_id: str,
    body: ClusterCreate,
    idempotency_key: str | None,
) -> Created[ClusterOut]:
    await _visible_engagement(session, principal, engagement_id, for_update=True)
    fingerprint = fingerprint_of(body, engagement_id)
    replayed = await _replayed_id(session, principal, "cluster.create", idempotency_key, fingerprint, body.id)
    if replayed is not None:
        existing = await repository.get_cluster(session, replayed)
        if existing is None:
            raise _problem(
                409,
                "Created resource is gone",
                f"This Idempotency-Key created cluster {replayed!r}, which was removed since; use a new key.",
                "idempotency-resource-gone",
            )
        return Created(_cluster_out(existing), is_new=False)
    await _check_pairing(session, engagement_id, body.id, body.environment, body.paired_cluster_id)
    now = utc_now()
    values = {**body.model_dump(), "engagement_id": engagement_id, "created_at": now, "updated_at": now}
    if not await repository.add_cluster(session, values):
        raise _problem(409, "Cluster exists", f"Cluster id {body.id!r} is taken; choose another id.", "conflict")
    await _cluster_changed(session, outbox, principal, engagement_id, body.id, "cluster.create")
    return Created(_cluster_out(values), is_new=True)


async def _visible_cluster(session: AsyncSession, principal: Principal, engagement_id: str, cluster_id: str) -> Row:
    await _visible_engagement(session, principal, engagement_id, for_update=True)
    cluster = await repository.get_cluster(session, cluster_id)
    if cluster is None or cluster["engagement_id"] != engagement_id:
        raise not_found("cluster", cluster_id)
    return cluster


async def get_cluster(session: AsyncSession, principal: Principal, engagement_id: str, cluster_id: str) -> ClusterOut:
    ensure_visible(principal, engagement_id, "engagement", engagement_id)
    cluster = await repository.get_cluster(session, cluster_id)
    if cluster is None or cluster["engagement_id"] != engagement_id:
        raise not_found("cluster", cluster_id)
    return _cluster_out(cluster)


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
        if await repository.clusters_paired_with(session, cluster_id):
            raise _problem(
                409, "Cluster is a staging pair", "Unpair the prod cluster that stages here first.", "invalid-pairing"
            )
    await _check_pairing(session, engagement_id, cluster_id, merged["environment"], merged["paired_cluster_id"])
    if changes:
        await repository.update_cluster(session, cluster_id, {**changes, "updated_at": utc_now()})
        await _cluster_changed(session, outbox, principal, engagement_id, cluster_id, "cluster.update")
    updated = await repository.get_cluster(session, cluster_id)
    assert updated is not None
    return _cluster_out(updated)


async def remove_cluster(
    session: AsyncSession, outbox: Outbox, principal: Principal, engagement_id: str, cluster_id: str
) -> None:
    await _visible_cluster(session, principal, engagement_id, cluster_id)
    staged_by = await repository.clusters_paired_with(session, cluster_id)
    if staged_by:
        raise _problem(
            409,
            "Cluster is a staging pair",
            f"Cluster {cluster_id!r} stages upgrades for {', '.join(staged_by)}; unpair those first.",
            "invalid-pairing",
        )
    await repository.delete_cluster(session, cluster_id)
    await _cluster_changed(session, outbox, principal, engagement_id, cluster_id, "cluster.delete")


# --- requests ------------------------------------------------------------------------------------


async def notify_subscribers(session: AsyncSession, engagement_id: str, event_type: str, data: dict[str, Any]) -> None:
    """Queues one signed delivery per endpoint of the engagement that asked for this event type."""
    endpoint_ids = await repository.subscribed_endpoint_ids(session, engagement_id, event_type)
    if not endpoint_ids:
        return
    now = utc_now()
    payload = json.dumps({"type": event_type, "timestamp": now.isoformat(), "data": data}, separators=(",", ":"))
    await repository.add_deliveries(
        session,
        [
            {
                "endpoint_id": endpoint_id,
                "message_id": f"msg_{uuid.uuid4().hex}",
                "event_type": event_type,
                "payload": payload,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for endpoint_id in endpoint_ids
        ],
    )


async def _checked_engagement_and_cluster(session: AsyncSession, engagement_id: str, cluster_id: str | None) -> None:
    if await repository.get_engagement(session, engagement_id) is None:
        raise _problem(
            422,
            "Unknown engagement",
            f"Engagement {engagement_id!r} is not set up yet; its provider senior creates it first.",
            "unknown-engagement",
        )
    if cluster_id is not None:
        cluster = await repository.get_cluster(session, cluster_id)
        if cluster is None or cluster["engagement_id"] != engagement_id:
            raise _problem(
                422,
                "Unknown cluster",
                f"Engagement {engagement_id!r} has no cluster {cluster_id!r}; list its clusters with "
                f"GET /v1/engagements/{engagement_id}.",
                "unknown-cluster",
            )


async def _record_scope_creep(
    session: AsyncSession, engagement_id: str, request_id: str, decision: ScopeDecision, declined_by: str
) -> None:
    await repository.add_scope_creep(
        session,
        {
            "engagement_id": engagement_id,
            "request_id": request_id,
            "kind": decision.kind,
            "reason": decision.reason,
            "pointer": decision.pointer,
            "declined_by": declined_by,
            "recorded_at": utc_now(),
        },
    )


async def _open(
    session: AsyncSession, outbox: Outbox, actor: Actor, request_id: str, fields: dict[str, Any]
) -> RequestOut:
    """Stores a new request; out-of-scope asks are declined at once and kept as scope creep."""
    decision = out_of_scope(fields["category"], fields["title"], fields["description"])
    opened_at = utc_now()
    values = {
        "id": request_id,
        **fields,
        "status": "declined" if decision else "opened",
        "opened_by": _actor_sub(actor),
        "opened_at": opened_at,
        "updated_at": opened_at,
        "decline_reason": decision.reason if decision else None,
        "decline_pointer": decision.pointer if decision else None,
    }
    await repository.add_request(session, values)
    target = AuditTargetV1(kind="Request", name=request_id, cluster=fields.get("cluster_id"))
    if decision is not None:
        # Nothing to time or work on, so no request.opened; the record shows the gap in coverage.
        await _record_scope_creep(session, fields["engagement_id"], request_id, decision, AUTOMATIC_DECLINER)
        await record_audit(
            session,
            outbox,
            actor=actor,
            action="request.decline_out_of_scope",
            target=target,
            engagement_id=fields["engagement_id"],
            details={"kind": decision.kind, "automatic": True},
        )
        return RequestOut.model_validate(values)
    event = RequestOpenedV1(
        request_id=request_id,
        engagement_id=fields["engagement_id"],
        cluster_id=fields.get("cluster_id"),
        category=cast(RequestCategory, fields["category"]),
        priority=fields["priority"],
        title=fields["title"],
        opened_at=opened_at,
        opened_by=_actor_sub(actor),
        origin=fields.get("origin", "api"),
    )
    await outbox.add(session, event)
    await record_audit(
        session,
        outbox,
        actor=actor,
        action="request.open",
        target=target,
        engagement_id=fields["engagement_id"],
        details={"category": fields["category"], "priority": fields["priority"]},
    )
    await notify_subscribers(session, fields["engagement_id"], "request.opened", event.model_dump(mode="json"))
    return RequestOut.model_validate(values)


async def open_request(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    body: RequestCreate,
    idempotency_key: str | None,
) -> Created[RequestOut]:
    ensure_engagement_in_token(principal, body.engagement_id)
    request_id = new_id("req")
    replayed = await _replayed_id(session, principal, "request.open", idempotency_key, fingerprint_of(body), request_id)
    if replayed is not None:
        existing = await repository.get_request(session, replayed)
        assert existing is not None  # written in the same transaction as the key
        return Created(RequestOut.model_validate(existing), is_new=False)
    await _checked_engagement_and_cluster(session, body.engagement_id, body.cluster_id)
    return Created(await _open(session, outbox, principal, request_id, body.model_dump()), is_new=True)


async def visible_request(
    session: AsyncSession, principal: Principal, request_id: str, *, for_update: bool = False
) -> Row:
    row = await repository.get_request(session, request_id, for_update=for_update)
    if row is None or not principal.can_see_engagement(row["engagement_id"]):
        raise not_found("request", request_id)
    return row


async def _record_request_change(
    session: AsyncSession,
    outbox: Outbox,
    actor: Actor,
    before: Row,
    after: Row,
    change: str,
    action: str,
    details: dict[str, str | int | bool | None] | None = None,
) -> None:
    event = RequestUpdatedV1(
        request_id=after["id"],
        engagement_id=after["engagement_id"],
        cluster_id=after["cluster_id"],
        change=cast(Any, change),
        status=after["status"],
        previous_status=before["status"] if before["status"] != after["status"] else None,
        priority=after["priority"],
        previous_priority=before["priority"] if before["priority"] != after["priority"] else None,
        changed_at=after["updated_at"],
        changed_by=_actor_sub(actor),
    )
    await outbox.add(session, event)
    await record_audit(
        session,
        outbox,
        actor=actor,
        action=action,
        target=AuditTargetV1(kind="Request", name=after["id"], cluster=after["cluster_id"]),
        engagement_id=after["engagement_id"],
        details=details or {},
    )
    await notify_subscribers(session, after["engagement_id"], "request.updated", event.model_dump(mode="json"))


async def apply_transition(
    session: AsyncSession, outbox: Outbox, actor: Actor, side: Side, row: Row, action: Action, reason: str | None
) -> Row:
    try:
        target = next_status(row["status"], action, side, reason)
    except TransitionRefused as refusal:
        raise _problem(
            409,
            "Transition refused",
            f"Cannot {action.value} request {row['id']}: {refusal}.",
            "transition-refused",
            status_now=row["status"],
        ) from refusal
    values: dict[str, Any] = {"status": target}
    if action is Action.ACKNOWLEDGE:
        values |= {"acknowledged_at": utc_now(), "acknowledged_by": _actor_sub(actor)}
    if action is Action.DECLINE:
        decision = operator_decline(cast(str, reason))
        values |= {"decline_reason": decision.reason, "decline_pointer": decision.pointer}
        await _record_scope_creep(session, row["engagement_id"], row["id"], decision, _actor_sub(actor))
    after = await repository.update_request(session, row["id"], values)
    change = "acknowledged" if action is Action.ACKNOWLEDGE else "status_changed"
    await _record_request_change(
        session, outbox, actor, row, after, change, f"request.{action.value}", {"reason": reason} if reason else None
    )
    return after


async def move_request(
    session: AsyncSession, outbox: Outbox, principal: Principal, request_id: str, body: TransitionIn
) -> RequestOut:
    row = await visible_request(session, principal, request_id, for_update=True)
    after = await apply_transition(session, outbox, principal, side_of(principal), row, body.action, body.reason)
    return RequestOut.model_validate(after)


async def change_priority(
    session: AsyncSession, outbox: Outbox, principal: Principal, request_id: str, body: PriorityChange
) -> RequestOut:
    row = await visible_request(session, principal, request_id, for_update=True)
    if row["status"] in TERMINAL_STATUSES or row["status"] == "resolved":
        raise _problem(
            409,
            "Request settled",
            f"Request {request_id} is {row['status']}; its priority no longer matters.",
            "transition-refused",
            status_now=row["status"],
        )
    if body.priority == row["priority"]:
        return RequestOut.model_validate(row)
    after = await repository.update_request(session, request_id, {"priority": body.priority})
    await _record_request_change(
        session,
        outbox,
        principal,
        row,
        after,
        "priority_changed",
        "request.change_priority",
        {"from": row["priority"], "to": body.priority},
    )
    return RequestOut.model_validate(after)


async def comment_on_request(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    request_id: str,
    body: CommentIn,
    idempotency_key: str | None,
) -> Created[CommentOut]:
    row = await visible_request(session, principal, request_id, for_update=True)
    comment_id = new_id("cmt")
    replayed = await _replayed_id(
        session, principal, "request.comment", idempotency_key, fingerprint_of(body, request_id), comment_id
    )
    if replayed is not None:
        existing = await repository.get_comment(session, replayed)
        assert existing is not None
        return Created(CommentOut.model_validate(existing), is_new=False)
    if row["status"] in TERMINAL_STATUSES:
        raise _problem(
            409,
            "Request is final",
            f"Request {request_id} is {row['status']}; open a new request instead.",
            "request-final",
            status_now=row["status"],
        )
    side = side_of(principal)
    values = {
        "id": comment_id,
        "request_id": request_id,
        "author": principal.sub,
        "side": side.value,
        "body": body.body,
        "created_at": utc_now(),
    }
    await repository.add_comment(session, values)
    after = await repository.update_request(session, request_id, {})
    await _record_request_change(session, outbox, principal, row, after, "commented", "request.comment")
    if side is Side.CUSTOMER and after["status"] == "waiting_on_customer":
        # The customer's comment is the answer the provider waited for.
        await apply_transition(session, outbox, principal, side, after, Action.RESUME, None)
    return Created(CommentOut.model_validate(values), is_new=True)


async def list_comments(session: AsyncSession, principal: Principal, request_id: str) -> list[CommentOut]:
    await visible_request(session, principal, request_id)
    return [CommentOut.model_validate(row) for row in await repository.comments_of(session, request_id)]


async def list_requests(
    session: AsyncSession,
    principal: Principal,
    engagement_id: str | None,
    filters: dict[str, Any],
    cursor: str | None,
    limit: int,
) -> RequestPage:
    if engagement_id is not None:
        ensure_visible(principal, engagement_id, "engagement", engagement_id)
        engagement_ids: set[str] | frozenset[str] | None = {engagement_id}
    else:
        engagement_ids = None if principal.can_see_engagement(None) else principal.engagements
    try:
        after = decode_cursor(cursor) if cursor else None
    except BadCursor as error:
        raise _problem(422, "Invalid cursor", str(error), "invalid-cursor") from error
    rows = await repository.list_requests(session, RequestFilter(engagement_ids, **filters), after, limit + 1)
    items = [RequestOut.model_validate(row) for row in rows[:limit]]
    next_cursor = encode_cursor(items[-1].opened_at, items[-1].id) if len(rows) > limit else None
    return RequestPage(items=items, next_cursor=next_cursor)


async def scope_creep_report(session: AsyncSession, principal: Principal, engagement_id: str) -> ScopeCreepReport:
    await _visible_engagement(session, principal, engagement_id)
    records = [ScopeCreepRecord.model_validate(row) for row in await repository.scope_creep_of(session, engagement_id)]
    return ScopeCreepReport(
        engagement_id=engagement_id,
        total=len(records),
        by_kind=dict(Counter(record.kind for record in records)),
        records=records,
    )


# --- disputes ------------------------------------------------------------------------------------


async def _dispute_view(session: AsyncSession, dispute: Row) -> DisputeOut:
    history = [DisputeEntryOut.model_validate(row) for row in await repository.dispute_history(session, dispute["id"])]
    same_subject = await repository.disputes_on_subject(
        session, dispute["engagement_id"], dispute["subject_kind"], dispute["subject_id"]
    )
    earlier = [
        other["id"]
        for other in same_subject
        if (other["opened_at"], other["id"]) < (dispute["opened_at"], dispute["id"])
    ]
    return DisputeOut.model_validate({**dispute, "history": history, "earlier_disputes": earlier})


async def open_dispute(
    session: AsyncSession, outbox: Outbox, principal: Principal, body: DisputeCreate, idempotency_key: str | None
) -> Created[DisputeOut]:
    ensure_engagement_in_token(principal, body.engagement_id)
    dispute_id = new_id("dsp")
    replayed = await _replayed_id(session, principal, "dispute.open", idempotency_key, fingerprint_of(body), dispute_id)
    if replayed is not None:
        existing = await repository.get_dispute(session, replayed)
        assert existing is not None
        return Created(await _dispute_view(session, existing), is_new=False)
    await _checked_engagement_and_cluster(session, body.engagement_id, None)
    if body.subject_kind == "request":
        request = await repository.get_request(session, body.subject_id)
        if request is None or request["engagement_id"] != body.engagement_id:
            raise _problem(
                422,
                "Unknown request",
                f"Engagement {body.engagement_id!r} has no request {body.subject_id!r}.",
                "unknown-request",
            )
    values = {
        **body.model_dump(),
        "id": dispute_id,
        "status": "open",
        "opened_by": principal.sub,
        "opened_at": utc_now(),
        "decided_at": None,
    }
    await repository.add_dispute(session, values)
    await record_audit(
        session,
        outbox,
        actor=principal,
        action="dispute.open",
        target=AuditTargetV1(kind="Dispute", name=dispute_id),
        engagement_id=body.engagement_id,
        details={"subject_kind": body.subject_kind, "subject_id": body.subject_id},
    )
    return Created(await _dispute_view(session, values), is_new=True)


async def _visible_dispute(
    session: AsyncSession, principal: Principal, dispute_id: str, *, for_update: bool = False
) -> Row:
    dispute = await repository.get_dispute(session, dispute_id, for_update=for_update)
    if dispute is None or not principal.can_see_engagement(dispute["engagement_id"]):
        raise not_found("dispute", dispute_id)
    return dispute


async def get_dispute(session: AsyncSession, principal: Principal, dispute_id: str) -> DisputeOut:
    return await _dispute_view(session, await _visible_dispute(session, principal, dispute_id))


async def add_dispute_entry(
    session: AsyncSession, outbox: Outbox, principal: Principal, dispute_id: str, body: DisputeEntryIn
) -> DisputeOut:
    dispute = await _visible_dispute(session, principal, dispute_id, for_update=True)
    recorded = {entry["kind"] for entry in await repository.dispute_history(session, dispute_id)}
    try:
        check_entry(body.kind, dispute_sides(principal), recorded, dispute["status"] == "decided")
    except EntryRefused as refusal:
        status = 403 if isinstance(refusal, WrongSide) else 409
        raise _problem(
            status, "Entry refused", f"Cannot add {body.kind}: {refusal}.", "dispute-entry-refused"
        ) from refusal
    now = utc_now()
    await repository.add_dispute_entry(
        session,
        {"dispute_id": dispute_id, "kind": body.kind, "text": body.text, "author": principal.sub, "recorded_at": now},
    )
    if body.kind == "decision":
        await repository.set_dispute_decided(session, dispute_id, now)
    await record_audit(
        session,
        outbox,
        actor=principal,
        action=f"dispute.{body.kind}",
        target=AuditTargetV1(kind="Dispute", name=dispute_id),
        engagement_id=dispute["engagement_id"],
    )
    updated = await repository.get_dispute(session, dispute_id)
    assert updated is not None
    return await _dispute_view(session, updated)


# --- partner webhooks, inbound -------------------------------------------------------------------


def _partner_out(row: Row) -> dict[str, Any]:
    return {**row, "webhook_path": f"/v1/partners/{row['id']}/webhooks"}


async def register_partner(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    engagement_id: str,
    body: PartnerCreate,
    idempotency_key: str | None,
) -> Created[PartnerCreated]:
    await _visible_engagement(session, principal, engagement_id)
    replayed = await _replayed_id(
        session, principal, "partner.create", idempotency_key, fingerprint_of(body, engagement_id), body.id
    )
    if replayed is not None:
        existing = await repository.get_partner(session, replayed)
        assert existing is not None
        return Created(PartnerCreated.model_validate(_partner_out(existing)), is_new=False)
    values = {
        **body.model_dump(),
        "engagement_id": engagement_id,
        "secret": new_secret(),
        "created_by": principal.sub,
        "created_at": utc_now(),
    }
    if not await repository.add_partner(session, values):
        raise _problem(409, "Partner exists", f"Partner id {body.id!r} is taken; choose another id.", "conflict")
    await record_audit(
        session,
        outbox,
        actor=principal,
        action="partner.register",
        target=AuditTargetV1(kind="Partner", name=body.id),
        engagement_id=engagement_id,
    )
    return Created(PartnerCreated.model_validate(_partner_out(values)), is_new=True)


async def list_partners(session: AsyncSession, principal: Principal, engagement_id: str) -> list[PartnerOut]:
    await _visible_engagement(session, principal, engagement_id)
    return [
        PartnerOut.model_validate(_partner_out(row)) for row in await repository.partners_of(session, engagement_id)
    ]


def _malformed(detail: str, errors: list[dict[str, Any]] | None = None) -> ProblemError:
    extensions = {"errors": errors} if errors else {}
    return _problem(422, "Malformed webhook body", detail, "webhook-body-malformed", **extensions)


async def receive_partner_webhook(
    session: AsyncSession, outbox: Outbox, partner_id: str, headers: dict[str, str | None], body: bytes, now: datetime
) -> Created[PartnerTicketReceipt]:
    """A signed ticket event becomes or updates a request; any refusal stores nothing."""
    partner = await repository.get_partner(session, partner_id)
    if partner is None:
        raise _problem(404, "Unknown partner", f"No partner {partner_id!r} is registered here.", "unknown-partner")
    try:
        message_id = verify(partner["secret"], headers, body, now)
    except SignatureRejected as rejected:
        raise _problem(401, "Webhook refused", rejected.detail, rejected.problem_type) from rejected
    try:
        event = PartnerTicketEvent.model_validate_json(body)
    except ValidationError as error:
        problems = [{"field": ".".join(map(str, e["loc"])), "message": e["msg"]} for e in error.errors()]
        raise _malformed("The body is not a ticket event this endpoint accepts; see errors.", problems) from error
    if not await repository.claim_partner_message(session, partner_id, message_id):
        raise _problem(
            409,
            "Webhook replayed",
            f"webhook-id {message_id!r} was received before; send each message once.",
            "webhook-replayed",
        )
    engagement_id = partner["engagement_id"]
    ticket = event.ticket
    actor = ActorV1(sub=f"partner:{partner_id}", roles=[])
    request_id = new_id("req")
    mapped = await repository.claim_partner_ticket(session, partner_id, ticket.id, request_id)
    if mapped == request_id:
        if ticket.cluster_id is not None:
            cluster = await repository.get_cluster(session, ticket.cluster_id)
            if cluster is None or cluster["engagement_id"] != engagement_id:
                raise _malformed(f"ticket.cluster_id {ticket.cluster_id!r} is not a cluster of this engagement.")
        fields = {
            "engagement_id": engagement_id,
            "cluster_id": ticket.cluster_id,
            "category": ticket.category,
            "priority": ticket.priority,
            "title": ticket.title,
            "description": ticket.description,
            "origin": "partner",
            "partner_id": partner_id,
            "partner_ticket_id": ticket.id,
        }
        opened = await _open(session, outbox, actor, request_id, fields)
        if ticket.status == "cancelled" and opened.status == "opened":
            row = await repository.get_request(session, request_id, for_update=True)
            assert row is not None
            opened = RequestOut.model_validate(
                await apply_transition(session, outbox, actor, Side.CUSTOMER, row, Action.CANCEL, None)
            )
        return Created(PartnerTicketReceipt(request_id=request_id, created=True, status=opened.status), is_new=True)
    row = await repository.get_request(session, mapped, for_update=True)
    assert row is not None
    row = await _apply_ticket_update(session, outbox, actor, row, ticket)
    return Created(PartnerTicketReceipt(request_id=mapped, created=False, status=row["status"]), is_new=False)


async def _apply_ticket_update(
    session: AsyncSession, outbox: Outbox, actor: ActorV1, row: Row, ticket: PartnerTicket
) -> Row:
    """A redelivered or edited ticket: only what changed is applied, so a redelivery changes nothing."""
    if row["status"] in TERMINAL_STATUSES:
        return row
    if ticket.status == "cancelled":
        return await apply_transition(session, outbox, actor, Side.CUSTOMER, row, Action.CANCEL, None)
    if ticket.priority != row["priority"]:
        after = await repository.update_request(session, row["id"], {"priority": ticket.priority})
        await _record_request_change(
            session,
            outbox,
            actor,
            row,
            after,
            "priority_changed",
            "request.change_priority",
            {"from": row["priority"], "to": ticket.priority},
        )
        return after
    return row


# --- outbound webhooks ---------------------------------------------------------------------------


async def register_webhook(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    engagement_id: str,
    body: WebhookCreate,
    idempotency_key: str | None,
    allow_private_targets: bool,
) -> Created[WebhookCreated]:
    await _visible_engagement(session, principal, engagement_id)
    endpoint_id = new_id("whk")
    replayed = await _replayed_id(
        session, principal, "webhook.create", idempotency_key, fingerprint_of(body, engagement_id), endpoint_id
    )
    if replayed is not None:
        existing = await repository.get_endpoint(session, replayed)
        assert existing is not None
        return Created(WebhookCreated.model_validate(existing), is_new=False)
    refusal = target_refusal(body.url, allow_private_targets)
    if refusal:
        raise _problem(422, "Webhook target refused", f"{body.url}: {refusal}.", "webhook-target-refused")
    values = {
        "id": endpoint_id,
        "engagement_id": engagement_id,
        "url": body.url,
        "event_types": list(body.event_types),
        "secret": new_secret(),
        "enabled": True,
        "consecutive_failures": 0,
        "disabled_reason": None,
        "created_by": principal.sub,
        "created_at": utc_now(),
    }
    await repository.add_endpoint(session, values)
    await record_audit(
        session,
        outbox,
        actor=principal,
        action="webhook.register",
        target=AuditTargetV1(kind="WebhookEndpoint", name=endpoint_id),
        engagement_id=engagement_id,
        details={"event_types": ",".join(body.event_types)},
    )
    return Created(WebhookCreated.model_validate(values), is_new=True)


async def list_webhooks(session: AsyncSession, principal: Principal, engagement_id: str) -> list[WebhookOut]:
    await _visible_engagement(session, principal, engagement_id)
    return [WebhookOut.model_validate(row) for row in await repository.endpoints_of(session, engagement_id)]


async def _visible_endpoint(session: AsyncSession, principal: Principal, engagement_id: str, endpoint_id: str) -> Row:
    ensure_visible(principal, engagement_id, "engagement", engagement_id)
    endpoint = await repository.get_endpoint(session, endpoint_id, for_update=True)
    if endpoint is None or endpoint["engagement_id"] != engagement_id:
        raise not_found("webhook", endpoint_id)
    return endpoint


async def update_webhook(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    engagement_id: str,
    endpoint_id: str,
    body: WebhookUpdate,
) -> WebhookOut:
    endpoint = await _visible_endpoint(session, principal, engagement_id, endpoint_id)
    if endpoint["enabled"] != body.enabled:
        values: dict[str, Any] = {"enabled": body.enabled}
        values |= (
            {"consecutive_failures": 0, "disabled_reason": None}
            if body.enabled
            else {"disabled_reason": "disabled by an admin"}
        )
        await repository.update_endpoint(session, endpoint_id, values)
        await record_audit(
            session,
            outbox,
            actor=principal,
            action="webhook.enable" if body.enabled else "webhook.disable",
            target=AuditTargetV1(kind="WebhookEndpoint", name=endpoint_id),
            engagement_id=engagement_id,
        )
        endpoint |= values
    return WebhookOut.model_validate(endpoint)


async def list_deliveries(
    session: AsyncSession, principal: Principal, engagement_id: str, endpoint_id: str, limit: int
) -> list[DeliveryOut]:
    await _visible_endpoint(session, principal, engagement_id, endpoint_id)
    deliveries = await repository.deliveries_of(session, endpoint_id, limit)
    attempts = await repository.attempts_of(session, [row["id"] for row in deliveries])
    return [
        DeliveryOut.model_validate(
            {
                **delivery,
                "attempt_log": [
                    DeliveryAttemptOut.model_validate(attempt)
                    for attempt in attempts
                    if attempt["delivery_id"] == delivery["id"]
                ],
            }
        )
        for delivery in deliveries
    ]


async def system_audit(
    session: AsyncSession,
    outbox: Outbox,
    action: str,
    target: AuditTargetV1,
    engagement_id: str,
    details: dict[str, str | int | bool | None],
) -> None:
    await record_audit(
        session, outbox, actor=SYSTEM_ACTOR, action=action, target=target, engagement_id=engagement_id, details=details
    )
