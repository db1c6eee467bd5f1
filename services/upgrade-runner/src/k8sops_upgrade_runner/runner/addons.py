"""The `addon` kind on the operation machinery: pre-check against the cluster's minor; on a
production cluster with a pair, the same rollout on the pair first (the stage) and the customer's
sign-off; then apply the add-on's workload through server-side apply inside the window, wait for
its rollout, and put the previous version back (or remove a fresh install) when the rollout fails.
The Helm release record follows every step (`runner/helm.py`)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import RowMapping

from k8sops_common.audit import SYSTEM_ACTOR

from ..domain.addons import FIELD_MANAGER, Addon, AddonVersion, catalogue, inventory, manifest, rollout_problem
from ..domain.operation import State, Trigger
from ..domain.paths import plural_of
from ..domain.versions import Version
from . import helm
from .baseline import record_baseline
from .cluster import ClusterClient
from .engine import RETRY_UNKNOWN_CLUSTER, Driver

Obj = dict[str, Any]
# What of a live workload is put back on rollback: its spec and the labels it carried.
KEPT_METADATA = ("labels",)


def workload_path(kind: str, namespace: str, name: str) -> str:
    return f"/apis/apps/v1/namespaces/{namespace}/{plural_of(kind)}/{name}"


def addon_of(spec: dict[str, Any]) -> tuple[Addon, AddonVersion]:
    addon = catalogue()[spec["addon"]]
    version = addon.version(spec["version"])
    assert version is not None  # the API accepts catalogued versions only
    return addon, version


class AddonDriver(Driver):
    def handlers(self) -> dict[State, Callable[[RowMapping], Awaitable[bool]]]:
        return {
            State.PLANNED: self.planned,
            State.PRECHECKING: self.prechecking,
            State.STAGING: self.staging,
            State.SCHEDULED: self.scheduled,
            State.APPLYING: self.applying,
            State.POSTCHECKING: self.postchecking,
            State.ROLLING_BACK: self.rolling_back,
        }

    async def target(self, operation: RowMapping) -> tuple[ClusterClient, dict[str, Any]] | None:
        cluster = await self.cluster(operation["cluster_id"])
        if cluster is None:
            return None
        return await self.client(cluster), dict(operation["spec"])

    async def previous_of(self, client: ClusterClient, addon: Addon, namespace: str) -> Obj | None:
        """What a rollback puts back: the live workload's spec and labels (None: not installed)."""
        live = await client.find(workload_path(addon.kind, namespace, addon.workload))
        if live is None:
            return None
        return {
            "metadata": {k: live["metadata"][k] for k in KEPT_METADATA if k in live["metadata"]},
            "spec": live["spec"],
        }

    async def prechecking(self, operation: RowMapping) -> bool:
        found = await self.target(operation)
        if found is None:
            await self.defer(self.now() + RETRY_UNKNOWN_CLUSTER)
            return False
        client, spec = found
        addon, version = addon_of(spec)
        minor = Version.parse((await client.platform_cluster())["control_plane"]["version"])
        live = await client.find(workload_path(addon.kind, spec["namespace"], addon.workload))
        spec["previous"] = await self.previous_of(client, addon, spec["namespace"])
        spec["cluster_minor"] = minor.minor_text
        installed = (
            [item for item in inventory([{**live, "kind": addon.kind}], []) if item.addon == addon.name] if live else []
        )
        from_version = installed[0].version if installed else "not installed"
        if not version.supports(minor):
            message = (
                f"{addon.name} {version.version} supports Kubernetes {version.range_text}, "
                f"this cluster runs {minor.minor_text}"
            )
            finding = {
                "code": "addon-unsupported-here",
                "severity": "blocking",
                "subject": f"add-on {addon.name} {version.version}",
                "message": message,
                "evidence": f"platform API: control plane {minor}",
                "signal": None,
            }
            await self.move(Trigger.PRECHECK_BLOCKED, message, findings=[finding], spec=spec, from_version=from_version)
            return False
        action = "upgrade" if live is not None else "install"
        await self.move(
            Trigger.PRECHECK_PASSED,
            f"{action} {addon.name} to {version.version} (supports {version.range_text}) on {minor.minor_text}",
            findings=[],
            spec=spec,
            from_version=from_version,
        )
        return True

    async def staging(self, operation: RowMapping) -> bool:
        """The same rollout on the paired non-prod cluster, put back there if it fails."""
        pair = await self.staging_pair(operation)
        if pair is None:
            return True
        client = await self.client(pair)
        spec = dict(operation["spec"])
        addon, version = addon_of(spec)
        stage = dict(operation["stage"] or {})
        if not stage:
            minor = Version.parse((await client.platform_cluster())["control_plane"]["version"])
            stage = {
                "stage_ref": f"stage-{uuid.uuid4().hex[:12]}",
                "cluster_id": pair["cluster_id"],
                "cluster_name": pair["name"],
                "cluster_minor": minor.minor_text,
                "result": "running",
                "previous": await self.previous_of(client, addon, spec["namespace"]),
            }
            await self.defer(self.now() + timedelta(seconds=self.settings.lease_ttl_s), stage=stage)
        problem: str | None
        if not version.supports(Version.parse(stage["cluster_minor"])):
            problem = f"{addon.name} {version.version} does not support {pair['name']}'s {stage['cluster_minor']}"
        else:
            stage["helm"] = await self.apply_addon(client, addon, version, spec["namespace"], stage["previous"])
            problem = await self.wait_rollout(client, addon, spec["namespace"], f"{addon.image}:v{version.version}")
            if problem:
                stage["rollback"] = await self.put_back(client, addon, spec["namespace"], stage["previous"], stage)
            elif stage["helm"]:
                await helm.record_deployed(client, spec["namespace"], stage["helm"])
        if problem:
            stage.update(result="failed", problems=[problem], finished_at=self.now().isoformat())
            await self.move(Trigger.STAGE_FAILED, problem, stage=stage, failure=f"stage on {pair['name']}: {problem}")
            return True
        stage.update(result="passed", finished_at=self.now().isoformat())
        detail = f"stage {stage['stage_ref']} passed on {pair['name']}: {addon.name} {version.version} rolled out"
        await self.move(Trigger.STAGE_PASSED, detail, stage=stage)
        return False

    async def apply_addon(
        self, client: ClusterClient, addon: Addon, version: AddonVersion, namespace: str, previous: Obj | None
    ) -> dict[str, Any] | None:
        """Namespace and workload by server-side apply, then the pending Helm revision (if any)."""
        await client.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}, FIELD_MANAGER)
        selector = ((previous or {}).get("spec", {}).get("selector") or {}).get("matchLabels")
        desired = manifest(addon, version, namespace, selector)
        await client.apply(desired, FIELD_MANAGER)
        return await helm.record_pending(client, addon, version, namespace, desired, previous is None)

    async def applying(self, operation: RowMapping) -> bool:
        found = await self.target(operation)
        assert found is not None
        client, spec = found
        addon, version = addon_of(spec)
        spec["helm"] = await self.apply_addon(client, addon, version, spec["namespace"], spec.get("previous"))
        spec["applied"] = True
        await self.move(
            Trigger.APPLIED,
            f"{addon.kind} {spec['namespace']}/{addon.workload} applied (server-side apply, field manager "
            f"{FIELD_MANAGER})",
            spec=spec,
        )
        return True

    async def postchecking(self, operation: RowMapping) -> bool:
        found = await self.target(operation)
        assert found is not None
        client, spec = found
        addon, _ = addon_of(spec)
        image = f"{addon.image}:v{spec['version']}"
        problem = await self.wait_rollout(client, addon, spec["namespace"], image, operation)
        if problem:
            await self.move(Trigger.FAILED, problem, postcheck={"problems": [problem]}, failure=f"rollout: {problem}")
            return True
        if spec.get("helm"):
            await helm.record_deployed(client, spec["namespace"], spec["helm"])
        # The add-on's new version is now the cluster's desired state (recorded first: a resumed
        # runner repeats it, but never finds the operation completed without it).
        cluster = await self.cluster(operation["cluster_id"])
        assert cluster is not None
        await record_baseline(self.context, client, cluster, SYSTEM_ACTOR, f"after operation {self.operation_id}")
        await self.move(Trigger.POSTCHECK_PASSED, f"rolled out: {image}", postcheck={"problems": []})
        return False

    async def rolling_back(self, operation: RowMapping) -> bool:
        found = await self.target(operation)
        assert found is not None
        client, spec = found
        if not spec.get("applied"):
            stage = operation["stage"] or {}
            done = stage.get("rollback") or []
            actions = [*done, f"production not touched: the stage on {stage.get('cluster_name', 'the pair')} failed"]
        else:
            actions = await self.put_back(client, catalogue()[spec["addon"]], spec["namespace"], spec["previous"], spec)
        await self.move(Trigger.ROLLBACK_DONE, "; ".join(actions), rollback={"actions": actions})
        return False

    async def put_back(
        self, client: ClusterClient, addon: Addon, namespace: str, previous: Obj | None, applied: dict[str, Any]
    ) -> list[str]:
        """The previous template re-applied and awaited, or a fresh install removed; Helm's record too."""
        path = workload_path(addon.kind, namespace, addon.workload)
        if previous is None:
            await client.delete_if_present(path)
            actions = [f"fresh install removed: {addon.kind} {namespace}/{addon.workload} deleted"]
        else:
            restored = {
                "apiVersion": "apps/v1",
                "kind": addon.kind,
                "metadata": {**previous["metadata"], "name": addon.workload, "namespace": namespace},
                "spec": previous["spec"],
            }
            await client.apply(restored, FIELD_MANAGER)
            images = [c["image"] for c in previous["spec"]["template"]["spec"]["containers"]]
            problem = await self.wait_rollout(client, addon, namespace, images[0])
            actions = [
                f"previous template re-applied ({', '.join(images)})"
                + (f"; its rollout did not finish: {problem}" if problem else "; rolled out")
            ]
        if applied.get("helm"):
            actions.append(await helm.record_rollback(client, namespace, applied["helm"], previous is None))
        return actions

    async def wait_rollout(
        self, client: ClusterClient, addon: Addon, namespace: str, image: str, since: RowMapping | None = None
    ) -> str | None:
        start = since["updated_at"] if since is not None else self.now()
        deadline = start + timedelta(seconds=self.settings.postcheck_timeout_s)
        while True:
            live = await client.find(workload_path(addon.kind, namespace, addon.workload))
            problem = (
                f"{addon.kind} {namespace}/{addon.workload} is gone"
                if live is None
                else rollout_problem({**live, "kind": addon.kind}, image)
            )
            if problem is None or self.now() >= deadline:
                return problem
            await asyncio.sleep(self.settings.platform_poll_s)
