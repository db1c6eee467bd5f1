"""Graceful pod termination: a deleted or evicted pod stays listed, marked with its
`deletionTimestamp`, until the kubelet is done with it, then the kubelet removes it.

Off by default (`Timing.pod_termination_seconds` 0: a pod goes at once, as the sandbox always did,
whatever grace period a DELETE asks for). Above 0 it is how long the sandbox's containers take to
stop after SIGTERM. The grace period is chosen as the API server does (`BeforeDelete` in
k8s.io/apiserver's registry/rest/delete.go and the pod strategy's `CheckGracefulDelete`): the
DELETE's `gracePeriodSeconds`, else the pod's `spec.terminationGracePeriodSeconds`; 0 for a pod
never scheduled or already finished; a negative value counts as 1; 0 removes the pod at once. The
kubelet removes it when its containers have stopped or the grace period ends, whichever is first.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

from .scenario import Scenario
from .store import Obj, Store, iso

PODS = "pods"
# What the API server's defaulting puts in `spec.terminationGracePeriodSeconds` of a pod created without one.
DEFAULT_GRACE_SECONDS = 30
FINISHED = frozenset({"Succeeded", "Failed"})


class TerminatesPods(Protocol):
    store: Store
    scenario: Scenario
    # Pod uid -> (namespace, name, monotonic time it is removed).
    pod_gone_at: dict[str, tuple[str, str, float]]


def terminating(pod: Obj) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp"))


def grace_period(pod: Obj, requested: int | None) -> int:
    """The pod strategy's `CheckGracefulDelete`: the period a first DELETE of `pod` gives it."""
    spec = pod.get("spec") or {}
    period = requested if requested is not None else spec.get("terminationGracePeriodSeconds", DEFAULT_GRACE_SECONDS)
    if not spec.get("nodeName") or (pod.get("status") or {}).get("phase") in FINISHED:
        return 0  # nothing runs that could stop gracefully
    return 1 if period < 0 else int(period)


def delete_pod(cluster: TerminatesPods, namespace: str, name: str, requested: int | None = None) -> Obj:
    """What a pod DELETE (or an allowed eviction) with `gracePeriodSeconds` = `requested` does."""
    stopping = cluster.scenario.timing.pod_termination_seconds
    pod = cluster.store.get(PODS, namespace, name)
    if stopping <= 0:
        return cluster.store.delete(PODS, namespace, name)
    if requested is not None and requested < 0:
        requested = 1  # as BeforeDelete treats a negative value
    if terminating(pod):
        return _delete_again(cluster, pod, requested)
    period = grace_period(pod, requested)
    if period == 0:
        return cluster.store.delete(PODS, namespace, name)
    now = datetime.now(UTC)
    marked = _mark(cluster, pod, now + timedelta(seconds=period), period)
    cluster.pod_gone_at[pod["metadata"]["uid"]] = (namespace, name, time.monotonic() + min(period, stopping))
    return marked


def _delete_again(cluster: TerminatesPods, pod: Obj, requested: int | None) -> Obj:
    """A DELETE of a terminating pod may only shorten its grace period; otherwise it changes
    nothing and answers with the pod (no PodDisruptionBudget holds it either)."""
    meta = pod["metadata"]
    current = meta.get("deletionGracePeriodSeconds")
    if not current:
        return cluster.store.delete(PODS, meta["namespace"], meta["name"])
    if requested is None or requested >= current:
        return pod
    now = datetime.now(UTC)
    deadline = _parse(meta["deletionTimestamp"]) - timedelta(seconds=current - requested)
    if deadline < now:
        # The whole shorter period is already over: delete now, or as gracefully as possible.
        deadline, requested = now, min(requested, 1)
    if requested == 0:
        return cluster.store.delete(PODS, meta["namespace"], meta["name"])
    marked = _mark(cluster, pod, deadline, requested)
    namespace, name, gone_at = cluster.pod_gone_at.get(meta["uid"], (meta["namespace"], meta["name"], math.inf))
    left = (deadline - now).total_seconds()
    cluster.pod_gone_at[meta["uid"]] = (namespace, name, min(gone_at, time.monotonic() + left))
    return marked


def _mark(cluster: TerminatesPods, pod: Obj, deadline: datetime, period: int) -> Obj:
    def mark(obj: Obj) -> None:
        obj["metadata"]["deletionTimestamp"] = iso(deadline)
        obj["metadata"]["deletionGracePeriodSeconds"] = period

    return cluster.store.mutate(PODS, pod["metadata"]["namespace"], pod["metadata"]["name"], mark)


def _parse(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def remove_terminated(cluster: TerminatesPods, now: float, instant: bool) -> None:
    """The kubelet's last step: pods whose containers stopped, or whose grace period ran out, go."""
    for uid, (namespace, name, gone_at) in list(cluster.pod_gone_at.items()):
        if gone_at <= now or instant:
            del cluster.pod_gone_at[uid]
            pod = cluster.store.find(PODS, namespace, name)
            # The same pod, still terminating: not a successor of the same name, not a dry run's mark.
            if pod is not None and pod["metadata"]["uid"] == uid and terminating(pod):
                cluster.store.delete(PODS, namespace, name)
