"""Commands on an operation that need more than one transition: sign-off, start now."""

from __future__ import annotations

from typing import Any

from k8sops_common.auth import Principal
from k8sops_common.service import ServiceContext

from .. import authorisations, repository, service
from ..domain.authorisation import ClusterAction, Target
from ..domain.operation import InvalidTransition, State, Trigger, check_signoff
from ..schemas import SignOffIn, StartIn


async def sign_off(context: ServiceContext, principal: Principal, operation_id: str, body: SignOffIn) -> dict[str, Any]:
    async with context.database.unit_of_work() as session:
        operation = await repository.get_operation(session, operation_id, for_update=True)
        assert operation is not None
        stage = operation["stage"] or {}
        passed = stage.get("stage_ref") if stage.get("result") == "passed" else None
        try:
            check_signoff(State(operation["state"]), body.stage_ref, passed)
        except InvalidTransition as error:
            raise service.conflict(f"{error}.", "signoff-refused") from error
        signoff = {
            "signed_by": principal.sub,
            "at": service.now_utc().isoformat(),
            "stage_ref": body.stage_ref,
            "comment": body.comment,
        }
        detail = f"signed off by {principal.sub} for stage {body.stage_ref}"
        updated = await service.command(
            session, context.outbox, operation_id, Trigger.SIGNED_OFF, principal, detail, {"signoff": signoff}
        )
    return dict(updated)


async def start_now(context: ServiceContext, principal: Principal, operation_id: str, body: StartIn) -> dict[str, Any]:
    """Inside the window the runner starts at once; outside it only an emergency plan with an
    engagement admin's `emergency-upgrade` authorisation for this cluster may start."""
    async with context.database.sessions() as session:
        operation = await repository.get_operation(session, operation_id)
        assert operation is not None
        engagement = await repository.get_engagement(session, operation["engagement_id"])
        cluster = await repository.get_cluster(session, operation["cluster_id"])
    if operation["state"] != State.SCHEDULED.value:
        raise service.conflict(f"only a scheduled operation can be started; this one is {operation['state']}.")
    window = service.window_of(engagement)
    inside = not service.is_staged(cluster) or (window is not None and window.is_open(service.now_utc()))
    authorisation_id = None
    if not inside:
        if not operation["emergency"]:
            raise service.conflict(
                "outside the maintenance window only an emergency plan may start; this one waits for the window.",
                "outside-window",
            )
        target = Target(operation["cluster_id"], "Cluster", operation["cluster_id"])
        authorisation_id = await authorisations.consume(
            context,
            principal,
            operation["engagement_id"],
            body.authorisation_id,
            ClusterAction.EMERGENCY_UPGRADE,
            target,
            {"operation_id": operation_id},
        )
    async with context.database.unit_of_work() as session:
        updated = await repository.update_operation(
            session,
            operation_id,
            {"next_run_at": service.now_utc(), "emergency_authorisation_id": authorisation_id},
        )
        await service.record_audit_of_start(session, context.outbox, updated, principal, authorisation_id)
    return dict(updated)
