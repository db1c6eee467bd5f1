"""A migration asked for by a `migration` request (SPEC 2, 7a): the request names only the old
cluster, so the runner drafts the plan from it (same version and node pools, every Deployment and
StatefulSet outside the system namespaces, in namespace then name order) and the customer reviews
that draft with the CD/CI checklist before anything moves."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .drift import is_managed, normalise
from .paths import plural_of

SHIFTED_KINDS = ("Deployment", "StatefulSet")
MAX_NAME = 40  # the platform API's cluster name limit


def new_cluster_name(old_name: str, operation_id: str) -> str:
    """Stable per operation (a resumed runner finds the cluster it provisioned), unique per plan."""
    suffix = operation_id.removeprefix("op-")[:8]
    return f"{old_name[: MAX_NAME - len(suffix) - 1].rstrip('-')}-{suffix}"


def draft_plan(
    old_name: str, operation_id: str, described: Mapping[str, Any], workloads: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    """`new_cluster`, `topology` and `workloads` of a migration spec, from the old cluster."""
    pools = [
        {"name": pool["name"], "instance_type": pool["instance_type"], "count": max(1, int(pool["node_count"]))}
        for pool in described["node_pools"]
    ]
    moved = sorted(
        (
            {"kind": w["kind"], "namespace": w["metadata"]["namespace"], "name": w["metadata"]["name"]}
            for w in workloads
            if w["kind"] in SHIFTED_KINDS and is_managed(w)
        ),
        key=lambda w: (w["namespace"], w["name"], w["kind"]),
    )
    version = described["control_plane"]["version"]
    name = new_cluster_name(old_name, operation_id)
    topology = "\n".join(
        [
            f"Drafted by the runner from {old_name} for the migration request: the same shape, to review at sign-off.",
            f"- Kubernetes {version} (a migration is not an upgrade)",
            *(f"- node pool {p['name']}: {p['count']} x {p['instance_type']}" for p in pools),
            f"- {len(moved)} workload(s) shifted one by one, namespace by namespace",
        ]
    )
    return {
        "new_cluster": {"name": name, "version": version, "node_pools": pools},
        "topology": topology,
        "workloads": [{**w, "phase": "pending", "detail": ""} for w in moved],
    }


# What a migrated namespace carries besides its workloads, in the order it is applied: identities,
# configuration, storage claims, network policies and the Services that route to the pods come
# before the first workload moves; what refers to the workloads (autoscalers, disruption budgets,
# ingresses) once every workload moved. kind -> API version.
BEFORE_WORKLOADS = {
    "ServiceAccount": "v1",
    "Secret": "v1",
    "ConfigMap": "v1",
    "PersistentVolumeClaim": "v1",
    "NetworkPolicy": "networking.k8s.io/v1",
    "Service": "v1",
}
AFTER_WORKLOADS = {
    "HorizontalPodAutoscaler": "autoscaling/v2",
    "PodDisruptionBudget": "policy/v1",
    "Ingress": "networking.k8s.io/v1",
}
API_VERSIONS = {**BEFORE_WORKLOADS, **AFTER_WORKLOADS}
# Made by the cluster itself in every namespace or for every service account: never copied.
CLUSTER_MADE = frozenset({"ServiceAccount default", "ConfigMap kube-root-ca.crt"})
# Bound to the old cluster's storage: the new cluster binds the claim to a volume of its own.
PVC_BINDING = ("volumeName",)
PVC_ANNOTATION_PREFIXES = ("pv.kubernetes.io/", "volume.kubernetes.io/", "volume.beta.kubernetes.io/")


def list_path(kind: str, namespace: str) -> str:
    version = API_VERSIONS[kind]
    base = f"/api/{version}" if "/" not in version else f"/apis/{version}"
    return f"{base}/namespaces/{namespace}/{plural_of(kind)}"


def carried(kind: str, obj: Mapping[str, Any], moved: Sequence[Mapping[str, Any]]) -> bool:
    """Whether `obj` moves with its namespace: not what the cluster or a controller made, and an
    autoscaler or disruption budget only with the workload it is for (`moved`: the live workloads
    that migrate, with their kind)."""
    meta = obj["metadata"]
    if f"{kind} {meta['name']}" in CLUSTER_MADE or obj.get("type") == "kubernetes.io/service-account-token":
        return False
    if any(owner.get("controller") for owner in meta.get("ownerReferences") or []):
        return False
    mine = [w for w in moved if w["metadata"]["namespace"] == meta["namespace"]]
    if kind == "HorizontalPodAutoscaler":
        target = obj["spec"]["scaleTargetRef"]
        return any((w["kind"], w["metadata"]["name"]) == (target.get("kind"), target.get("name")) for w in mine)
    if kind == "PodDisruptionBudget":
        wanted = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        return any(wanted.items() <= _pod_labels(w).items() for w in mine)
    return True


def _pod_labels(workload: Mapping[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = ((workload["spec"].get("template") or {}).get("metadata") or {}).get("labels") or {}
    return labels


def objects_to_carry(
    listed: Mapping[str, Sequence[Mapping[str, Any]]], moved: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The plan's `objects`, from `listed` ("<kind> <namespace>" -> items), in dependency order:
    the before-workloads kinds, then the after-workloads kinds, namespace by namespace."""
    planned = []
    for stage, kinds in (("before", BEFORE_WORKLOADS), ("after", AFTER_WORKLOADS)):
        for kind in kinds:
            for key in sorted(k for k in listed if k.startswith(f"{kind} ")):
                for obj in sorted(listed[key], key=lambda o: str(o["metadata"]["name"])):
                    if carried(kind, obj, moved):
                        meta = obj["metadata"]
                        planned.append(
                            {"kind": kind, "namespace": meta["namespace"], "name": meta["name"], "stage": stage}
                        )
    return [{**entry, "phase": "pending", "detail": ""} for entry in planned]


def portable(kind: str, live: Mapping[str, Any]) -> dict[str, Any]:
    """What the new cluster gets: the object as its owner wrote it, without what ties it to the
    old cluster (a Service's cluster IPs, a claim's bound volume, a service account's token refs)."""
    obj = normalise({**live, "kind": kind})
    obj["apiVersion"] = API_VERSIONS[kind]
    spec = obj.get("spec") or {}
    if kind == "PersistentVolumeClaim":
        for name in PVC_BINDING:
            spec.pop(name, None)
        annotations = obj["metadata"].get("annotations") or {}
        for name in [a for a in annotations if a.startswith(PVC_ANNOTATION_PREFIXES)]:
            del annotations[name]
        if not annotations:
            obj["metadata"].pop("annotations", None)
    if kind == "ServiceAccount":
        obj.pop("secrets", None)
    return obj
