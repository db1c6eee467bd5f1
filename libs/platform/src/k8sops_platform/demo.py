"""Demo data, loaded through the public API like any client would; safe to load twice."""

from __future__ import annotations

import time

import httpx

from k8sops_common.auth import mint_token

DEMO_ENGAGEMENT = "eng-demo"
DEMO_ENGAGEMENT_BODY = {
    "id": DEMO_ENGAGEMENT,
    "name": "Demo Bank Ltd — Managed Kubernetes Operations",
    "tier": "k8s-247-cluster-admin",
    "timezone": "Asia/Dhaka",
    "working_days": [6, 0, 1, 2, 3],  # Sunday to Thursday
    "holiday_country": "BD",
    "maintenance_window": {"weekday": 4, "start_local": "02:00", "duration_minutes": 240},  # Friday night
    "on_call": "oncall@customer.example",
    "cluster_admin": "rahim@customer.example",
}
# The non-prod cluster first: the prod cluster names it as its staging pair.
DEMO_CLUSTERS = (
    {
        "id": "staging-dhaka-1",
        "name": "staging-dhaka-1",
        "environment": "non-prod",
        "api_endpoint": "https://staging-dhaka-1.k8s.example:6443",
        "credentials_ref": "vault://k8s/staging-dhaka-1/admin",
        "size_band": "S",
        "workload_band": "<50",
        "monthly_retainer_bdt": "60000.00",
    },
    {
        "id": "prod-dhaka-1",
        "name": "prod-dhaka-1",
        "environment": "prod",
        "paired_cluster_id": "staging-dhaka-1",
        "api_endpoint": "https://prod-dhaka-1.k8s.example:6443",
        "credentials_ref": "vault://k8s/prod-dhaka-1/admin",
        "size_band": "L",
        "workload_band": "200-1000",
        "monthly_retainer_bdt": "250000.00",
    },
)
DEMO_REQUESTS = (
    {"category": "cluster-upgrade", "priority": "P3", "title": "Upgrade prod-dhaka-1 from 1.31 to 1.32"},
    {"category": "workload-issue", "priority": "P2", "title": "payments-api pods CrashLoopBackOff after deploy"},
    {"category": "cost-optimization", "priority": "P4", "title": "Quarterly cost review for prod-dhaka-1"},
)


# The sandbox cluster each demo cluster is: its API endpoint resolves there, as a real one would.
SANDBOX_CLUSTER_OF = {"prod-dhaka-1": "acme-prod", "staging-dhaka-1": "acme-staging"}


def load_demo_data(intake_url: str, jwt_secret: str, sandbox_kube_urls: dict[str, str] | None = None) -> str:
    requester = mint_token(
        jwt_secret, sub="rahim@customer.example", roles=["k8s-ops.admin"], engagements=[DEMO_ENGAGEMENT], ttl_s=86_400
    )
    operator = mint_token(
        jwt_secret, sub="oncall@provider.example", roles=["k8s-ops.senior"], engagements=[DEMO_ENGAGEMENT], ttl_s=86_400
    )
    ids = []
    # The same keys on every run: a second run finds everything instead of duplicating it.
    with httpx.Client(base_url=intake_url, headers={"Authorization": f"Bearer {operator}"}, timeout=10) as client:
        client.post(
            "/v1/engagements", json=DEMO_ENGAGEMENT_BODY, headers={"Idempotency-Key": "demo-engagement"}
        ).raise_for_status()
    with httpx.Client(base_url=intake_url, headers={"Authorization": f"Bearer {requester}"}, timeout=10) as client:
        for cluster in DEMO_CLUSTERS:
            sandbox_url = (sandbox_kube_urls or {}).get(SANDBOX_CLUSTER_OF[str(cluster["id"])])
            client.post(
                f"/v1/engagements/{DEMO_ENGAGEMENT}/clusters",
                json={**cluster, "api_endpoint": sandbox_url} if sandbox_url else cluster,
                headers={"Idempotency-Key": f"demo-cluster-{cluster['id']}"},
            ).raise_for_status()
        for number, request in enumerate(DEMO_REQUESTS, start=1):
            response = client.post(
                "/v1/requests",
                json={"engagement_id": DEMO_ENGAGEMENT, "cluster_id": "prod-dhaka-1", **request},
                headers={"Idempotency-Key": f"demo-request-{number}"},
            )
            response.raise_for_status()
            ids.append(response.json()["id"])
    return (
        f"demo data: engagement {DEMO_ENGAGEMENT} (clusters prod-dhaka-1, staging-dhaka-1), requests {', '.join(ids)}\n"
        f"  customer admin token (24 h): {requester}\n"
        f"  provider senior token (24 h): {operator}"
    )


def show_day2(upgrade_runner_url: str, jwt_secret: str, cluster_id: str = "prod-dhaka-1", wait_s: float = 60) -> str:
    """The demo cluster's add-on inventory and drift: the baseline is recorded (onboarding) once the
    upgrade runner has heard of the cluster, then drift is read against it."""
    operator = mint_token(
        jwt_secret, sub="oncall@provider.example", roles=["k8s-ops.operator"], engagements=[DEMO_ENGAGEMENT], ttl_s=3600
    )
    with httpx.Client(
        base_url=upgrade_runner_url, headers={"Authorization": f"Bearer {operator}"}, timeout=30
    ) as client:
        deadline = time.monotonic() + wait_s
        while (addons := client.get(f"/v1/clusters/{cluster_id}/addons")).status_code == 404:
            if time.monotonic() > deadline:
                return (
                    f"day-2: upgrade-runner has not heard of {cluster_id} yet; see GET /v1/clusters/{cluster_id}/addons"
                )
            time.sleep(0.5)
        addons.raise_for_status()
        if client.get(f"/v1/clusters/{cluster_id}/drift").status_code == 409:
            client.post(f"/v1/clusters/{cluster_id}/baseline").raise_for_status()
        drift = client.get(f"/v1/clusters/{cluster_id}/drift")
        drift.raise_for_status()
    installed = ", ".join(f"{i['addon']} {i['version']} ({i['source']})" for i in addons.json()["items"]) or "none"
    blocked = [f["message"] for f in addons.json()["next_minor_findings"]]
    findings = drift.json()["findings"]
    return (
        f"day-2 on {cluster_id}: add-ons {installed}; next minor {addons.json()['next_minor']}: "
        f"{'; '.join(blocked) or 'every add-on supports it'}\n"
        f"  drift since the baseline ({drift.json()['baseline_reason']}): {len(findings)} object(s) "
        f"(GET {upgrade_runner_url}/v1/clusters/{cluster_id}/drift)"
    )
