"""Request and response bodies of upgrade-runner's API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from k8sops_common.inputs import WIDE_ID_PATTERN as ID_PATTERN

from .domain.authorisation import ClusterAction

NAME_PATTERN = r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$"


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PlanCreate(Body):
    engagement_id: str = Field(pattern=ID_PATTERN)
    cluster_id: str = Field(pattern=ID_PATTERN)
    target_version: str | None = Field(
        default=None, pattern=r"^v?\d+\.\d+(\.\d+)?$", description="default: the control plane's minor + 1"
    )
    emergency: bool = Field(default=False, description="CVE pathway: may start outside the window with authorisation")
    force: bool = Field(default=False, description="run past blocking pre-check findings (k8s-ops.senior only)")
    request_id: str | None = Field(default=None, pattern=ID_PATTERN)


class AddonPlanCreate(Body):
    engagement_id: str = Field(pattern=ID_PATTERN)
    cluster_id: str = Field(pattern=ID_PATTERN)
    addon: str = Field(pattern=NAME_PATTERN, description="a catalogue name, e.g. ingress-nginx (`GET /v1/addons`)")
    version: str = Field(pattern=r"^v?\d+\.\d+\.\d+$", description="a catalogued version of the add-on")
    namespace: str | None = Field(default=None, pattern=NAME_PATTERN, description="default: the catalogue's")
    request_id: str | None = Field(default=None, pattern=ID_PATTERN)


class GitDesiredStateIn(Body):
    repository: str = Field(
        pattern=r"^(https://|ssh://|file://|git@)[^\s]+$", max_length=500, description="the Git repository URL"
    )
    ref: str = Field(default="main", pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$", description="a branch or tag")
    path: str = Field(default=".", pattern=r"^[A-Za-z0-9._/-]{1,300}$", description="the folder of manifests")


class DriftReconcileCreate(Body):
    engagement_id: str = Field(pattern=ID_PATTERN)
    cluster_id: str = Field(pattern=ID_PATTERN)
    delete_extra: bool = Field(
        default=False, description="also delete objects not in the desired state (needs `authorisation_id`)"
    )
    authorisation_id: str | None = Field(
        default=None, pattern=ID_PATTERN, description="a delete-drift-extras authorisation for the cluster"
    )
    request_id: str | None = Field(default=None, pattern=ID_PATTERN)


class PoolIn(Body):
    name: str = Field(pattern=r"^[a-z0-9-]{1,40}$")
    instance_type: str = Field(min_length=1, max_length=64)
    count: int = Field(ge=1, le=50)


class NewClusterIn(Body):
    name: str = Field(pattern=r"^[a-z0-9-]{1,40}$")
    version: str = Field(pattern=r"^\d+\.\d+\.\d+$", description="the new cluster's Kubernetes version")
    node_pools: list[PoolIn] = Field(min_length=1, max_length=10)


class WorkloadIn(Body):
    kind: str = Field(pattern="^(Deployment|StatefulSet)$")
    namespace: str = Field(pattern=NAME_PATTERN)
    name: str = Field(pattern=NAME_PATTERN)


class MigrationCreate(Body):
    engagement_id: str = Field(pattern=ID_PATTERN)
    cluster_id: str = Field(pattern=ID_PATTERN, description="the old cluster")
    new_cluster: NewClusterIn
    topology: str = Field(min_length=1, max_length=20_000, description="step 1: the topology design document")
    workloads: list[WorkloadIn] = Field(min_length=1, max_length=100, description="shifted in this order")
    request_id: str | None = Field(default=None, pattern=ID_PATTERN)


class DecommissionIn(Body):
    authorisation_id: str | None = Field(
        default=None, pattern=ID_PATTERN, description="an engagement admin's decommission-cluster authorisation"
    )


class SignOffIn(Body):
    stage_ref: str = Field(pattern=ID_PATTERN, description="the passed stage this sign-off is for (`stage.stage_ref`)")
    comment: str = Field(default="", max_length=2000)


class StartIn(Body):
    authorisation_id: str | None = Field(
        default=None, pattern=ID_PATTERN, description="needed outside the window: an emergency-upgrade authorisation"
    )


class OperationOut(BaseModel):
    operation_id: str
    kind: str
    engagement_id: str
    cluster_id: str
    request_id: str | None
    state: str
    from_version: str | None
    to_version: str | None
    emergency: bool
    force: bool
    created_by: str
    findings: list[dict[str, Any]] | None
    stage: dict[str, Any] | None
    signoff: dict[str, Any] | None
    emergency_authorisation_id: str | None
    postcheck: dict[str, Any] | None
    rollback: dict[str, Any] | None
    failure: str | None
    spec: dict[str, Any] | None
    next_run_at: datetime | None
    created_at: datetime
    updated_at: datetime


class OperationPage(BaseModel):
    items: list[OperationOut]


class StepOut(BaseModel):
    from_state: str | None
    to_state: str
    at: datetime
    actor: str
    detail: str


class NodeOut(BaseModel):
    cluster_name: str
    node: str
    pool: str
    position: int
    from_version: str
    to_version: str
    phase: str
    touched: list[str]
    started_at: datetime | None
    replace_requested_at: datetime | None
    ready_at: datetime | None
    finished_at: datetime | None
    detail: str


class TargetIn(Body):
    kind: str = Field(pattern=r"^(Node|Namespace|PersistentVolumeClaim|Pod|Deployment|StatefulSet|Cluster)$")
    name: str = Field(pattern=NAME_PATTERN)
    namespace: str | None = Field(default=None, pattern=NAME_PATTERN)


class AuthorisationCreate(Body):
    engagement_id: str = Field(pattern=ID_PATTERN)
    cluster_id: str = Field(pattern=ID_PATTERN)
    action: ClusterAction
    target: TargetIn
    reason: str = Field(min_length=1, max_length=2000)
    ttl_minutes: int = Field(default=60, gt=0, le=24 * 60, description="expiry; default one hour")


class AuthorisationOut(BaseModel):
    authorisation_id: str
    engagement_id: str
    cluster_id: str
    action: str
    target_kind: str
    target_namespace: str | None
    target_name: str
    reason: str
    granted_by: str
    granted_at: datetime
    expires_at: datetime
    used_at: datetime | None
    used_by: str | None


class ActionIn(Body):
    action: ClusterAction
    target: TargetIn
    replicas: int | None = Field(default=None, ge=0, le=10_000, description="for scale")
    authorisation_id: str | None = Field(default=None, pattern=ID_PATTERN)


class ActionOut(BaseModel):
    action_id: str
    cluster_id: str
    action: str
    target_kind: str
    target_namespace: str | None
    target_name: str
    parameters: dict[str, Any]
    actor: str
    authorisation_id: str | None
    outcome: str
    detail: str
    at: datetime
