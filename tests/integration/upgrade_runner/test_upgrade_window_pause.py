"""A production run that would overrun its window stops between two nodes and carries on when the
window is open again, without touching a finished node twice."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from .conftest import (
    ADMIN,
    ENGAGEMENT,
    OPERATOR,
    Harness,
    acme_with_staging,
    fast_runner,
    pin_a_pod_behind_a_strict_budget,
)


async def test_a_closing_window_pauses_between_nodes_and_the_next_one_resumes(healthy: Harness) -> None:
    sandbox = healthy.sandbox
    kube = sandbox.kube_urls["acme-prod"]
    await healthy.start_runner(fast_runner(sandbox))
    api = healthy.api
    assert api is not None

    def with_window(open_now: bool) -> Any:
        return acme_with_staging(sandbox, window_open=open_now)

    await healthy.deliver(with_window(True))
    body = {"engagement_id": ENGAGEMENT, "cluster_id": "acme-prod"}
    operation_id = (await api.post("/v1/operations", json=body, headers=OPERATOR)).json()["operation_id"]
    stage = (await healthy.until_state(operation_id, "awaiting_signoff", timeout_s=90))["stage"]
    async with httpx.AsyncClient() as http:
        names = sorted(node["metadata"]["name"] for node in (await http.get(f"{kube}/api/v1/nodes")).json()["items"])
    await pin_a_pod_behind_a_strict_budget(kube, names[1])  # holds the run on the second node
    signed = await api.post(
        f"/v1/operations/{operation_id}/sign-off", json={"stage_ref": stage["stage_ref"]}, headers=ADMIN
    )
    assert signed.status_code == 200, signed.text

    async def phases() -> dict[str, str]:
        rows = await healthy.rows(
            "SELECT node, phase FROM operation_nodes WHERE operation_id = :id AND cluster_name = 'acme-prod'",
            id=operation_id,
        )
        return {row["node"]: row["phase"] for row in rows}

    await healthy.until(phases, lambda p: p.get(names[1]) == "cordoned", 60)
    await healthy.deliver(with_window(False))  # the window closes while the second node drains
    async with httpx.AsyncClient(base_url=kube) as http:
        assert (await http.delete("/apis/policy/v1/namespaces/shop/poddisruptionbudgets/pinned")).status_code == 200

    # Paused until the window reopens next week; a claimed operation's next_run_at is only its lease
    # end (seconds ahead), which a slow machine can show while the second node is still upgrading.
    paused = await healthy.until(
        lambda: healthy.operation(operation_id),
        lambda op: (
            op["next_run_at"] is not None
            and datetime.fromisoformat(op["next_run_at"]) > datetime.now(UTC) + timedelta(hours=1)
        ),
        60,
    )
    assert paused["state"] == "upgrading_nodes"
    held = await phases()
    assert [held[name] for name in names] == [
        "done",
        "done",
        "pending",
        "pending",
        "pending",
    ]  # finished the one in hand

    await healthy.deliver(with_window(True))
    done = await healthy.until_state(operation_id, "completed", "rolled_back", timeout_s=90)
    assert done["state"] == "completed", done["failure"]
    async with httpx.AsyncClient() as http:
        operations = (await http.get(f"{sandbox.platform_url}/v1/operations", params={"cluster": "acme-prod"})).json()
    replaced = Counter(op["node"] for op in operations["operations"] if op["type"] == "UPGRADE_NODE")
    assert replaced == Counter(dict.fromkeys(names, 1))
