"""Graceful pod termination: a deleted or evicted pod stays listed, marked with its
`deletionTimestamp`, until its grace period has run out, then the kubelet removes it.

Off by default (`Timing.pod_termination_seconds` 0: a pod goes at once, as the sandbox always did).
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

from .scenario import Scenario
from .store import Obj, Store, iso

PODS = "pods"


class TerminatesPods(Protocol):
    store: Store
    scenario: Scenario
    # Pod uid -> (namespace, name, monotonic time it is removed).
    pod_gone_at: dict[str, tuple[str, str, float]]


def terminating(pod: Obj) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp"))


def delete_pod(cluster: TerminatesPods, namespace: str, name: str) -> Obj:
    """What a pod DELETE (or an allowed eviction) does; a second one on a terminating pod changes
    nothing and answers with the pod, as the API server does."""
    grace = cluster.scenario.timing.pod_termination_seconds
    pod = cluster.store.get(PODS, namespace, name)
    if grace <= 0:
        return cluster.store.delete(PODS, namespace, name)
    if terminating(pod):
        return pod

    def mark(obj: Obj) -> None:
        obj["metadata"]["deletionTimestamp"] = iso(datetime.now(UTC) + timedelta(seconds=grace))
        obj["metadata"]["deletionGracePeriodSeconds"] = math.ceil(grace)

    marked = cluster.store.mutate(PODS, namespace, name, mark)
    cluster.pod_gone_at[pod["metadata"]["uid"]] = (namespace, name, time.monotonic() + grace)
    return marked


def remove_terminated(cluster: TerminatesPods, now: float, instant: bool) -> None:
    """The kubelet's last step: pods whose grace period has run out are removed."""
    for uid, (namespace, name, gone_at) in list(cluster.pod_gone_at.items()):
        if gone_at <= now or instant:
            del cluster.pod_gone_at[uid]
            pod = cluster.store.find(PODS, namespace, name)
            # The same pod, still terminating: not a successor of the same name, not a dry run's mark.
            if pod is not None and pod["metadata"]["uid"] == uid and terminating(pod):
                cluster.store.delete(PODS, namespace, name)
