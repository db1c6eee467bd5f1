"""Synthetic, reproducible container usage: a pure function of (scenario seed, container, time).

CPU follows a daily and an hourly wave around a mean fraction of the request; the cumulative
counter `container_cpu_usage_seconds_total` is the closed-form integral of that rate, so `rate()`
over any window is exact and the same query gives the same answer in every run.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from typing import Any

from .cluster import ClusterState
from .quantity import parse_quantity
from .scenario import Usage, Workload
from .store import Obj, iso

DAY, HOUR = 86_400.0, 3_600.0
DEFAULT_CPU, DEFAULT_MEMORY = 0.1, 128 * 2**20
# Counters start at this epoch (2025-01-01T00:00:00Z) so their values do not depend on start time.
EPOCH = 1_735_689_600.0


@dataclass(frozen=True)
class ContainerProfile:
    cpu_mean: float  # cores
    memory_mean: float  # bytes
    variability: float
    phase_day: float
    phase_hour: float
    phase_memory: float
    seed: int
    steady: bool = False
    since: float = -math.inf  # epoch seconds before which the container has no series

    def cpu_rate(self, t: float) -> float:
        x = t - EPOCH
        wave = math.sin(2 * math.pi * x / DAY + self.phase_day)
        if not self.steady:
            wave += 0.3 * math.sin(2 * math.pi * x / HOUR + self.phase_hour)
        return self.cpu_mean * (1 + self.variability * wave)

    def cpu_seconds(self, t: float) -> float:
        """Integral of cpu_rate from EPOCH to t."""
        x = t - EPOCH
        day = DAY / (2 * math.pi) * (math.cos(self.phase_day) - math.cos(2 * math.pi * x / DAY + self.phase_day))
        hour = HOUR / (2 * math.pi) * (math.cos(self.phase_hour) - math.cos(2 * math.pi * x / HOUR + self.phase_hour))
        if self.steady:
            hour = 0.0
        return self.cpu_mean * (x + self.variability * (day + 0.3 * hour))

    def memory_bytes(self, t: float) -> float:
        x = t - EPOCH
        wave = math.sin(2 * math.pi * x / DAY + self.phase_memory)
        # A small per-minute jitter, derived from the time itself so it is reproducible.
        minute = int(x // 60)
        jitter = (
            0.0 if self.steady else (hashlib.sha256(f"{self.seed}/{minute}".encode()).digest()[0] / 255 - 0.5) * 0.04
        )
        return self.memory_mean * (1 + 0.5 * self.variability * wave + jitter)


class UsageModel:
    def __init__(self, cluster: ClusterState, workloads: list[Workload]) -> None:
        self.cluster = cluster
        self.seed = cluster.scenario.seed
        self.profiles: dict[tuple[str, str], Usage] = {(w.namespace, w.name): w.usage for w in workloads}

    def profile(self, pod: Obj, container: dict[str, Any]) -> ContainerProfile:
        meta = pod["metadata"]
        workload = self.cluster.workload_of(pod)
        workload_name = workload[1] if workload else meta["name"]
        usage = self.profiles.get((meta["namespace"], workload_name), Usage())
        requests = container.get("resources", {}).get("requests", {})
        cpu_request = parse_quantity(requests.get("cpu")) or DEFAULT_CPU
        memory_request = parse_quantity(requests.get("memory")) or DEFAULT_MEMORY
        # Steady replicas swing in step with one another, so the workload's total swings as each does.
        member = workload_name if usage.steady else meta["name"]
        key = f"{self.seed}/{self.cluster.name}/{meta['namespace']}/{member}/{container['name']}"
        digest = hashlib.sha256(key.encode()).digest()
        # Replicas differ a little from one another, as real ones do.
        spread = 1.0 if usage.steady else 0.9 + digest[3] / 255 * 0.2
        since = -math.inf if usage.history_hours is None else time.time() - usage.history_hours * HOUR
        return ContainerProfile(
            cpu_mean=cpu_request * usage.cpu * spread,
            memory_mean=memory_request * usage.memory * spread,
            variability=min(usage.variability, 0.75),
            phase_day=digest[0] / 255 * 2 * math.pi,
            phase_hour=digest[1] / 255 * 2 * math.pi,
            phase_memory=digest[2] / 255 * 2 * math.pi,
            seed=int.from_bytes(digest[4:8], "big"),
            steady=usage.steady,
            since=since,
        )

    def running_containers(self) -> list[tuple[Obj, dict[str, Any], ContainerProfile]]:
        result = []
        for pod in self.cluster.store.items("pods"):
            if pod["status"].get("phase") != "Running":
                continue
            for container in pod["spec"]["containers"]:
                result.append((pod, container, self.profile(pod, container)))
        return result

    def pod_metrics(self, pod: Obj, now: float) -> dict[str, Any]:
        meta = pod["metadata"]
        containers = []
        for container in pod["spec"]["containers"]:
            profile = self.profile(pod, container)
            containers.append(
                {
                    "name": container["name"],
                    "usage": {
                        "cpu": f"{round(profile.cpu_rate(now) * 1e9)}n",
                        "memory": f"{round(profile.memory_bytes(now) / 1024)}Ki",
                    },
                }
            )
        return {
            "kind": "PodMetrics",
            "apiVersion": "metrics.k8s.io/v1beta1",
            "metadata": {
                "name": meta["name"],
                "namespace": meta["namespace"],
                "labels": meta.get("labels", {}),
                "creationTimestamp": iso_now(now),
            },
            "timestamp": iso_now(now),
            "window": "30s",
            "containers": containers,
        }

    def node_metrics(self, node: Obj, now: float) -> dict[str, Any]:
        name = node["metadata"]["name"]
        cpu = memory = 0.0
        for pod in self.cluster.pods_on_node(name):
            if pod["status"].get("phase") != "Running":
                continue
            for container in pod["spec"]["containers"]:
                profile = self.profile(pod, container)
                cpu += profile.cpu_rate(now)
                memory += profile.memory_bytes(now)
        # The system daemons use something even on an empty node.
        cpu += 0.05
        memory += 300 * 2**20
        return {
            "kind": "NodeMetrics",
            "apiVersion": "metrics.k8s.io/v1beta1",
            "metadata": {"name": name, "labels": node["metadata"].get("labels", {}), "creationTimestamp": iso_now(now)},
            "timestamp": iso_now(now),
            "window": "20s",
            "usage": {"cpu": f"{round(cpu * 1e9)}n", "memory": f"{round(memory / 1024)}Ki"},
        }


def iso_now(epoch_seconds: float) -> str:
    from datetime import UTC, datetime

    return iso(datetime.fromtimestamp(epoch_seconds, UTC))
