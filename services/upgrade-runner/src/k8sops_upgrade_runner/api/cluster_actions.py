"""One operator action in a customer cluster: check, authorise if destructive, act, record; read it back.

The cluster is called outside any database transaction; the action's record and its audit event
(with the authorisation id) commit together afterwards, whatever the outcome.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any, Literal

import httpx
from kubernetes_asyncio.client.exceptions import ApiException
from sqlalchemy.ext.asyncio import AsyncSession

from k8sops_common.audit import record_audit
from k8sops_common.auth import Principal
from k8sops_common.errors import ProblemError
from k8sops_common.service import ServiceContext

from .. import authorisations, repository, service
from ..auth import visible
from ..domain.authorisation import ClusterAction, Target, is_destructive
from ..runner.cluster import ClusterClient
from ..runner.credentials import open_cluster
from ..runner.nodes import NodeRoller
from ..schemas import ActionIn, ActionOut
from ..settings import RunnerSettings

TARGET_KINDS: dict[ClusterAction, frozenset[str]] = {
    ClusterAction.CORDON: frozenset({"Node"}),
    ClusterAction.UNCORDON: frozenset({"Node"}),
    ClusterAction.DRAIN: frozenset({"Node"}),
    ClusterAction.RESTART_WORKLOAD: frozenset({"Deployment", "StatefulSet"}),
    ClusterAction.SCALE: frozenset({"Deployment", "StatefulSet"}),
    ClusterAction.DELETE_POD: frozenset({"Pod"}),
    ClusterAction.DELETE_NAMESPACE: frozenset({"Namespace"}),
    ClusterAction.DELETE_PVC: frozenset({"PersistentVolumeClaim"}),
}
NAMESPACED = frozenset({"Deployment", "StatefulSet", "Pod", "PersistentVolumeClaim"})


def _invalid(detail: str) -> ProblemError:
    return ProblemError(422, "Invalid action", detail, problem_type="invalid-action")


def validate(body: ActionIn) -> None:
    kinds = TARGET_KINDS.get(body.action)
    if kinds is None:
        raise _invalid(
            f"{body.action.value} is not a cluster action; it authorises an operation (emergency, drift reconcile)."
        )
    if body.target.kind not in kinds:
        raise _invalid(f"{body.action.value} acts on {' or '.join(sorted(kinds))}, not {body.target.kind}.")
    if (body.target.kind in NAMESPACED) != (body.target.namespace is not None):
        need = "needs" if body.target.kind in NAMESPACED else "takes no"
        raise _invalid(f"A {body.target.kind} target {need} a namespace.")
    if (body.action is ClusterAction.SCALE) != (body.replicas is not None):
        raise _invalid("replicas is required for scale, and only for scale.")


async def execute(client: ClusterClient, settings: RunnerSettings, body: ActionIn) -> str:
    target, now = body.target, service.now_utc()
    match body.action:
        case ClusterAction.CORDON | ClusterAction.UNCORDON:
            await client.set_unschedulable(target.name, body.action is ClusterAction.CORDON)
            return f"node {target.name} {'cordoned' if body.action is ClusterAction.CORDON else 'uncordoned'}"
        case ClusterAction.DRAIN:
            await client.set_unschedulable(target.name, True)
            roller = NodeRoller(client, _no_save, service.now_utc, settings)
            blocked = await roller.drain(target.name, now + timedelta(seconds=settings.drain_timeout_s))
            if blocked:
                raise RuntimeError(f"node {target.name} cordoned, drain blocked: " + "; ".join(blocked))
            return f"node {target.name} cordoned and drained"
        case ClusterAction.RESTART_WORKLOAD:
            await client.restart(target.kind, str(target.namespace), target.name, now.isoformat())
            return f"{target.kind} {target.namespace}/{target.name} restarted"
        case ClusterAction.SCALE:
            await client.scale(target.kind, str(target.namespace), target.name, int(body.replicas or 0))
            return f"{target.kind} {target.namespace}/{target.name} scaled to {body.replicas}"
        case ClusterAction.DELETE_POD:
            await client.delete(f"/api/v1/namespaces/{target.namespace}/pods/{target.name}")
        case ClusterAction.DELETE_NAMESPACE:
            await client.delete(f"/api/v1/namespaces/{target.name}")
        case ClusterAction.DELETE_PVC:
            await client.delete(f"/api/v1/namespaces/{target.namespace}/persistentvolumeclaims/{target.name}")
    return f"{target.kind} {target.name} deleted"


async def _no_save(row: Any, values: dict[str, Any]) -> Any:
    return row


async def perform(
    context: ServiceContext, principal: Principal, cluster: dict[str, Any], body: ActionIn
) -> dict[str, Any]:
    validate(body)
    target = Target(cluster["cluster_id"], body.target.kind, body.target.name, body.target.namespace)
    async with context.database.sessions() as session:
        window = service.window_of(await repository.get_engagement(session, cluster["engagement_id"]))
    window_open = window is None or window.is_open(service.now_utc())
    authorisation_id = None
    if is_destructive(body.action, replicas=body.replicas, window_open=window_open):
        authorisation_id = await authorisations.consume(
            context, principal, cluster["engagement_id"], body.authorisation_id, body.action, target
        )
    settings: RunnerSettings = context.extras.get("runner_settings") or RunnerSettings()
    async with httpx.AsyncClient() as http:
        outcome: Literal["success", "failure"] = "success"
        client: ClusterClient | None = None
        try:
            client = open_cluster(cluster, settings, http)  # CredentialsError is a RuntimeError
            detail = await execute(client, settings, body)
        except ApiException as error:
            detail, outcome = f"the cluster answered {error.status}: {error.reason}", "failure"
        except (RuntimeError, httpx.HTTPError) as error:
            detail, outcome = str(error), "failure"
        finally:
            if client is not None:
                await client.close()
    async with context.database.unit_of_work() as session:
        row = await repository.insert_action(
            session,
            {
                "action_id": f"act-{uuid.uuid4().hex[:16]}",
                "engagement_id": cluster["engagement_id"],
                "cluster_id": cluster["cluster_id"],
                "action": body.action.value,
                "target_kind": target.kind,
                "target_namespace": target.namespace,
                "target_name": target.name,
                "parameters": {"replicas": body.replicas} if body.replicas is not None else {},
                "actor": principal.sub,
                "authorisation_id": authorisation_id,
                "outcome": outcome,
                "detail": detail,
                "at": service.now_utc(),
            },
        )
        await record_audit(
            session,
            context.outbox,
            actor=principal,
            action=f"cluster.{body.action.value}",
            target=authorisations.audit_target(target),
            engagement_id=cluster["engagement_id"],
            outcome=outcome,
            authorization_ref=authorisation_id,
            details={"action_id": row["action_id"], "detail": detail[:500]},
        )
    if outcome == "failure":
        raise ProblemError(502, "Cluster action failed", detail, problem_type="cluster-action-failed")
    return dict(row)


async def read_action(session: AsyncSession, principal: Principal, cluster_id: str, action_id: str) -> ActionOut:
    """The cluster is checked first, as the list route does, so the 404 names the cluster when it is unknown."""
    visible(principal, await repository.get_cluster(session, cluster_id), "cluster", cluster_id)
    row = await repository.get_action(session, cluster_id, action_id)
    return ActionOut.model_validate(visible(principal, row, "action", action_id))
