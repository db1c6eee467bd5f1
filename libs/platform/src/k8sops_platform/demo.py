"""Demo data, loaded through the public API like any client would; safe to load twice."""

from __future__ import annotations

import httpx

from k8sops_common.auth import mint_token

DEMO_ENGAGEMENT = "eng-demo"
DEMO_REQUESTS = (
    {"category": "cluster-upgrade", "priority": "P3", "title": "Upgrade prod-dhaka-1 from 1.31 to 1.32"},
    {"category": "workload-issue", "priority": "P2", "title": "payments-api pods CrashLoopBackOff after deploy"},
    {"category": "cost-optimization", "priority": "P4", "title": "Quarterly cost review for prod-dhaka-1"},
)


def load_demo_data(intake_url: str, jwt_secret: str) -> str:
    requester = mint_token(
        jwt_secret, sub="rahim@customer.example", roles=["k8s-ops.admin"], engagements=[DEMO_ENGAGEMENT], ttl_s=86_400
    )
    operator = mint_token(
        jwt_secret, sub="oncall@provider.example", roles=["k8s-ops.senior"], engagements=[DEMO_ENGAGEMENT], ttl_s=86_400
    )
    ids = []
    with httpx.Client(base_url=intake_url, headers={"Authorization": f"Bearer {requester}"}, timeout=10) as client:
        for number, request in enumerate(DEMO_REQUESTS, start=1):
            response = client.post(
                "/v1/requests",
                json={"engagement_id": DEMO_ENGAGEMENT, "cluster_id": "prod-dhaka-1", **request},
                # The same key on every run: a second run finds the requests instead of duplicating them.
                headers={"Idempotency-Key": f"demo-request-{number}"},
            )
            response.raise_for_status()
            ids.append(response.json()["id"])
    return (
        f"demo data: engagement {DEMO_ENGAGEMENT}, requests {', '.join(ids)}\n"
        f"  customer admin token (24 h): {requester}\n"
        f"  provider senior token (24 h): {operator}"
    )
