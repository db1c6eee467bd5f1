"""Demo data, loaded through the public API like any client would; safe to load again, even after parts were deleted."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

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
    {"category": "cluster-upgrade", "priority": "P3", "title": "Upgrade prod-dhaka-1 to the next minor, 1.30"},
    {"category": "workload-issue", "priority": "P2", "title": "payments-api pods CrashLoopBackOff after deploy"},
    {"category": "cost-optimization", "priority": "P4", "title": "Quarterly cost review for prod-dhaka-1"},
)


def _ensure(client: httpx.Client, path: str, collection: str, body: Mapping[str, object]) -> None:
    """Creates the record at `path` through `collection` unless it exists."""
    found = client.get(path)
    if found.status_code == 200:
        return
    if found.status_code != 404:
        found.raise_for_status()
    client.post(collection, json=body).raise_for_status()


# The sandbox cluster each demo cluster is: its API endpoint resolves there, as a real one would.
SANDBOX_CLUSTER_OF = {"prod-dhaka-1": "acme-prod", "staging-dhaka-1": "acme-staging"}


def write_demo_credentials(directory: Path, sandbox_tokens: Mapping[str, str]) -> None:
    """Plays the secret store's agent for the demo: each demo cluster's credentials reference
    (`vault://k8s/prod-dhaka-1/admin`) becomes the file `<directory>/vault/k8s/prod-dhaka-1/admin`
    holding its sandbox cluster's token, the layout upgrade-runner's CREDENTIALS_DIR reads."""
    for cluster in DEMO_CLUSTERS:
        token = sandbox_tokens.get(SANDBOX_CLUSTER_OF[str(cluster["id"])])
        if token is None:
            continue
        scheme, _, path = str(cluster["credentials_ref"]).partition("://")
        target = directory.joinpath(scheme, *path.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.touch(mode=0o600)
        target.write_text(token)


def load_demo_data(
    intake_url: str,
    jwt_secret: str,
    sandbox_kube_urls: dict[str, str] | None = None,
    cost_url: str | None = None,
) -> str:
    requester = mint_token(
        jwt_secret, sub="rahim@customer.example", roles=["k8s-ops.admin"], engagements=[DEMO_ENGAGEMENT], ttl_s=86_400
    )
    operator = mint_token(
        jwt_secret, sub="oncall@provider.example", roles=["k8s-ops.senior"], engagements=[DEMO_ENGAGEMENT], ttl_s=86_400
    )
    ids = []
    # What exists is kept and what is missing is created, so a re-run completes even after parts
    # were deleted (a deleted record's Idempotency-Key would answer 409 "resource gone").
    with httpx.Client(base_url=intake_url, headers={"Authorization": f"Bearer {operator}"}, timeout=10) as client:
        _ensure(client, f"/v1/engagements/{DEMO_ENGAGEMENT}", "/v1/engagements", DEMO_ENGAGEMENT_BODY)
    with httpx.Client(base_url=intake_url, headers={"Authorization": f"Bearer {requester}"}, timeout=10) as client:
        clusters = f"/v1/engagements/{DEMO_ENGAGEMENT}/clusters"
        for cluster in DEMO_CLUSTERS:
            sandbox_url = (sandbox_kube_urls or {}).get(SANDBOX_CLUSTER_OF[str(cluster["id"])])
            body = {**cluster, "api_endpoint": sandbox_url} if sandbox_url else cluster
            _ensure(client, f"{clusters}/{cluster['id']}", clusters, body)
        for number, request in enumerate(DEMO_REQUESTS, start=1):
            # Requests have server-made ids: the same key on every run finds the first one.
            response = client.post(
                "/v1/requests",
                json={"engagement_id": DEMO_ENGAGEMENT, "cluster_id": "prod-dhaka-1", **request},
                headers={"Idempotency-Key": f"demo-request-{number}"},
            )
            response.raise_for_status()
            ids.append(response.json()["id"])
    review = "" if cost_url is None else f", health review {finish_review(cost_url, operator)}"
    return (
        f"demo data: engagement {DEMO_ENGAGEMENT} (clusters prod-dhaka-1, staging-dhaka-1), requests {', '.join(ids)}"
        f"{review}"
    )


def finish_review(cost_url: str, operator_token: str, timeout_s: float = 90.0) -> str:
    """One finished quarterly health review of prod-dhaka-1 (the sandbox stands in for the cluster)."""
    deadline = time.monotonic() + timeout_s
    with httpx.Client(base_url=cost_url, headers={"Authorization": f"Bearer {operator_token}"}, timeout=10) as client:
        while time.monotonic() < deadline:
            reviews = client.get("/v1/cost/reviews", params={"cluster_id": "prod-dhaka-1"}).raise_for_status().json()
            if reviews:
                return f"{cost_url}/v1/cost/analyses/{reviews[0]['analysis_id']}/report.html"
            jobs = client.get("/v1/cost/jobs").raise_for_status().json()
            asked = [j for j in jobs if j["kind"] == "health-review" and j["requested_by"] != "system"]
            if asked and asked[0]["status"] == "failed":
                return f"not finished ({asked[0]['last_error']})"
            if not asked:
                # 404 until cost-analyzer has consumed intake's engagement event, then 202.
                client.post("/v1/cost/clusters/prod-dhaka-1/analyses", json={"kind": "health-review"})
            time.sleep(0.5)
    return f"not finished within {timeout_s:.0f} s (see cost-analyzer's log)"


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
