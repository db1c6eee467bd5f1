"""Add-ons: the catalogue, a cluster's live inventory, and add-on operations (SPEC 7a)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, status

from k8sops_common.errors import ProblemError
from k8sops_common.service import Context

from ..auth import Operator, Reader, ensure_member
from ..domain.addons import catalogue, compatibility_findings, inventory
from ..domain.operation import OperationKind
from ..domain.versions import Version, next_minor
from ..schemas import ID_PATTERN, AddonPlanCreate, OperationOut
from .drift import cluster_client, visible_cluster
from .operations import PLAN_ERRORS, plan_kind

router = APIRouter(prefix="/v1", tags=["add-ons"])
ClusterId = Annotated[str, Path(pattern=ID_PATTERN)]


@router.get("/addons", summary="The add-on catalogue: versions and the Kubernetes minors each supports")
async def get_catalogue(principal: Reader) -> dict[str, Any]:
    return {
        "items": [
            {
                "name": addon.name,
                "namespace": addon.namespace,
                "kind": addon.kind,
                "image": addon.image,
                "chart": addon.chart,
                "versions": [
                    {
                        "version": v.version,
                        "chart_version": v.chart_version,
                        "kubernetes_min": v.min,
                        "kubernetes_max": v.max,
                    }
                    for v in addon.versions
                ],
            }
            for addon in catalogue().values()
        ]
    }


@router.get(
    "/clusters/{cluster_id}/addons",
    responses={404: {"description": "Not in the caller's engagements"}, 502: {"description": "Cluster unreachable"}},
    summary="What add-ons the cluster runs (read from it now), and whether they support the next minor",
)
async def get_inventory(principal: Reader, context: Context, cluster_id: ClusterId) -> dict[str, Any]:
    cluster = await visible_cluster(context, principal, cluster_id)
    async with cluster_client(context, cluster) as client:
        minor = Version.parse((await client.platform_cluster())["control_plane"]["version"])
        installed = inventory(await client.workloads(), await client.helm_releases())
    target = next_minor(minor)
    return {
        "cluster_id": cluster_id,
        "kubernetes_version": str(minor),
        "next_minor": target.minor_text,
        "items": [item.as_dict() for item in installed],
        "next_minor_findings": [finding.as_dict() for finding in compatibility_findings(installed, target)],
    }


@router.post(
    "/operations/addons",
    status_code=status.HTTP_201_CREATED,
    response_model=OperationOut,
    responses={
        404: {"description": "Not in the caller's engagements"},
        409: PLAN_ERRORS[409],
        422: {"description": "Unknown cluster, add-on or version (problem+json names the catalogued ones)"},
    },
    summary="Install or upgrade one add-on on one cluster (server-side apply, rollout, rollback on failure)",
)
async def create_addon_operation(principal: Operator, context: Context, body: AddonPlanCreate) -> dict[str, Any]:
    ensure_member(principal, body.engagement_id, "engagement", body.engagement_id)
    addon = catalogue().get(body.addon)
    if addon is None:
        raise ProblemError(
            422,
            "Unknown add-on",
            f"No add-on {body.addon!r} in the catalogue; it has {', '.join(sorted(catalogue()))}.",
            problem_type="unknown-addon",
        )
    version = addon.version(body.version)
    if version is None:
        raise ProblemError(
            422,
            "Unknown add-on version",
            f"{addon.name} {body.version} is not catalogued; choose one of "
            f"{', '.join(v.version for v in addon.versions)}.",
            problem_type="unknown-addon-version",
        )
    spec = {"addon": addon.name, "version": version.version, "namespace": body.namespace or addon.namespace}
    return await plan_kind(
        context,
        principal,
        body.engagement_id,
        body.cluster_id,
        body.request_id,
        OperationKind.ADDON,
        spec,
        version.version,
    )
