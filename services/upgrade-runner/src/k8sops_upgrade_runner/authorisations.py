"""Customer authorisations for destructive actions: granted by an engagement admin for one exact
action and target, used once, expiring. Refusals are audited too, in a transaction of their own,
so that the 403 the caller gets is on the record."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from k8sops_common.audit import record_audit
from k8sops_common.auth import Principal
from k8sops_common.bus import Outbox
from k8sops_common.errors import ProblemError
from k8sops_common.events.catalog import AuditTargetV1
from k8sops_common.service import ServiceContext

from . import repository, service
from .auth import visible
from .domain.authorisation import Authorisation, ClusterAction, Target, authorisation_problem
from .schemas import AuthorisationCreate, AuthorisationOut


def audit_target(target: Target) -> AuditTargetV1:
    return AuditTargetV1(kind=target.kind, name=target.name, namespace=target.namespace, cluster=target.cluster_id)


def of_row(row: RowMapping) -> Authorisation:
    return Authorisation(
        row["authorisation_id"],
        row["engagement_id"],
        ClusterAction(row["action"]),
        Target(row["cluster_id"], row["target_kind"], row["target_name"], row["target_namespace"]),
        row["granted_by"],
        row["expires_at"],
        row["used_at"],
    )


async def read(session: AsyncSession, principal: Principal, authorisation_id: str) -> AuthorisationOut:
    row = await repository.get_authorisation(session, authorisation_id)
    return AuthorisationOut.model_validate(visible(principal, row, "authorisation", authorisation_id))


async def grant(session: AsyncSession, outbox: Outbox, principal: Principal, body: AuthorisationCreate) -> RowMapping:
    now = service.now_utc()
    row = await repository.insert_authorisation(
        session,
        {
            "authorisation_id": f"auth-{uuid.uuid4().hex[:16]}",
            "engagement_id": body.engagement_id,
            "cluster_id": body.cluster_id,
            "action": body.action.value,
            "target_kind": body.target.kind,
            "target_namespace": body.target.namespace,
            "target_name": body.target.name,
            "reason": body.reason,
            "granted_by": principal.sub,
            "granted_at": now,
            "expires_at": now + timedelta(minutes=body.ttl_minutes),
        },
    )
    await record_audit(
        session,
        outbox,
        actor=principal,
        action="authorisation.grant",
        target=audit_target(of_row(row).target),
        engagement_id=body.engagement_id,
        authorization_ref=row["authorisation_id"],
        details={"action": body.action.value, "expires_at": row["expires_at"].isoformat()},
    )
    return row


async def consume(
    context: ServiceContext,
    principal: Principal,
    engagement_id: str,
    authorisation_id: str | None,
    action: ClusterAction,
    target: Target,
    details: dict[str, Any] | None = None,
) -> str:
    """Marks the authorisation used (committed at once: single use even if the action then fails);
    refuses with 403 problem+json, audited as denied, when it does not cover the action."""
    async with context.database.unit_of_work() as session:
        row = (
            await repository.get_authorisation(session, authorisation_id, for_update=True) if authorisation_id else None
        )
        if row is not None and row["engagement_id"] != engagement_id:
            row = None
        problem = authorisation_problem(of_row(row) if row else None, action, target, service.now_utc())
        if row is None and authorisation_id:
            problem = f"Authorisation {authorisation_id!r} does not exist in this engagement. {problem}"
        if problem is None:
            assert authorisation_id is not None
            await repository.use_authorisation(session, authorisation_id, principal.sub, service.now_utc())
            return authorisation_id
    async with context.database.unit_of_work() as session:
        await record_audit(
            session,
            context.outbox,
            actor=principal,
            action=f"cluster.{action.value}",
            target=audit_target(target),
            engagement_id=engagement_id,
            outcome="denied",
            authorization_ref=authorisation_id,
            details={"reason": problem, **(details or {})},
        )
    raise ProblemError(403, "Authorisation required", problem, problem_type="authorisation-required")
