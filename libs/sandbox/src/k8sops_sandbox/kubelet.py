"""The scheduler and the kubelets of the sandbox's control loop: binding pods to nodes (first fit
from a rotating start), starting their containers once due (or crash-looping them under a fault),
and the events they report. A part of `Controller`, which owns the state named below."""

from __future__ import annotations

import hashlib
import itertools
import time
from typing import Any

from .cluster import NODES, PODS, ClusterState
from .objects import make_pod, short_hash
from .quantity import parse_quantity
from .store import Obj, Store

CRASHLOOP_RESTART_SECONDS = 5.0


class SchedulerAndKubelet:
    cluster: ClusterState
    store: Store
    _cursor: int
    _sequence: dict[str, itertools.count[int]]
    _crashlooping: dict[tuple[str, str], float]
    _events: itertools.count[int]
    _node_usage: dict[str, list[float]]
    _schedulable: list[Obj]

    def _fresh_name(self, namespace: str, prefix: str, uid: str) -> str:
        while True:
            name = f"{prefix}-{short_hash(f'{prefix}/{next(self._sequence[uid])}', 5)}"
            if self.store.find(PODS, namespace, name) is None:
                return name

    def _pick_node(self, pod: Obj) -> str | None:
        """First fit from a rotating start: spreads pods and stays O(1) for large clusters."""
        cpu, memory = ClusterState.pod_requests(pod)
        candidates = self._schedulable
        for offset in range(len(candidates)):
            index = (self._cursor + offset) % len(candidates)
            node = candidates[index]
            used = self._node_usage[node["metadata"]["name"]]
            allocatable = node["status"]["allocatable"]
            if (
                used[0] + cpu <= parse_quantity(allocatable["cpu"]) + 1e-9
                and used[1] + memory <= parse_quantity(allocatable["memory"])
                and used[2] + 1 <= int(allocatable.get("pods", 110))
            ):
                self._cursor = index + 1
                used[0] += cpu
                used[1] += memory
                used[2] += 1
                return str(node["metadata"]["name"])
        return None

    def _create_pod(self, owner: Obj, name: str, template: dict[str, Any], node: str | None, instant: bool) -> Obj:
        pod = make_pod(owner, name, template, node)
        if node is None:
            node = self._pick_node(pod)
            if node is not None:
                pod["spec"]["nodeName"] = node
        elif node in self._node_usage:
            # DaemonSet pods are bound directly, but still take their share of the node.
            cpu, memory = ClusterState.pod_requests(pod)
            usage = self._node_usage[node]
            usage[0], usage[1], usage[2] = usage[0] + cpu, usage[1] + memory, usage[2] + 1
        now = self.cluster.now_iso()
        if node is not None:
            pod["status"]["conditions"] = [_condition("PodScheduled", "True", now)]
            pod["status"]["hostIP"] = self._host_ip(node)
            if instant:
                # Seeding: the pod is created already running, without a second write.
                self._run_containers(pod)
                return self.store.create(PODS, pod)
        pod = self.store.create(PODS, pod)
        if node is not None:
            self._queue_start(pod)
        return pod

    def _host_ip(self, node_name: str) -> str:
        node = self.store.find(NODES, "", node_name)
        addresses = node["status"]["addresses"] if node else []
        return next((a["address"] for a in addresses if a["type"] == "InternalIP"), "")

    def _queue_start(self, pod: Obj) -> None:
        meta = pod["metadata"]
        delay = self.cluster.scenario.timing.pod_start_seconds
        self.cluster.pod_start_at[f"{meta['namespace']}/{meta['name']}"] = time.monotonic() + delay

    def _schedule_pending(self, instant: bool) -> None:
        for pod in list(self.store.items(PODS)):
            if pod["status"].get("phase") != "Pending":
                continue
            if pod["spec"].get("nodeName"):
                # Created already bound (the client set nodeName): no scheduling, the kubelet starts it.
                if f"{pod['metadata']['namespace']}/{pod['metadata']['name']}" not in self.cluster.pod_start_at:
                    self._queue_start(pod)
                continue
            node = self._pick_node(pod)
            meta = pod["metadata"]
            now = self.cluster.now_iso()
            if node is not None:
                host_ip = self._host_ip(node)

                def bind(p: Obj, node: str = node, host_ip: str = host_ip, now: str = now) -> None:
                    p["spec"]["nodeName"] = node
                    p["status"]["conditions"] = [_condition("PodScheduled", "True", now)]
                    p["status"]["hostIP"] = host_ip

                pod = self.store.mutate(PODS, meta["namespace"], meta["name"], bind)
                if instant:
                    self.store.mutate(PODS, meta["namespace"], meta["name"], self._run_containers)
                else:
                    self._queue_start(pod)
                continue
            if any(c.get("reason") == "Unschedulable" for c in pod["status"].get("conditions", [])):
                continue
            total = len(self._node_usage)
            message = (
                f"0/{total} nodes are available: {total - len(self._schedulable)} node(s) were "
                f"unschedulable or not ready, {len(self._schedulable)} Insufficient cpu or memory."
            )

            def unschedulable(p: Obj, message: str = message, now: str = now) -> None:
                p["status"]["conditions"] = [
                    {**_condition("PodScheduled", "False", now), "reason": "Unschedulable", "message": message}
                ]

            self.store.mutate(PODS, meta["namespace"], meta["name"], unschedulable)
            self._event(pod, "Warning", "FailedScheduling", message)

    def _start_containers(self, now: float, instant: bool) -> None:
        for key, start_at in list(self.cluster.pod_start_at.items()):
            if start_at > now and not instant:
                continue
            namespace, name = key.split("/", 1)
            pod = self.store.find(PODS, namespace, name)
            if pod is None:
                del self.cluster.pod_start_at[key]
                continue
            node = self.store.find(NODES, "", pod["spec"].get("nodeName", ""))
            if node is None or not self.cluster.node_ready(node):
                continue  # the kubelet starts it once the node is back
            del self.cluster.pod_start_at[key]
            if pod["status"].get("phase") == "Pending":
                self.store.mutate(PODS, namespace, name, self._run_containers)

    def _run_containers(self, pod: Obj) -> None:
        """What the kubelet reports once a pod's containers start (or crash, under the fault)."""
        meta = pod["metadata"]
        workload = self.cluster.workload_of(pod)
        crashloop = (
            workload is not None
            and pod["spec"].get("nodeName") in self.cluster.upgraded_nodes
            and self.cluster.faults.crashloops(self.cluster.name, f"{meta['namespace']}/{workload[1]}")
        )
        now = self.cluster.now_iso()
        octets = hashlib_octets(f"{meta['namespace']}/{meta['name']}")
        pod_ip = f"10.244.{octets[0]}.{octets[1]}"
        statuses = []
        pulls = {
            c["image"]: self.cluster.faults.pull_failure(self.cluster.name, c["image"])
            for c in pod["spec"]["containers"]
        }
        unpullable = [image for image, failure in pulls.items() if failure]
        for container in pod["spec"]["containers"]:
            state: dict[str, Any]
            if pulls[container["image"]]:
                state = dict(pulls[container["image"]] or {})
            elif crashloop:
                state = {
                    "waiting": {
                        "reason": "CrashLoopBackOff",
                        "message": f"back-off 10s restarting failed container={container['name']}",
                    }
                }
            else:
                state = {"running": {"startedAt": now}}
            statuses.append(
                {
                    "name": container["name"],
                    "image": container["image"],
                    "imageID": f"{container['image']}@sha256:{short_hash(container['image'], 12)}",
                    "containerID": f"containerd://{short_hash(meta['name'] + container['name'], 20)}",
                    "ready": not crashloop and container["image"] not in unpullable,
                    "started": not crashloop and container["image"] not in unpullable,
                    "restartCount": 1 if crashloop else 0,
                    "state": state,
                }
            )
        ready = "False" if crashloop or unpullable else "True"
        pod["status"].update(
            {
                "phase": "Running",
                "podIP": pod_ip,
                "podIPs": [{"ip": pod_ip}],
                "startTime": now,
                "containerStatuses": statuses,
                "conditions": [
                    _condition("Initialized", "True", now),
                    _condition("Ready", ready, now),
                    _condition("ContainersReady", ready, now),
                    _condition("PodScheduled", "True", now),
                ],
            }
        )
        if crashloop:
            self._crashlooping[(meta["namespace"], meta["name"])] = time.monotonic()

    def _crashloop_restarts(self, now: float) -> None:
        for (namespace, name), last in list(self._crashlooping.items()):
            if self.store.find(PODS, namespace, name) is None:
                del self._crashlooping[(namespace, name)]
            elif now - last >= CRASHLOOP_RESTART_SECONDS:
                self._crashlooping[(namespace, name)] = now

                def restart(p: Obj) -> None:
                    for status in p["status"].get("containerStatuses", []):
                        status["restartCount"] += 1

                self.store.mutate(PODS, namespace, name, restart)

    def _event(self, obj: Obj, kind: str, reason: str, message: str) -> None:
        meta = obj["metadata"]
        now = self.cluster.now_iso()
        self.store.create(
            "events",
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": f"{meta['name']}.{next(self._events):016x}", "namespace": meta["namespace"]},
                "involvedObject": {
                    "apiVersion": obj["apiVersion"],
                    "kind": obj["kind"],
                    "name": meta["name"],
                    "namespace": meta["namespace"],
                    "uid": meta["uid"],
                },
                "type": kind,
                "reason": reason,
                "message": message,
                "source": {"component": "default-scheduler"},
                "firstTimestamp": now,
                "lastTimestamp": now,
                "count": 1,
            },
        )


def hashlib_octets(text: str) -> tuple[int, int]:
    digest = hashlib.sha256(text.encode()).digest()
    return digest[0], digest[1] % 254 + 1


def _condition(kind: str, status: str, now: str) -> dict[str, Any]:
    return {"type": kind, "status": status, "lastProbeTime": None, "lastTransitionTime": now}
