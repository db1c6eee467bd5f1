"""The control loop that makes the cluster live: workload controllers, a scheduler and kubelets.

It reconciles only when something changed or a timer (a node coming back, a container starting)
is due, so a 10,000-pod cluster sits idle between changes.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from .cluster import NODES, PDBS, PODS, ClusterState
from .kubelet import SchedulerAndKubelet
from .objects import controller_of, owner_reference, short_hash
from .store import Obj, WatchEvent
from .termination import remove_terminated, terminating

DEPLOYMENTS, REPLICASETS = "apps/deployments", "apps/replicasets"
STATEFULSETS, DAEMONSETS = "apps/statefulsets", "apps/daemonsets"
HPAS = "autoscaling/horizontalpodautoscalers"


class Controller(SchedulerAndKubelet):
    def __init__(self, cluster: ClusterState) -> None:
        self.cluster = cluster
        self.store = cluster.store
        self.dirty = True
        self._cursor = 0
        self._sequence: dict[str, itertools.count[int]] = defaultdict(itertools.count)
        self._crashlooping: dict[tuple[str, str], float] = {}
        self._events = itertools.count(1)
        self._task: asyncio.Task[None] | None = None
        # Per pass: requested cpu, memory and pod count per node, and the nodes taking new pods.
        self._node_usage: dict[str, list[float]] = {}
        self._schedulable: list[Obj] = []
        # A pod's requests never change, and parsing them for 10,000 pods took most of a pass.
        self._requests: dict[str, tuple[float, float]] = {}
        self.store.listeners.append(self._on_change)
        cluster.faults.listeners.append(self.mark_dirty)

    def _on_change(self, event: WatchEvent) -> None:
        self.dirty = True

    def mark_dirty(self) -> None:
        self.dirty = True

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"controller-{self.cluster.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.cluster.scenario.timing.controller_interval_seconds)
            if not self.dirty:
                # Only timers may be due: run them alone, a full pass over a 10,000-pod cluster
                # blocks the API for a long while. Whatever they change marks the store dirty.
                now = time.monotonic()
                self._nodes_coming_back(now, instant=False)
                self._start_containers(now, instant=False)
                self._crashloop_restarts(now)
                remove_terminated(self.cluster, now, instant=False)
            if self.dirty:
                self.reconcile()

    # --- one pass --------------------------------------------------------------------------
    def reconcile(self, instant: bool = False) -> None:
        """One pass over the cluster; `instant` starts everything at once (used when seeding)."""
        self.dirty = False
        now = time.monotonic()
        self._nodes_coming_back(now, instant)
        remove_terminated(self.cluster, now, instant)
        nodes = list(self.store.items(NODES))
        pods = list(self.store.items(PODS))
        self._node_usage = self._usage(nodes, pods)
        self._schedulable = [n for n in nodes if not n["spec"].get("unschedulable") and self.cluster.node_ready(n)]
        self._deployments()
        pods_by_owner: dict[str, list[Obj]] = defaultdict(list)
        for pod in self.store.items(PODS):
            owner = controller_of(pod)
            if owner is not None:
                pods_by_owner[owner["uid"]].append(pod)
        self._replicasets(pods_by_owner, instant)
        self._statefulsets(pods_by_owner, instant)
        self._daemonsets(pods_by_owner, nodes, instant)
        self._collect_orphans()
        self._schedule_pending(instant)
        self._start_containers(now, instant)
        self._crashloop_restarts(now)
        self._budgets()

    def _nodes_coming_back(self, now: float, instant: bool) -> None:
        for name, ready_at in list(self.cluster.node_ready_at.items()):
            if ready_at <= now or instant:
                del self.cluster.node_ready_at[name]
                if self.store.find(NODES, "", name) is not None:
                    self.cluster.set_node_ready(name, True)

    def _usage(self, nodes: list[Obj], pods: list[Obj]) -> dict[str, list[float]]:
        usage = {n["metadata"]["name"]: [0.0, 0.0, 0.0] for n in nodes}
        if len(self._requests) > 2 * len(pods):
            self._requests.clear()  # forget pods long gone
        for pod in pods:
            node = pod["spec"].get("nodeName")
            if node in usage and pod["status"].get("phase") not in ("Succeeded", "Failed"):
                uid = pod["metadata"]["uid"]
                if uid not in self._requests:
                    self._requests[uid] = ClusterState.pod_requests(pod)
                cpu, memory = self._requests[uid]
                entry = usage[node]
                entry[0] += cpu
                entry[1] += memory
                entry[2] += 1
        return usage

    # --- workload controllers --------------------------------------------------------------
    def _deployments(self) -> None:
        replicasets_by_owner: dict[str, list[Obj]] = defaultdict(list)
        for rs in self.store.items(REPLICASETS):
            owner = controller_of(rs)
            if owner is not None:
                replicasets_by_owner[owner["uid"]].append(rs)
        for deployment in list(self.store.items(DEPLOYMENTS)):
            meta, spec = deployment["metadata"], deployment["spec"]
            template_hash = short_hash(json.dumps(spec["template"], sort_keys=True), 10)
            rs_name = f"{meta['name']}-{template_hash}"
            replicas = int(spec.get("replicas", 1))
            current = None
            for rs in replicasets_by_owner.get(meta["uid"], []):
                if rs["metadata"]["name"] == rs_name:
                    current = rs
                else:
                    self.store.delete(REPLICASETS, meta["namespace"], rs["metadata"]["name"])
            if current is None:
                template = copy.deepcopy(spec["template"])
                template["metadata"].setdefault("labels", {})["pod-template-hash"] = template_hash
                selector = copy.deepcopy(spec["selector"])
                selector.setdefault("matchLabels", {})["pod-template-hash"] = template_hash
                current = self.store.create(
                    REPLICASETS,
                    {
                        "apiVersion": "apps/v1",
                        "kind": "ReplicaSet",
                        "metadata": {
                            "name": rs_name,
                            "namespace": meta["namespace"],
                            "labels": dict(template["metadata"]["labels"]),
                            "annotations": {"deployment.kubernetes.io/revision": "1"},
                            "ownerReferences": [owner_reference(deployment)],
                        },
                        "spec": {"replicas": replicas, "selector": selector, "template": template},
                    },
                )
            elif int(current["spec"].get("replicas", 0)) != replicas:
                current = self.store.mutate(
                    REPLICASETS,
                    meta["namespace"],
                    rs_name,
                    _set_replicas(replicas),
                )
            rs_status = current.get("status", {})
            ready = int(rs_status.get("readyReplicas", 0))
            self._set_status(
                DEPLOYMENTS,
                deployment,
                {
                    "observedGeneration": meta.get("generation", 1),
                    "replicas": int(rs_status.get("replicas", 0)),
                    "updatedReplicas": int(rs_status.get("replicas", 0)),
                    "readyReplicas": ready,
                    "availableReplicas": ready,
                    "unavailableReplicas": max(0, replicas - ready),
                    "conditions": [
                        {
                            "type": "Available",
                            "status": "True" if ready >= replicas else "False",
                            "reason": "MinimumReplicasAvailable" if ready >= replicas else "MinimumReplicasUnavailable",
                        }
                    ],
                },
            )

    def _replicasets(self, pods_by_owner: dict[str, list[Obj]], instant: bool) -> None:
        for rs in list(self.store.items(REPLICASETS)):
            meta = rs["metadata"]
            owned = [p for p in pods_by_owner.get(meta["uid"], []) if _alive(p)]
            desired = int(rs["spec"].get("replicas", 0))
            for _ in range(desired - len(owned)):
                name = self._fresh_name(meta["namespace"], meta["name"], meta["uid"])
                owned.append(self._create_pod(rs, name, rs["spec"]["template"], None, instant))
            if len(owned) > desired:
                # Like the ReplicaSet controller: remove unscheduled, then not-ready pods first.
                owned.sort(key=lambda p: (bool(p["spec"].get("nodeName")), self.cluster.pod_ready(p)))
                for pod in owned[: len(owned) - desired]:
                    self.store.delete(PODS, pod["metadata"]["namespace"], pod["metadata"]["name"])
                owned = owned[len(owned) - desired :]
            self._set_replica_status(REPLICASETS, rs, owned)

    def _statefulsets(self, pods_by_owner: dict[str, list[Obj]], instant: bool) -> None:
        for sts in list(self.store.items(STATEFULSETS)):
            meta = sts["metadata"]
            owned = {p["metadata"]["name"]: p for p in pods_by_owner.get(meta["uid"], []) if _alive(p)}
            desired = int(sts["spec"].get("replicas", 1))
            for index in range(desired):
                name = f"{meta['name']}-{index}"
                if name not in owned and self.store.find(PODS, meta["namespace"], name) is None:
                    template = copy.deepcopy(sts["spec"]["template"])
                    template["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"] = name
                    owned[name] = self._create_pod(sts, name, template, None, instant)
            for name in list(owned):
                if int(name.rsplit("-", 1)[1]) >= desired:
                    self.store.delete(PODS, meta["namespace"], name)
                    del owned[name]
            self._set_replica_status(STATEFULSETS, sts, list(owned.values()))

    def _daemonsets(self, pods_by_owner: dict[str, list[Obj]], nodes: list[Obj], instant: bool) -> None:
        node_names = {n["metadata"]["name"] for n in nodes}
        for ds in list(self.store.items(DAEMONSETS)):
            meta = ds["metadata"]
            by_node = {p["spec"].get("nodeName"): p for p in pods_by_owner.get(meta["uid"], [])}
            for node_name in sorted(node_names - set(by_node)):
                name = f"{meta['name']}-{short_hash(node_name, 5)}"
                if self.store.find(PODS, meta["namespace"], name) is None:
                    by_node[node_name] = self._create_pod(ds, name, ds["spec"]["template"], node_name, instant)
            for node_name, pod in list(by_node.items()):
                if node_name not in node_names:
                    self.store.delete(PODS, meta["namespace"], pod["metadata"]["name"])
                    del by_node[node_name]
            ready = sum(1 for p in by_node.values() if self.cluster.pod_ready(p))
            self._set_status(
                DAEMONSETS,
                ds,
                {
                    "observedGeneration": meta.get("generation", 1),
                    "desiredNumberScheduled": len(node_names),
                    "currentNumberScheduled": len(by_node),
                    "updatedNumberScheduled": len(by_node),
                    "numberReady": ready,
                    "numberAvailable": ready,
                    "numberUnavailable": len(node_names) - ready,
                    "numberMisscheduled": 0,
                },
            )

    def _collect_orphans(self) -> None:
        """Garbage collection: pods whose controller is gone, pods bound to a vanished node."""
        live_uids = {
            obj["metadata"]["uid"]
            for key in (REPLICASETS, STATEFULSETS, DAEMONSETS, DEPLOYMENTS)
            for obj in self.store.items(key)
        }
        for key in (REPLICASETS, PODS):
            for obj in list(self.store.items(key)):
                owner = controller_of(obj)
                node = obj.get("spec", {}).get("nodeName") if key == PODS else None
                gone_node = node is not None and node not in self._node_usage
                if (owner is not None and owner["uid"] not in live_uids) or gone_node:
                    self.store.delete(key, obj["metadata"]["namespace"], obj["metadata"]["name"])

    # --- statuses --------------------------------------------------------------------------
    def _set_replica_status(self, key: str, obj: Obj, pods: list[Obj]) -> None:
        ready = sum(1 for p in pods if self.cluster.pod_ready(p))
        status: dict[str, Any] = {
            "observedGeneration": obj["metadata"].get("generation", 1),
            "replicas": len(pods),
            "readyReplicas": ready,
            "availableReplicas": ready,
        }
        if key == REPLICASETS:
            status["fullyLabeledReplicas"] = len(pods)
        else:
            status["currentReplicas"] = status["updatedReplicas"] = len(pods)
        self._set_status(key, obj, status)

    def _budgets(self) -> None:
        for pdb in list(self.store.items(PDBS)):
            status = self.cluster.pdb_status(pdb)
            allowed = status["disruptionsAllowed"] > 0
            self._set_status(
                PDBS,
                pdb,
                {
                    "observedGeneration": pdb["metadata"].get("generation", 1),
                    **status,
                    "conditions": [
                        {
                            "type": "DisruptionAllowed",
                            "status": "True" if allowed else "False",
                            "reason": "SufficientPods" if allowed else "InsufficientPods",
                            "message": "",
                            "observedGeneration": pdb["metadata"].get("generation", 1),
                            "lastTransitionTime": self.cluster.now_iso(),
                        }
                    ],
                },
            )
        for hpa in list(self.store.items(HPAS)):
            target = hpa["spec"]["scaleTargetRef"]
            workload = self.store.find(f"apps/{target['kind'].lower()}s", hpa["metadata"]["namespace"], target["name"])
            replicas = int(workload["spec"].get("replicas", 0)) if workload else 0
            self._set_status(HPAS, hpa, {"currentReplicas": replicas, "desiredReplicas": replicas})

    def _set_status(self, key: str, obj: Obj, status: dict[str, Any]) -> None:
        """Write a status only when it changed (ignoring timestamps), so idle clusters stay idle."""
        current = obj.get("status") or {}
        if _without_times(current) == _without_times(status):
            return
        meta = obj["metadata"]
        self.store.mutate(key, meta.get("namespace", ""), meta["name"], lambda o: o.__setitem__("status", status))


def _set_replicas(replicas: int) -> Callable[[Obj], None]:
    def change(obj: Obj) -> None:
        obj["spec"]["replicas"] = replicas

    return change


def _alive(pod: Obj) -> bool:
    """Counts as a replica: a terminating pod does not, so its replacement starts at once."""
    return pod["status"].get("phase") not in ("Succeeded", "Failed") and not terminating(pod)


def _without_times(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_times(v) for k, v in value.items() if k != "lastTransitionTime"}
    if isinstance(value, list):
        return [_without_times(v) for v in value]
    return value
