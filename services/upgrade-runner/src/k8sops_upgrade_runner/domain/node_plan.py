"""Which nodes a run replaces, in which order: fixed once per cluster, so resumes walk the same rows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def node_rows(
    operation_id: str, cluster_name: str, control_plane_version: str, pools: Iterable[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """One row per node, pools and nodes by name; a node already at the control plane's version is done.

    Surge nodes come and go with the run; they are not replaced."""
    rows: list[dict[str, Any]] = []
    for pool in sorted(pools, key=lambda pool: pool["name"]):
        for node in sorted((n for n in pool["nodes"] if not n.get("surge")), key=lambda node: node["name"]):
            rows.append(
                {
                    "operation_id": operation_id,
                    "cluster_name": cluster_name,
                    "node": node["name"],
                    "position": len(rows),
                    "pool": pool["name"],
                    "from_version": node["version"],
                    "to_version": control_plane_version,
                    "phase": "done" if node["version"] == control_plane_version else "pending",
                }
            )
    return rows
