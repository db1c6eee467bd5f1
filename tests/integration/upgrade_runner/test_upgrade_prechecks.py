"""Pre-checks against the sandbox: removed APIs from the three signals (and no false positive from
what a list call returns), blocking PDBs found before anything is cordoned."""

from __future__ import annotations

import json
from typing import Any

import httpx

from .conftest import OPERATOR, Harness, cluster_event, engagement_event, fast_runner, upgrade_request


async def test_removed_apis_block_the_upgrade_naming_object_and_signal(deprecated: Harness) -> None:
    sandbox = deprecated.sandbox
    await deprecated.start_runner(fast_runner(sandbox))
    assert deprecated.api is not None
    # An object applied at policy/v1 (the API server would list it at v1beta1 too, if asked):
    # only the annotation says what its owner uses, and it says v1.
    applied: dict[str, Any] = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "modern-pdb", "namespace": "billing"},
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "modern"}}},
    }
    body = {
        **applied,
        "metadata": {
            **applied["metadata"],
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": json.dumps(applied)},
        },
    }
    async with httpx.AsyncClient() as http:
        created = await http.post(
            f"{sandbox.kube_urls['legacy-prod']}/apis/policy/v1/namespaces/billing/poddisruptionbudgets", json=body
        )
        assert created.status_code == 201, created.text
        listed = await http.get(
            f"{sandbox.kube_urls['legacy-prod']}/apis/policy/v1beta1/namespaces/billing/poddisruptionbudgets/modern-pdb"
        )
        assert listed.json()["apiVersion"] == "policy/v1beta1"  # the trap: conversion on read

    await deprecated.deliver(
        engagement_event([cluster_event(sandbox, "legacy-prod", environment="non-prod")], None),
        upgrade_request("req-legacy", "legacy-prod"),
    )
    operation_id = (await deprecated.rows("SELECT operation_id FROM operations"))[0]["operation_id"]
    failed = await deprecated.until_state(operation_id, "precheck_failed")

    assert (failed["from_version"], failed["to_version"]) == ("1.24.17", "1.25")
    removed = {(f["subject"], f["signal"]) for f in failed["findings"] if f["code"] == "removed-api"}
    assert (
        "PodDisruptionBudget poddisruptionbudgets (policy/v1beta1)",
        "apiserver_requested_deprecated_apis",
    ) in removed
    assert ("CronJob cronjobs (batch/v1beta1)", "apiserver_requested_deprecated_apis") in removed
    assert ("PodDisruptionBudget billing/invoices-pdb", "last-applied-configuration") in removed
    assert ("CronJob billing/nightly-export", "last-applied-configuration") in removed
    assert ("PodDisruptionBudget billing/billing-workers", "helm-release") in removed
    assert ("CronJob billing/billing-reconcile", "helm-release") in removed
    # No false positive: the v1-applied object, and the HPA that only 1.26 removes.
    assert not [subject for subject, _ in removed if "modern-pdb" in subject or "HorizontalPodAutoscaler" in subject]
    helm = next(f for f in failed["findings"] if f["signal"] == "helm-release")
    assert "sh.helm.release.v1.billing.v3" in helm["evidence"]

    # Nothing was touched, and every step went out as upgrade.step for intake.
    async with httpx.AsyncClient() as http:
        nodes = (await http.get(f"{sandbox.kube_urls['legacy-prod']}/api/v1/nodes")).json()["items"]
    assert nodes and not [node for node in nodes if node["spec"].get("unschedulable")]
    steps = [(e["step"], e["status"], e["request_id"]) for e in await deprecated.events("upgrade.step")]
    assert steps == [
        ("pre-check", "pending", "req-legacy"),
        ("pre-check", "running", "req-legacy"),
        ("pre-check", "failed", "req-legacy"),
    ]
    report = await deprecated.api.get(f"/v1/operations/{operation_id}/report?format=markdown", headers=OPERATOR)
    assert report.status_code == 200
    assert "billing/invoices-pdb uses policy/v1beta1, removed in 1.25" in report.text
    audit = [e["action"] for e in await deprecated.events("audit.event")]
    assert {"upgrade.plan", "upgrade.start_precheck", "upgrade.precheck_blocked"} <= set(audit)
