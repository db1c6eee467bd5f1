"""Request use cases: each runs inside the caller's unit of work and writes its outbox event, audit
event and outbound webhook deliveries in that same transaction."""

from __future__ import annotations

from collections import Counter
from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncSession

from k8sops_common.audit import audit_event, record_audit
from k8sops_common.auth import Principal
from k8sops_common.bus import Outbox
from k8sops_common.events.catalog import AuditTargetV1, Priority, RequestCategory, RequestOpenedV1, RequestUpdatedV1
from k8sops_common.events.envelope import utc_now

from ..auth import ensure_engagement_in_token, ensure_visible, found, side_of
from ..domain.lifecycle import TERMINAL_STATUSES, Action, Side, TransitionRefused, next_status
from ..domain.pagination import BadCursor, decode_cursor, encode_cursor
from ..domain.requests import comment_resumes, priority_is_settled
from ..domain.scope import ScopeDecision, operator_decline, out_of_scope
from ..engagements.service import ensure_engagement_and_cluster, visible_engagement
from ..kit import Actor, Created, fingerprint_of, new_id, problem, replayed_id
from ..webhooks.service import notify_subscribers
from . import repository
from .repository import CommentRecord, RequestFilter, RequestRecord
from .schemas import (
    CommentIn,
    CommentOut,
    PriorityChange,
    RequestCreate,
    RequestOut,
    RequestPage,
    ScopeCreepRecord,
    ScopeCreepReport,
    TransitionIn,
)

AUTOMATIC_DECLINER = "intake:scope-rules"


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


async def open_new_request(
    session: AsyncSession, outbox: Outbox, actor: Actor, request_id: str, fields: dict[str, Any]
) -> RequestOut:
    """Stores a new request of a known engagement (and cluster of it), else 422; out-of-scope asks
    are declined at once and kept as scope creep."""
    decision = out_of_scope(fields["category"], fields["title"], fields["description"])
    opened_at = utc_now()
    values = {
        "id": request_id,
        **fields,
        "status": "declined" if decision else "opened",
        "opened_by": actor.sub,
        "opened_at": opened_at,
        "updated_at": opened_at,
        "decline_reason": decision.reason if decision else None,
        "decline_pointer": decision.pointer if decision else None,
    }
    if not await repository.add_request(session, values):
        # Names what is missing; if both appeared since the INSERT looked, the request goes in now.
        await ensure_engagement_and_cluster(session, fields["engagement_id"], fields.get("cluster_id"))
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
        opened_by=actor.sub,
        origin=fields.get("origin", "api"),
    )
    audit = audit_event(
        outbox,
        actor=actor,
        action="request.open",
        target=target,
        engagement_id=fields["engagement_id"],
        details={"category": fields["category"], "priority": fields["priority"]},
    )
    await outbox.add_all(session, [event, audit])
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
    replayed = await replayed_id(session, principal, "request.open", idempotency_key, fingerprint_of(body), request_id)
    if replayed is not None:
        existing = await repository.get_request(session, replayed)
        assert existing is not None  # written in the same transaction as the key
        return Created(RequestOut.model_validate(existing), is_new=False)
    return Created(await open_new_request(session, outbox, principal, request_id, body.model_dump()), is_new=True)


async def visible_request(
    session: AsyncSession, principal: Principal, request_id: str, *, for_update: bool = False
) -> RequestRecord:
    """The request if the caller may read it, else 404."""
    row = await repository.get_request(session, request_id, readable_by=principal, for_update=for_update)
    return found(row, "request", request_id)


async def get_request(session: AsyncSession, principal: Principal, request_id: str) -> RequestOut:
    return RequestOut.model_validate(await visible_request(session, principal, request_id))


async def record_request_change(
    session: AsyncSession,
    outbox: Outbox,
    actor: Actor,
    before: RequestRecord,
    after: RequestRecord,
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
        changed_by=actor.sub,
    )
    audit = audit_event(
        outbox,
        actor=actor,
        action=action,
        target=AuditTargetV1(kind="Request", name=after["id"], cluster=after["cluster_id"]),
        engagement_id=after["engagement_id"],
        details=details or {},
    )
    await outbox.add_all(session, [event, audit])
    await notify_subscribers(session, after["engagement_id"], "request.updated", event.model_dump(mode="json"))


async def apply_transition(
    session: AsyncSession,
    outbox: Outbox,
    actor: Actor,
    side: Side,
    row: RequestRecord,
    action: Action,
    reason: str | None,
) -> RequestRecord:
    try:
        target = next_status(row["status"], action, side, reason)
    except TransitionRefused as refusal:
        raise problem(
            409,
            "Transition refused",
            f"Cannot {action.value} request {row['id']}: {refusal}.",
            "transition-refused",
            status_now=row["status"],
        ) from refusal
    values: dict[str, Any] = {"status": target}
    if action is Action.ACKNOWLEDGE:
        values |= {"acknowledged_at": utc_now(), "acknowledged_by": actor.sub}
    if action is Action.DECLINE:
        decision = operator_decline(cast(str, reason))
        values |= {"decline_reason": decision.reason, "decline_pointer": decision.pointer}
        await _record_scope_creep(session, row["engagement_id"], row["id"], decision, actor.sub)
    after = await repository.update_request(session, row["id"], values)
    change = "acknowledged" if action is Action.ACKNOWLEDGE else "status_changed"
    await record_request_change(
        session, outbox, actor, row, after, change, f"request.{action.value}", {"reason": reason} if reason else None
    )
    return after


async def set_priority(
    session: AsyncSession, outbox: Outbox, actor: Actor, row: RequestRecord, priority: Priority
) -> RequestRecord:
    after = await repository.update_request(session, row["id"], {"priority": priority})
    await record_request_change(
        session,
        outbox,
        actor,
        row,
        after,
        "priority_changed",
        "request.change_priority",
        {"from": row["priority"], "to": priority},
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
    if priority_is_settled(row["status"]):
        raise problem(
            409,
            "Request settled",
            f"Request {request_id} is {row['status']}; its priority no longer matters.",
            "transition-refused",
            status_now=row["status"],
        )
    if body.priority == row["priority"]:
        return RequestOut.model_validate(row)
    return RequestOut.model_validate(await set_priority(session, outbox, principal, row, body.priority))


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
    replayed = await replayed_id(
        session, principal, "request.comment", idempotency_key, fingerprint_of(body, request_id), comment_id
    )
    if replayed is not None:
        existing = await repository.get_comment(session, replayed)
        assert existing is not None
        return Created(CommentOut.model_validate(existing), is_new=False)
    if row["status"] in TERMINAL_STATUSES:
        raise problem(
            409,
            "Request is final",
            f"Request {request_id} is {row['status']}; open a new request instead.",
            "request-final",
            status_now=row["status"],
        )
    side = side_of(principal)
    comment = CommentRecord(
        id=comment_id,
        request_id=request_id,
        author=principal.sub,
        side=side.value,
        body=body.body,
        created_at=utc_now(),
    )
    await repository.add_comment(session, comment)
    after = await repository.update_request(session, request_id, {})
    await record_request_change(session, outbox, principal, row, after, "commented", "request.comment")
    if comment_resumes(side, after["status"]):
        await apply_transition(session, outbox, principal, side, after, Action.RESUME, None)
    return Created(CommentOut.model_validate(comment), is_new=True)


async def list_comments(session: AsyncSession, principal: Principal, request_id: str) -> list[CommentOut]:
    await visible_request(session, principal, request_id)
    return [CommentOut.model_validate(row) for row in await repository.comments_of(session, request_id)]


async def list_requests(
    session: AsyncSession, principal: Principal, filters: RequestFilter, cursor: str | None, limit: int
) -> RequestPage:
    if filters.engagement_id is not None:
        ensure_visible(principal, filters.engagement_id, "engagement", filters.engagement_id)
    try:
        after = decode_cursor(cursor) if cursor else None
    except BadCursor as error:
        raise problem(422, "Invalid cursor", str(error), "invalid-cursor") from error
    rows = await repository.list_requests(session, filters, after, limit + 1)
    items = [RequestOut.model_validate(row) for row in rows[:limit]]
    next_cursor = encode_cursor(items[-1].opened_at, items[-1].id) if len(rows) > limit else None
    return RequestPage(items=items, next_cursor=next_cursor)


async def scope_creep_report(session: AsyncSession, principal: Principal, engagement_id: str) -> ScopeCreepReport:
    await visible_engagement(session, principal, engagement_id)
    records = [ScopeCreepRecord.model_validate(row) for row in await repository.scope_creep_of(session, engagement_id)]
    return ScopeCreepReport(
        engagement_id=engagement_id,
        total=len(records),
        by_kind=dict(Counter(record.kind for record in records)),
        records=records,
    )
