"""The node rows of a run: pools and nodes in name order, surge nodes left out, up-to-date nodes done."""

from __future__ import annotations

from typing import Any

from k8sops_upgrade_runner.domain.node_plan import node_rows


def test_rows_follow_pool_and_node_names_skip_surge_nodes_and_mark_current_ones_done() -> None:
    pools: list[dict[str, Any]] = [
        {"name": "b-pool", "nodes": [{"name": "b-2", "version": "1.30.4"}, {"name": "b-1", "version": "1.31.1"}]},
        {
            "name": "a-pool",
            "nodes": [{"name": "a-1", "version": "1.30.4"}, {"name": "a-surge", "version": "1.31.1", "surge": True}],
        },
    ]
    rows = node_rows("op-1", "prod", "1.31.1", pools)
    assert [(row["pool"], row["node"], row["position"], row["phase"]) for row in rows] == [
        ("a-pool", "a-1", 0, "pending"),
        ("b-pool", "b-1", 1, "done"),
        ("b-pool", "b-2", 2, "pending"),
    ]
    assert {row["to_version"] for row in rows} == {"1.31.1"}
    assert rows[0]["from_version"] == "1.30.4" and rows[0]["operation_id"] == "op-1"
    assert rows[0]["cluster_name"] == "prod"
