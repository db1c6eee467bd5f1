"""The `addon` kind on the operation machinery: pre-check against the cluster's minor, apply the
add-on's workload through server-side apply inside the window, wait for its rollout, and put the
previous version back (or remove a fresh install) when the rollout fails."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import RowMapping

from k8sops_common.audit import SYSTEM_ACTOR

from ..domain.addons import FIELD_MANAGER, catalogue, inventory, manifest, rollout_problem
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


class AddonDriver(Driver):
    def handlers(self) -> dict[State, Callable[[RowMapping], Awaitable[bool]]]:
        return {
            State.PLANNED: self.planned,
            State.PRECHECKING: self.prechecking,
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

    async def prechecking(self, operation: RowMapping) -> bool:
        found = await self.target(operation)
        if found is None:
            await self.defer(self.now() + RETRY_UNKNOWN_CLUSTER)
            return False
        client, spec = found
        addon = catalogue()[spec["addon"]]
        version = addon.version(spec["version"])
        assert version is not None  # the API accepts catalogued versions only
        minor = Version.parse((await client.platform_cluster())["control_plane"]["version"])
        live = await client.find(workload_path(addon.kind, spec["namespace"], addon.workload))
        spec["previous"] = (
            {"metadata": {k: live["metadata"][k] for k in KEPT_METADATA if k in live["metadata"]}, "spec": live["spec"]}
            if live is not None
            else None
        )
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

    async def applying(self, operation: RowMapping) -> bool:
        found = await self.target(operation)
        assert found is not None
        client, spec = found
        addon = catalogue()[spec["addon"]]
        version = addon.version(spec["version"])
        assert version is not None
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": spec["namespace"]}}
        await client.apply(namespace, FIELD_MANAGER)
        previous = spec.get("previous")
        selector = ((previous or {}).get("spec", {}).get("selector") or {}).get("matchLabels")
        desired = manifest(addon, version, spec["namespace"], selector)
        applied = await client.apply(desired, FIELD_MANAGER)
        spec["helm"] = await helm.record_pending(client, addon, version, spec["namespace"], desired, previous is None)
        await self.move(
            Trigger.APPLIED,
            f"{addon.kind} {spec['namespace']}/{addon.workload} applied at generation "
            f"{applied['metadata'].get('generation')} (server-side apply, field manager {FIELD_MANAGER})",
            spec=spec,
        )
        return True

    async def postchecking(self, operation: RowMapping) -> bool:
        found = await self.target(operation)
        assert found is not None
        client, spec = found
        addon = catalogue()[spec["addon"]]
        image = f"{addon.image}:v{spec['version']}"
        problem = await self.wait_rollout(client, addon.kind, spec["namespace"], addon.workload, image, operation)
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
        addon = catalogue()[spec["addon"]]
        path = workload_path(addon.kind, spec["namespace"], addon.workload)
        previous = spec.get("previous")
        if previous is None:
            await client.delete_if_present(path)
            action = f"fresh install removed: {addon.kind} {spec['namespace']}/{addon.workload} deleted"
        else:
            restored = {
                "apiVersion": "apps/v1",
                "kind": addon.kind,
                "metadata": {**previous["metadata"], "name": addon.workload, "namespace": spec["namespace"]},
                "spec": previous["spec"],
            }
            await client.apply(restored, FIELD_MANAGER)
            images = [c["image"] for c in previous["spec"]["template"]["spec"]["containers"]]
            problem = await self.wait_rollout(client, addon.kind, spec["namespace"], addon.workload, images[0], None)
            action = f"previous template re-applied ({', '.join(images)})" + (
                f"; its rollout did not finish: {problem}" if problem else "; rolled out"
            )
        actions = [action]
        if spec.get("helm"):
            actions.append(await helm.record_rollback(client, spec["namespace"], spec["helm"], previous is None))
        await self.move(Trigger.ROLLBACK_DONE, "; ".join(actions), rollback={"actions": actions})
        return False

    async def wait_rollout(
        self, client: ClusterClient, kind: str, namespace: str, name: str, image: str, since: RowMapping | None
    ) -> str | None:
        start = since["updated_at"] if since is not None else self.now()
        deadline = start + timedelta(seconds=self.settings.postcheck_timeout_s)
        while True:
            live = await client.find(workload_path(kind, namespace, name))
            problem = (
                f"{kind} {namespace}/{name} is gone" if live is None else rollout_problem({**live, "kind": kind}, image)
            )
            if problem is None or self.now() >= deadline:
                return problem
            await asyncio.sleep(self.settings.platform_poll_s)
