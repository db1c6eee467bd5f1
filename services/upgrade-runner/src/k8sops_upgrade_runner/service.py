"""upgrade-runner's use cases; each runs inside the caller's unit of work.

Every state change of an operation goes through `transition`: the state, its step row, the
`upgrade.step` event and the audit event are written together, so they commit or vanish as one.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from k8sops_common.audit import SYSTEM_ACTOR, record_audit
from k8sops_common.auth import Principal
from k8sops_common.bus import Outbox
from k8sops_common.errors import ProblemError
from k8sops_common.events.catalog import (
    ActorV1,
    AuditTargetV1,
    EngagementChangedV1,
    UpgradeReportV1,
    UpgradeStepV1,
)

from . import repository
from .domain.operation import (
    RUNNER_STATES,
    STEP_OF_STATE,
    TERMINAL,
    InvalidTransition,
    OperationKind,
    State,
    Trigger,
    next_state,
)
from .domain.report import build_report, render_markdown
from .domain.report_event import bounded_report
from .domain.window import MaintenanceWindow

log = logging.getLogger(__name__)

REPORTED_STATES = TERMINAL | {State.PRECHECK_FAILED}


def now_utc() -> datetime:
    return datetime.now(UTC)


def conflict(detail: str, problem_type: str = "invalid-state") -> ProblemError:
    return ProblemError(409, "Conflict", detail, problem_type=problem_type)


def cluster_target(cluster: Mapping[Any, Any] | None, cluster_id: str) -> AuditTargetV1:
    return AuditTargetV1(kind="Cluster", name=cluster["name"] if cluster else cluster_id, cluster=cluster_id)


def window_of(engagement: RowMapping | None) -> MaintenanceWindow | None:
    if engagement is None or engagement["maintenance_window"] is None:
        return None
    window = engagement["maintenance_window"]
    return MaintenanceWindow.of(
        window["weekday"], window["start_local"], window["duration_minutes"], engagement["timezone"]
    )


def is_staged(cluster: RowMapping | None) -> bool:
    """Production plans with a paired non-prod cluster stage there first; a non-prod plan is the stage."""
    return bool(cluster and cluster["environment"] == "prod" and cluster["paired_cluster_id"])


# engagement.changed


async def apply_engagement_change(session: AsyncSession, data: EngagementChangedV1) -> None:
    window = data.maintenance_window.model_dump() if data.maintenance_window else None
    applied = await repository.upsert_engagement(
        session,
        {
            "engagement_id": data.engagement_id,
            "name": data.name,
            "tier": data.tier,
            "timezone": data.timezone,
            "maintenance_window": window,
            "cluster_admin": data.cluster_admin,
            "deleted": data.change == "deleted",
            "changed_at": data.changed_at,
        },
    )
    if not applied:
        log.info("engagement %s: ignoring a version older than the stored one", data.engagement_id)
        return
    # Operations waiting for a window look again at once: the window may have moved.
    await repository.wake_waiting_operations(session, data.engagement_id, now_utc())
    await repository.replace_clusters(
        session,
        data.engagement_id,
        [
            {
                "cluster_id": cluster.cluster_id,
                "engagement_id": data.engagement_id,
                "name": cluster.name,
                "environment": cluster.environment,
                "paired_cluster_id": cluster.paired_cluster_id,
                "api_endpoint": cluster.api_endpoint,
                "credentials_ref": cluster.credentials_ref,
            }
            for cluster in data.clusters
        ],
    )


# Transitions


async def record_step(
    session: AsyncSession,
    outbox: Outbox,
    operation: RowMapping,
    previous: State | None,
    actor: Principal | ActorV1,
    detail: str,
    trigger: Trigger | None = None,
) -> None:
    state = State(operation["state"])
    await repository.insert_step(
        session,
        {
            "operation_id": operation["operation_id"],
            "from_state": previous.value if previous else None,
            "to_state": state.value,
            "at": operation["updated_at"],
            "actor": actor.sub,
            "detail": detail,
        },
    )
    step, status = STEP_OF_STATE[state]
    await outbox.add(
        session,
        UpgradeStepV1(
            plan_id=operation["operation_id"],
            operation_id=operation["operation_id"],
            kind=operation["kind"],
            engagement_id=operation["engagement_id"],
            cluster_id=operation["cluster_id"],
            request_id=operation["request_id"],
            step=step,
            status=status,
            state=state.value,
            from_version=operation["from_version"] or "unknown",
            to_version=operation["to_version"] or "next minor",
            at=operation["updated_at"],
            detail=detail[:2000],
        ),
    )
    cluster = await repository.get_cluster(session, operation["cluster_id"])
    await record_audit(
        session,
        outbox,
        actor=actor,
        action=f"{operation['kind']}.{trigger.value if trigger else 'plan'}",
        target=cluster_target(cluster, operation["cluster_id"]),
        engagement_id=operation["engagement_id"],
        authorization_ref=authorisation_of(operation, trigger),
        details={
            "operation_id": operation["operation_id"],
            "from_state": previous.value if previous else None,
            "to_state": state.value,
            "detail": detail[:500],
        },
    )


def authorisation_of(operation: RowMapping, trigger: Trigger | None) -> str | None:
    """The customer's authorisation a step ran under: an emergency start, a decommission."""
    if trigger is Trigger.WINDOW_OPENED:
        return operation["emergency_authorisation_id"]
    if trigger is Trigger.DECOMMISSION:
        return (operation["spec"] or {}).get("decommission_authorisation_id")
    return None


async def transition(
    session: AsyncSession,
    outbox: Outbox,
    operation: RowMapping,
    trigger: Trigger,
    *,
    actor: Principal | ActorV1 = SYSTEM_ACTOR,
    detail: str = "",
    changes: dict[str, Any] | None = None,
) -> RowMapping:
    """Moves the operation by `trigger`, with its step row, `upgrade.step` and audit event."""
    previous = State(operation["state"])
    cluster = await repository.get_cluster(session, operation["cluster_id"])
    state = next_state(OperationKind(operation["kind"]), previous, trigger, staged=is_staged(cluster))
    now = now_utc()
    values: dict[str, Any] = {
        "state": state.value,
        "updated_at": now,
        "next_run_at": now if state in RUNNER_STATES else None,
        **(changes or {}),
    }
    updated = await repository.update_operation(session, operation["operation_id"], values)
    await record_step(session, outbox, updated, previous, actor, detail, trigger)
    if state in REPORTED_STATES:
        updated = await store_report(session, outbox, updated)
    return updated


async def store_report(session: AsyncSession, outbox: Outbox, operation: RowMapping) -> RowMapping:
    """The report, stored with the final state and sent on `upgrade.report` in the same unit of work."""
    cluster = await repository.get_cluster(session, operation["cluster_id"])
    steps = await repository.steps_of(session, operation["operation_id"])
    nodes = await repository.nodes_of(session, operation["operation_id"])
    report = build_report(
        {**operation, "cluster_name": cluster["name"] if cluster else operation["cluster_id"]}, steps, nodes
    )
    markdown = render_markdown(report)
    await outbox.add(
        session,
        UpgradeReportV1(
            operation_id=operation["operation_id"],
            engagement_id=operation["engagement_id"],
            cluster_id=operation["cluster_id"],
            request_id=operation["request_id"],
            kind=operation["kind"],
            outcome=operation["state"],
            from_version=operation["from_version"],
            to_version=operation["to_version"],
            report_path=f"/v1/operations/{operation['operation_id']}/report",
            at=operation["updated_at"],
            **bounded_report(report, markdown),
        ),
    )
    return await repository.update_operation(
        session, operation["operation_id"], {"report": report, "report_markdown": markdown}
    )


async def command(
    session: AsyncSession,
    outbox: Outbox,
    operation_id: str,
    trigger: Trigger,
    actor: Principal,
    detail: str,
    changes: dict[str, Any] | None = None,
) -> RowMapping:
    """A person's command on an operation (sign-off, cancel, re-check), refused with 409 when the
    state does not allow it."""
    operation = await repository.get_operation(session, operation_id, for_update=True)
    assert operation is not None  # the endpoint checked visibility
    try:
        async with session.begin_nested():
            return await transition(session, outbox, operation, trigger, actor=actor, detail=detail, changes=changes)
    except InvalidTransition as error:
        raise conflict(f"{error}.") from error
    except IntegrityError as error:  # a re-check while another plan of the cluster is live
        other = await repository.live_operation_of_cluster(session, operation["cluster_id"])
        named = f" {other['operation_id']} ({other['kind']}, {other['state']})" if other else ""
        raise conflict(
            f"Cluster {operation['cluster_id']!r} has another live operation{named}; finish or cancel it "
            f"before {trigger.value.replace('_', ' ')} of {operation_id}.",
            "operation-in-progress",
        ) from error


async def record_audit_of_start(
    session: AsyncSession, outbox: Outbox, operation: RowMapping, actor: Principal, authorisation_id: str | None
) -> None:
    cluster = await repository.get_cluster(session, operation["cluster_id"])
    await record_audit(
        session,
        outbox,
        actor=actor,
        action=f"{operation['kind']}.start",
        target=cluster_target(cluster, operation["cluster_id"]),
        engagement_id=operation["engagement_id"],
        authorization_ref=authorisation_id,
        details={"operation_id": operation["operation_id"], "emergency": authorisation_id is not None},
    )
