"""Drift: record a cluster's desired state, read its drift now, reconcile it as an operation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Path, status
from kubernetes_asyncio.client.exceptions import ApiException

from k8sops_common.audit import record_audit
from k8sops_common.auth import Principal
from k8sops_common.errors import ProblemError
from k8sops_common.service import Context, ServiceContext

from .. import authorisations, repository, service
from ..auth import Operator, Reader, ensure_member, visible
from ..domain.authorisation import ClusterAction, Target
from ..domain.operation import OperationKind
from ..runner.baseline import GIT_REASON, Measurement, current_drift, record_baseline, store_baseline
from ..runner.cluster import ClusterClient
from ..runner.credentials import CredentialsError, open_cluster
from ..runner.gitsource import GitSourceError, read_manifests
from ..runner.platform_api import PlatformError
from ..schemas import ID_PATTERN, DriftReconcileCreate, GitDesiredStateIn, OperationOut
from ..settings import RunnerSettings
from .operations import PLAN_ERRORS, known_cluster, plan_kind

router = APIRouter(prefix="/v1", tags=["drift"])
ClusterId = Annotated[str, Path(pattern=ID_PATTERN)]
READ_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "Not in the caller's engagements"},
    502: {"description": "The cluster could not be read"},
}


async def visible_cluster(context: ServiceContext, principal: Principal, cluster_id: str) -> dict[str, Any]:
    async with context.database.sessions() as session:
        cluster = await repository.get_cluster(session, cluster_id)
    return visible(principal, cluster, "cluster", cluster_id)


@asynccontextmanager
async def cluster_client(context: ServiceContext, cluster: dict[str, Any]) -> AsyncIterator[ClusterClient]:
    """A client for one request; a cluster that cannot be read is a 502 problem, not a 500."""
    settings: RunnerSettings = context.extras.get("runner_settings") or RunnerSettings()
    async with httpx.AsyncClient() as http:
        try:
            client = open_cluster(cluster, settings, http)
        except CredentialsError as error:
            raise unreachable(cluster, error) from error
        try:
            yield client
        except (ApiException, PlatformError, httpx.HTTPError) as error:
            raise unreachable(cluster, error) from error
        finally:
            await client.close()


def unreachable(cluster: dict[str, Any], error: Exception) -> ProblemError:
    return ProblemError(
        502,
        "Cluster unreachable",
        f"Could not read cluster {cluster['cluster_id']!r}: {error}",
        problem_type="cluster-unreachable",
    )


@router.post(
    "/clusters/{cluster_id}/baseline",
    status_code=status.HTTP_201_CREATED,
    responses=READ_ERRORS,
    summary="Record the cluster's live managed objects as its desired state (onboarding)",
)
async def post_baseline(principal: Operator, context: Context, cluster_id: ClusterId) -> dict[str, Any]:
    cluster = await visible_cluster(context, principal, cluster_id)
    ensure_member(principal, cluster["engagement_id"], "cluster", cluster_id)
    async with cluster_client(context, cluster) as client:
        return await record_baseline(context, client, cluster, principal, "recorded by an operator")


@router.post(
    "/clusters/{cluster_id}/desired-state",
    status_code=status.HTTP_201_CREATED,
    responses={
        **READ_ERRORS,
        422: {"description": "The repository, ref or path cannot be read (problem+json says why)"},
    },
    summary="Take the cluster's desired state from a Git repository path (GitOps) instead of a recorded baseline",
)
async def post_git_desired_state(
    principal: Operator, context: Context, cluster_id: ClusterId, body: GitDesiredStateIn
) -> dict[str, Any]:
    cluster = await visible_cluster(context, principal, cluster_id)
    ensure_member(principal, cluster["engagement_id"], "cluster", cluster_id)
    try:
        settings: RunnerSettings = context.extras.get("runner_settings") or RunnerSettings()
        commit, objects = await read_manifests(
            body.repository, body.ref, body.path, allow_local=settings.git_allow_local
        )
    except GitSourceError as error:
        raise ProblemError(422, "Git source unreadable", str(error), problem_type="git-source-unreadable") from error
    reason = f"{GIT_REASON}{body.repository}@{body.ref} ({commit[:12]}):{body.path}"
    return await store_baseline(context, cluster, principal, reason, objects)


@router.get(
    "/clusters/{cluster_id}/drift",
    responses={**READ_ERRORS, 409: {"description": "No baseline recorded yet"}},
    summary="Drift now: per object missing, extra, or the fields changed (server-managed fields ignored)",
)
async def get_drift(principal: Reader, context: Context, cluster_id: ClusterId) -> dict[str, Any]:
    cluster = await visible_cluster(context, principal, cluster_id)
    return drift_body(cluster_id, await measure(context, cluster))


@router.post(
    "/clusters/{cluster_id}/drift-checks",
    status_code=status.HTTP_201_CREATED,
    responses={**READ_ERRORS, 409: {"description": "No baseline recorded yet"}},
    summary="Measure the drift now and publish it (`drift.measured`) for the quarterly health review",
)
async def post_drift_check(principal: Operator, context: Context, cluster_id: ClusterId) -> dict[str, Any]:
    cluster = await visible_cluster(context, principal, cluster_id)
    ensure_member(principal, cluster["engagement_id"], "cluster", cluster_id)
    measured = await measure(context, cluster)
    event = measured.event(cluster, "check", service.now_utc())
    async with context.database.unit_of_work() as session:
        await context.outbox.add(session, event)
        await record_audit(
            session,
            context.outbox,
            actor=principal,
            action="drift.checked",
            target=service.cluster_target(cluster, cluster_id),
            engagement_id=cluster["engagement_id"],
            details={"drifted_objects": event.total, "desired_state": event.desired_state},
        )
    return {**drift_body(cluster_id, measured), "measured_at": event.measured_at, "published": "drift.measured"}


async def measure(context: ServiceContext, cluster: dict[str, Any]) -> Measurement:
    async with cluster_client(context, cluster) as client:
        measured = await current_drift(context, client, cluster["cluster_id"])
    if measured is None:
        cluster_id = cluster["cluster_id"]
        raise service.conflict(
            f"Cluster {cluster_id!r} has no desired state yet: record its live objects (POST "
            f"/v1/clusters/{cluster_id}/baseline) or a Git path (POST /v1/clusters/{cluster_id}/desired-state).",
            "no-baseline",
        )
    return measured


def drift_body(cluster_id: str, measured: Measurement) -> dict[str, Any]:
    return {
        "cluster_id": cluster_id,
        "baseline_recorded_at": measured.recorded_at,
        "baseline_reason": measured.reason,
        "findings": [finding.as_dict() for finding in measured.findings],
    }


@router.post(
    "/operations/drift-reconcile",
    status_code=status.HTTP_201_CREATED,
    response_model=OperationOut,
    responses={
        403: {"description": "delete_extra without a valid delete-drift-extras authorisation"},
        404: {"description": "Not in the caller's engagements"},
        409: PLAN_ERRORS[409],
        422: {"description": "Invalid body or unknown cluster"},
    },
    summary="Put the cluster back to its desired state (deleting extra objects needs authorisation)",
)
async def create_reconcile(principal: Operator, context: Context, body: DriftReconcileCreate) -> dict[str, Any]:
    ensure_member(principal, body.engagement_id, "engagement", body.engagement_id)
    async with context.database.sessions() as session:
        await known_cluster(session, body.engagement_id, body.cluster_id)
    authorisation_id = None
    if body.delete_extra:
        target = Target(body.cluster_id, "Cluster", body.cluster_id)
        authorisation_id = await authorisations.consume(
            context, principal, body.engagement_id, body.authorisation_id, ClusterAction.DELETE_DRIFT_EXTRAS, target
        )
    spec = {"delete_extra": body.delete_extra, "authorisation_id": authorisation_id}
    return await plan_kind(
        context, principal, body.engagement_id, body.cluster_id, body.request_id, OperationKind.DRIFT_RECONCILE, spec
    )
