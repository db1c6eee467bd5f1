"""A migration asked for by a `migration` request (SPEC 2, 7a): the request names only the old
cluster, so the runner drafts the plan from it (same version and node pools, every Deployment and
StatefulSet outside the system namespaces, in namespace then name order) and the customer reviews
that draft with the CD/CI checklist before anything moves."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .drift import is_managed

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
