"""Sandbox benchmark: start-up of the large scenario and list/query latencies against it.

Run: .venv/bin/python bench/bench_sandbox.py  (prints one JSON object)
"""

from __future__ import annotations

import asyncio
import json
import time

import httpx

from k8sops_sandbox.server import run_sandbox

KRR_CPU = (
    'quantile_over_time(0.95, max(rate(container_cpu_usage_seconds_total{namespace="team-0-00",'
    'pod=~"svc-00-.*",container="app"}[5m])) by (container, pod, job)[14d:5m])'
)


async def main() -> dict[str, float]:
    started = time.perf_counter()
    async with run_sandbox("large") as sandbox:
        results = {"startup_seconds": time.perf_counter() - started}
        async with httpx.AsyncClient(base_url=sandbox.kube_url, timeout=120) as kube:
            moment = time.perf_counter()
            pods = (await kube.get("/api/v1/pods")).json()["items"]
            results["list_10k_pods_seconds"] = time.perf_counter() - moment
            assert len(pods) == 10_000
            moment = time.perf_counter()
            await kube.get("/api/v1/pods", params={"fieldSelector": "spec.nodeName=big-prod-general-000"})
            results["pods_on_one_node_seconds"] = time.perf_counter() - moment
        async with httpx.AsyncClient(base_url=sandbox.prometheus_url, timeout=120) as prometheus:
            moment = time.perf_counter()
            answer = (await prometheus.get("/api/v1/query", params={"query": KRR_CPU})).json()
            results["krr_cpu_query_14d_seconds"] = time.perf_counter() - moment
            assert answer["status"] == "success"
    return {key: round(value, 3) for key, value in results.items()}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
