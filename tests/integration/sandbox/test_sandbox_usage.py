"""Usage history over the Prometheus HTTP API, metrics.k8s.io, and the deprecated-API evidence."""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
from pathlib import Path

import httpx

from k8sops_sandbox.server import Sandbox, run_sandbox

from .conftest import kubectl

# The queries KRR sends (its Prometheus strategy), with a fixed evaluation time.
KRR_CPU = """
quantile_over_time(0.95,
  max(rate(container_cpu_usage_seconds_total{{namespace="{ns}", pod=~"{pod}-.*", container="{c}"}}[5m]))
  by (container, pod, job)
[1d:5m])
"""
KRR_MEMORY = """
max_over_time(
  max(container_memory_working_set_bytes{{namespace="{ns}", pod=~"{pod}-.*", container="{c}"}})
  by (container, pod, job)
[1d:5m])
"""
AT = 1_750_000_000  # 2025-06-15T15:06:40Z


async def instant(http: httpx.AsyncClient, query: str) -> list[dict]:
    response = await http.get("/api/v1/query", params={"query": query, "time": AT})
    body = response.json()
    assert response.status_code == 200 and body["status"] == "success", body
    return list(body["data"]["result"])


async def test_krr_queries_show_the_cost_findings(healthy: Sandbox) -> None:
    async with httpx.AsyncClient(base_url=healthy.prometheus_url + "/clusters/acme-prod") as http:
        web_cpu = await instant(http, KRR_CPU.format(ns="shop", pod="web", c="web"))
        assert len(web_cpu) == 4
        assert set(web_cpu[0]["metric"]) == {"container", "pod", "job"}
        # Over-requesting: p95 far below the 1-core request.
        assert all(0 < float(r["value"][1]) <= 0.2 for r in web_cpu)
        web_memory = await instant(http, KRR_MEMORY.format(ns="shop", pod="web", c="web"))
        assert all(float(r["value"][1]) <= 0.25 * 2 * 2**30 for r in web_memory)

        # Variable load on checkout (no HPA): the daily peak is several times the trough.
        peak = await instant(
            http,
            'max(max_over_time(rate(container_cpu_usage_seconds_total{namespace="shop",container="checkout"}[5m])[1d:5m]))',
        )
        trough = await instant(
            http,
            'min(min_over_time(rate(container_cpu_usage_seconds_total{namespace="shop",container="checkout"}[5m])[1d:5m]))',
        )
        assert float(peak[0]["value"][1]) > 3 * float(trough[0]["value"][1])

        # The idle namespace does (almost) nothing.
        idle = await instant(http, 'sum(rate(container_cpu_usage_seconds_total{namespace="legacy-reports"}[5m]))')
        assert float(idle[0]["value"][1]) < 0.01

        requests = await instant(
            http, 'sum by (namespace) (kube_pod_container_resource_requests{resource="cpu",namespace="shop"})'
        )
        assert float(requests[0]["value"][1]) == 4 * 1 + 3 * 0.5 + 6 * 0.25 + 1

        bad = await http.get("/api/v1/query", params={"query": "rate(container_cpu_usage_seconds_total{"})
        assert bad.status_code == 400 and bad.json()["errorType"] == "bad_data"


async def test_query_range_and_cluster_label(healthy: Sandbox) -> None:
    async with httpx.AsyncClient(base_url=healthy.prometheus_url) as http:
        response = await http.get(
            "/api/v1/query_range",
            params={
                "query": 'sum by (cluster) (rate(container_cpu_usage_seconds_total{namespace="shop"}[5m]))',
                "start": AT - 3600,
                "end": AT,
                "step": "5m",
            },
        )
        body = response.json()
        assert body["data"]["resultType"] == "matrix"
        series = {r["metric"]["cluster"]: r["values"] for r in body["data"]["result"]}
        assert set(series) == {"acme-prod", "acme-staging"}
        assert len(series["acme-prod"]) == 13 and series["acme-prod"][0][0] == AT - 3600


async def test_same_scenario_same_usage_every_run(tmp_path: Path) -> None:
    answers = []
    for run in range(2):
        async with (
            run_sandbox("healthy-small", kubeconfig_path=tmp_path / f"k{run}") as sandbox,
            httpx.AsyncClient(base_url=sandbox.prometheus_url) as http,
        ):
            cpu = await instant(http, KRR_CPU.format(ns="shop", pod="api", c="api"))
            memory = await instant(http, 'container_memory_working_set_bytes{namespace="shop"}')
            names = sorted(p["metadata"]["name"] for p in sandbox.cluster().store.items("pods"))
            answers.append((cpu, memory, names))
    assert answers[0] == answers[1]
    assert len(answers[0][0]) == 3


async def test_metrics_api_and_kubectl_top(healthy: Sandbox, tmp_path: Path) -> None:
    async with httpx.AsyncClient(base_url=healthy.kube_url) as http:
        pods = (await http.get("/apis/metrics.k8s.io/v1beta1/namespaces/shop/pods")).json()
        assert pods["kind"] == "PodMetricsList" and len(pods["items"]) == 14
        assert pods["items"][0]["containers"][0]["usage"]["cpu"].endswith("n")
        node = (await http.get("/apis/metrics.k8s.io/v1beta1/nodes/acme-prod-apps-000")).json()
        assert node["kind"] == "NodeMetrics" and node["usage"]["memory"].endswith("Ki")
    top = await kubectl(healthy, tmp_path, "top", "nodes")
    assert top.code == 0, top.stderr
    assert "acme-prod-apps-000" in top.stdout and "CPU(cores)" in top.stdout


async def test_deprecated_api_evidence(deprecated: Sandbox) -> None:
    async with httpx.AsyncClient(base_url=deprecated.kube_url) as http:
        metrics = (await http.get("/metrics")).text
        assert (
            'apiserver_requested_deprecated_apis{group="policy",removed_release="1.25",'
            'resource="poddisruptionbudgets",subresource="",version="v1beta1"} 1'
        ) in metrics
        assert 'group="autoscaling",removed_release="1.26"' in metrics
        assert 'group="flowcontrol.apiserver.k8s.io"' not in metrics

        # A client calling a deprecated version is served (1.24), warned, and counted.
        old = await http.get("/apis/autoscaling/v2beta1/namespaces/billing/horizontalpodautoscalers")
        assert old.status_code == 200 and "deprecated" in old.headers["warning"]
        assert old.json()["items"][0]["apiVersion"] == "autoscaling/v2beta1"
        assert 'version="v2beta1"' in (await http.get("/metrics")).text

        # The stored object reads back in the preferred version: only the annotation remembers v1beta1.
        pdb = (await http.get("/apis/policy/v1/namespaces/billing/poddisruptionbudgets/invoices-pdb")).json()
        assert pdb["apiVersion"] == "policy/v1"
        applied = json.loads(pdb["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"])
        assert applied["apiVersion"] == "policy/v1beta1"

        secret = (await http.get("/api/v1/namespaces/billing/secrets/sh.helm.release.v1.billing.v3")).json()
        assert secret["type"] == "helm.sh/release.v1" and secret["metadata"]["labels"]["status"] == "deployed"
        release = json.loads(gzip.decompress(base64.b64decode(base64.b64decode(secret["data"]["release"]))))
        assert release["version"] == 3 and "apiVersion: batch/v1beta1" in release["manifest"]

    # After the control plane moves to 1.25, the removed versions are gone from the server.
    async with httpx.AsyncClient(base_url=deprecated.platform_url) as platform:
        operation = (
            await platform.post("/v1/clusters/legacy-prod/control-plane/upgrade", json={"version": "1.25"})
        ).json()
        for _ in range(50):
            if (await platform.get(f"/v1/operations/{operation['id']}")).json()["done"]:
                break
            await asyncio.sleep(0.1)
    async with httpx.AsyncClient(base_url=deprecated.kube_url) as http:
        gone = await http.get("/apis/policy/v1beta1/namespaces/billing/poddisruptionbudgets")
        assert gone.status_code == 404 and gone.json()["kind"] == "Status"
        policy = (await http.get("/apis/policy")).json()
        assert [v["version"] for v in policy["versions"]] == ["v1"]
