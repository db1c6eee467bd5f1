"""The `migration` kind: provision the new cluster through the platform API, wait for the CD/CI
checklist sign-off, shift workloads one by one (start on the new cluster, verify readiness, scale
down on the old; a workload that fails is removed from the new cluster and stays on the old),
validate, and decommission the old cluster once the customer authorised it.

Each workload's phase is persisted in `spec.workloads` (pending → started → ready → moved, or
rolled_back), so a resumed runner carries on from the phase it finds."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from .. import repository
from ..domain.addons import FIELD_MANAGER, rollout_problem
from ..domain.drift import desired_object
from ..domain.migration import API_VERSIONS, draft_plan, list_path, objects_to_carry, portable
from ..domain.operation import State, Trigger
from ..domain.paths import object_path
from .cluster import ClusterClient
from .engine import RETRY_UNKNOWN_CLUSTER, Driver
from .platform_api import PlatformError, platform_request

CHECKLIST = (
    "CD pipeline deploys to the new cluster (credentials, kube context, image pull secrets)",
    "CI runs its smoke tests against the new cluster",
    "DNS and ingress for the shifted workloads point at the new cluster's load balancer",
    "secrets and config maps the workloads need exist on the new cluster",
)


def workload_ref(kind: str, namespace: str, name: str) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name, "namespace": namespace}}


class MigrationDriver(Driver):
    def handlers(self) -> dict[State, Callable[[RowMapping], Awaitable[bool]]]:
        return {
            State.PLANNED: self.planned,
            State.PRECHECKING: self.provisioning,
            State.SCHEDULED: self.scheduled,
            State.APPLYING: self.shifting,
            State.POSTCHECKING: self.validating,
            State.DECOMMISSIONING: self.decommissioning,
        }

    async def save_spec(self, spec: dict[str, Any]) -> None:
        async def apply(session: AsyncSession) -> None:
            await repository.update_operation(session, self.operation_id, {"spec": spec})

        await self.save(apply)

    async def clusters(self, operation: RowMapping) -> tuple[ClusterClient, ClusterClient]:
        old = await self.cluster(operation["cluster_id"])
        assert old is not None
        new = operation["spec"]["new_cluster"]
        target = {"name": new["name"], "api_endpoint": new["kubernetes_api_url"]}
        return await self.client(old), await self.client(target)

    async def provisioning(self, operation: RowMapping) -> bool:
        if await self.cluster(operation["cluster_id"]) is None:
            await self.defer(self.now() + RETRY_UNKNOWN_CLUSTER)
            return False
        spec = dict(operation["spec"])
        if spec.get("new_cluster") is None:
            spec = await self.draft(operation)
        new = dict(spec["new_cluster"])
        if not spec["workloads"]:
            message = "the old cluster runs no Deployment or StatefulSet outside the system namespaces to migrate"
            blocked = {"code": "nothing-to-migrate", "severity": "blocking", "subject": "workloads"}
            findings = [{**blocked, "message": message, "evidence": "Kubernetes API", "signal": None}]
            await self.move(Trigger.PRECHECK_BLOCKED, message, findings=findings, spec=spec)
            return False
        try:
            try:
                described = await platform_request(self.http, self.settings, "GET", f"/v1/clusters/{new['name']}")
            except PlatformError as missing:
                if missing.status != 404:
                    raise
                body = {key: new[key] for key in ("name", "version", "node_pools")}
                described = await platform_request(self.http, self.settings, "POST", "/v1/clusters", body)
        except PlatformError as refused:
            finding = {
                "code": "provisioning-refused",
                "severity": "blocking",
                "subject": f"new cluster {new['name']}",
                "message": refused.detail,
                "evidence": f"platform API {refused.status} {refused.problem_type}",
                "signal": None,
            }
            await self.move(Trigger.PRECHECK_BLOCKED, refused.detail, findings=[finding])
            return False
        new["kubernetes_api_url"] = described["kubernetes_api_url"]
        spec["new_cluster"] = new
        checklist = {
            "stage_ref": f"checklist-{uuid.uuid4().hex[:12]}",
            "result": "passed",
            "cluster_name": new["name"],
            "checklist": list(CHECKLIST),
        }
        detail = (
            f"new cluster {new['name']} running {described['control_plane']['version']}; the CD/CI checklist "
            f"{checklist['stage_ref']} waits for the customer's sign-off"
        )
        await self.move(
            Trigger.PRECHECK_PASSED, detail, spec=spec, stage=checklist, findings=[], to_version=new["version"]
        )
        return False

    async def draft(self, operation: RowMapping) -> dict[str, Any]:
        """A plan from a `migration` request: drafted from the old cluster, kept before provisioning."""
        old = await self.cluster(operation["cluster_id"])
        assert old is not None
        client = await self.client(old)
        drafted = draft_plan(old["name"], self.operation_id, await client.platform_cluster(), await client.workloads())
        spec = {**operation["spec"], **drafted}
        await self.save_spec(spec)
        return spec

    async def shifting(self, operation: RowMapping) -> bool:
        old, new = await self.clusters(operation)
        spec = dict(operation["spec"])
        if "objects" not in spec:
            namespaces = sorted({w["namespace"] for w in spec["workloads"]})
            await self.ensure_namespaces(new, namespaces)
            listed = {}
            for kind in API_VERSIONS:
                for namespace in namespaces:
                    found = await old.find(list_path(kind, namespace))
                    listed[f"{kind} {namespace}"] = (found or {}).get("items") or []
            moved = []
            for w in spec["workloads"]:
                live = await old.find(object_path(workload_ref(w["kind"], w["namespace"], w["name"])))
                moved += [{**live, "kind": w["kind"]}] if live is not None else []
            spec["objects"] = objects_to_carry(listed, moved)
            await self.save_spec(spec)
        await self.carry(old, new, spec, "before")
        for workload in spec["workloads"]:
            if workload["phase"] == "rolled_back":
                workload.update(phase="pending", detail="retried")
            while workload["phase"] not in ("moved", "rolled_back"):
                await self.shift_step(old, new, workload)
                await self.save_spec(spec)
        failed = [w for w in spec["workloads"] if w["phase"] == "rolled_back"]
        if failed:
            detail = "; ".join(f"{w['kind']} {w['namespace']}/{w['name']}: {w['detail']}" for w in failed)
            await self.move(Trigger.SHIFT_INCOMPLETE, f"moved back to the old cluster: {detail}", spec=spec)
            return False
        await self.carry(old, new, spec, "after")
        carried = sum(1 for o in spec["objects"] if o["phase"] == "copied")
        detail = f"{len(spec['workloads'])} workload(s) shifted, {carried} object(s) of their namespaces copied"
        await self.move(Trigger.APPLIED, detail, spec=spec)
        return True

    async def ensure_namespaces(self, new: ClusterClient, namespaces: list[str]) -> None:
        for namespace in namespaces:
            await new.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}, FIELD_MANAGER)

    async def carry(self, old: ClusterClient, new: ClusterClient, spec: dict[str, Any], stage: str) -> None:
        """The namespace's objects of one stage to the new cluster by server-side apply, in
        order; each one's phase persisted, so a resumed runner copies only what is left."""
        for entry in spec["objects"]:
            if entry["stage"] != stage or entry["phase"] != "pending":
                continue
            live = await old.find(f"{list_path(entry['kind'], entry['namespace'])}/{entry['name']}")
            if live is None:
                entry.update(phase="skipped", detail="gone from the old cluster")
            else:
                await new.apply(portable(entry["kind"], live), FIELD_MANAGER)
                entry.update(phase="copied", detail="applied on the new cluster")
            await self.save_spec(spec)

    async def shift_step(self, old: ClusterClient, new: ClusterClient, workload: dict[str, Any]) -> None:
        """One phase of one workload; idempotent, so a resumed runner may repeat it."""
        path = object_path(workload_ref(workload["kind"], workload["namespace"], workload["name"]))
        if workload["phase"] == "pending":
            live = await old.find(path)
            if live is None:
                workload.update(phase="rolled_back", detail="not found on the old cluster")
                return
            desired = desired_object({**live, "kind": workload["kind"]})
            workload.setdefault("replicas", int(desired["spec"].get("replicas", 1)))
            desired["spec"]["replicas"] = workload["replicas"]
            namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": workload["namespace"]}}
            await new.apply(namespace, FIELD_MANAGER)
            await new.apply(desired, FIELD_MANAGER)
            workload.update(
                phase="started", detail=f"started on the new cluster with {workload['replicas']} replica(s)"
            )
        elif workload["phase"] == "started":
            problem = await self.wait_ready(new, path, workload["kind"])
            if problem is None:
                workload.update(phase="ready", detail="ready on the new cluster")
            else:
                await new.delete_if_present(path)
                workload.update(phase="rolled_back", detail=f"not ready on the new cluster ({problem}); removed there")
        elif workload["phase"] == "ready":
            await old.scale(workload["kind"], workload["namespace"], workload["name"], 0)
            workload.update(phase="moved", detail="ready on the new cluster; scaled to 0 on the old")

    async def wait_ready(self, client: ClusterClient, path: str, kind: str) -> str | None:
        deadline = self.now() + timedelta(seconds=self.settings.postcheck_timeout_s)
        while True:
            live = await client.find(path)
            problem = "gone" if live is None else rollout_problem({**live, "kind": kind}, path.rsplit("/", 1)[-1])
            if problem is None or self.now() >= deadline:
                return problem
            await asyncio.sleep(self.settings.platform_poll_s)

    async def validating(self, operation: RowMapping) -> bool:
        old, new = await self.clusters(operation)
        problems = []
        for workload in operation["spec"]["workloads"]:
            ref = workload_ref(workload["kind"], workload["namespace"], workload["name"])
            name = f"{workload['kind']} {workload['namespace']}/{workload['name']}"
            problem = await self.wait_ready(new, object_path(ref), workload["kind"])
            if problem:
                problems.append(f"{name} on the new cluster: {problem}")
            previous = await old.find(object_path(ref))
            if previous is not None and int(previous["spec"].get("replicas", 0)):
                problems.append(f"{name} still has {previous['spec']['replicas']} replica(s) on the old cluster")
        if problems:
            await self.move(Trigger.SHIFT_INCOMPLETE, "; ".join(problems), postcheck={"problems": problems})
            return False
        detail = "every workload ready on the new cluster and scaled down on the old; decommission needs authorisation"
        await self.move(Trigger.POSTCHECK_PASSED, detail, postcheck={"problems": []})
        return False

    async def decommissioning(self, operation: RowMapping) -> bool:
        old, _ = await self.clusters(operation)
        try:
            await platform_request(self.http, self.settings, "DELETE", await old.platform_path())
        except PlatformError as gone:
            if gone.status != 404:
                raise
        authorisation = operation["spec"].get("decommission_authorisation_id")
        await self.move(Trigger.DECOMMISSIONED, f"old cluster deleted (authorisation {authorisation})")
        return False
