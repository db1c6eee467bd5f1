"""cost-analyzer as a process: intake's event over Kafka, the sandbox cluster read over HTTP, the
scheduler loop running the onboarding assessment, the report served by the API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from k8sops_sandbox.server import run_sandbox
from tests.integration.cost_analyzer.conftest import CLUSTER, VIEWER, engagement_event
from tests.support.bus import publish
from tests.support.sandbox import wait_for_running_pods

Eventually = Callable[..., Awaitable[Any]]


async def test_a_new_cluster_gets_its_onboarding_assessment_from_the_running_service(
    isolation: Any, start_service: Any, eventually: Eventually, tmp_path: Path
) -> None:
    async with run_sandbox("cost-review", kubeconfig_path=tmp_path / "kubeconfig") as sandbox:
        await wait_for_running_pods(sandbox, CLUSTER)
        env = {
            "K8SOPS_KUBECONFIG": str(sandbox.kubeconfig_path),
            "K8SOPS_PROMETHEUS_URL": sandbox.prometheus_url,
            "K8SOPS_COST_SCHEDULER_POLL_INTERVAL_S": "0.2",
        }
        service = await start_service("cost-analyzer", env=env, wait=False)
        await eventually(lambda: _ready(service.url), bool, timeout_s=60)
        await publish(isolation, "intake", engagement_event(datetime.now(UTC)))
        async with httpx.AsyncClient(base_url=service.url, headers=VIEWER, timeout=10) as api:

            async def assessments() -> list[dict[str, Any]]:
                found: list[dict[str, Any]] = (await api.get("/v1/cost/assessments")).json()
                return found

            (assessment,) = await eventually(assessments, lambda found: len(found) == 1, timeout_s=60)
            assert assessment["usage_source"] == "prometheus" and assessment["findings_count"] == 6
            page = await api.get(f"/v1/cost/analyses/{assessment['analysis_id']}/report.html")
            assert page.status_code == 200 and '<svg id="cost-trend"' in page.text


async def _ready(url: str) -> bool:
    try:
        async with httpx.AsyncClient(timeout=2) as client:
            return (await client.get(f"{url}/readyz")).status_code == 200
    except httpx.HTTPError:
        return False
