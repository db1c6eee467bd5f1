"""Cost analysis of the `large` sandbox cluster (500 nodes, 10,000 pods): wall time and peak RSS of
a whole analysis (Kubernetes API and Prometheus reads, findings, posture, report), beside the time
to fetch the raw series alone. The sandbox runs in a process of its own, so the RSS is the
analyzer's. Goal: under 3 s and 500 MB.

Run: .venv/bin/python bench/bench_cost.py  (prints one JSON object)
"""

from __future__ import annotations

import asyncio
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from support import load_average, machine, progress, report

from k8sops_cost_analyzer.domain.findings import AnalysisConfig, analyse
from k8sops_cost_analyzer.domain.inventory import namespace_groups, workload_specs, workload_usage
from k8sops_cost_analyzer.domain.posture import cluster_checks
from k8sops_cost_analyzer.domain.pricing import DEFAULT_PRICES, cluster_rates
from k8sops_cost_analyzer.domain.report import build_report, render_html, render_markdown
from k8sops_cost_analyzer.domain.review import scorecard
from k8sops_cost_analyzer.reader import ClusterTarget, read_inventory, read_usage
from k8sops_cost_analyzer.settings import CostSettings

SANDBOX = str(Path(sys.executable).with_name("k8sops-sandbox"))
PODS = 10_000


async def start_sandbox(workdir: Path) -> tuple[asyncio.subprocess.Process, dict[str, str]]:
    process = await asyncio.create_subprocess_exec(
        SANDBOX, "serve", "--scenario", "large", "--kube-port", "0", "--platform-port", "0",
        "--prometheus-port", "0", "--kubeconfig", str(workdir / "kubeconfig"),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    line = (await asyncio.wait_for(process.stdout.readline(), 120)).decode()
    if not line.startswith("sandbox ready"):
        raise RuntimeError(f"sandbox did not start: {line!r}")
    return process, dict(part.split("=", 1) for part in line.split()[2:])


async def wait_for_pods(kube_url: str) -> None:
    async with httpx.AsyncClient(base_url=kube_url, timeout=120) as kube:
        for _ in range(600):
            pods = (await kube.get("/api/v1/pods", params={"fieldSelector": "status.phase=Running"})).json()
            if len(pods["items"]) >= PODS:
                return
            await asyncio.sleep(0.5)
    raise TimeoutError("the large scenario's pods are not all running")


async def measure() -> dict[str, Any]:
    settings = CostSettings()
    history, step = timedelta(days=settings.history_days), timedelta(minutes=settings.step_minutes)
    with tempfile.TemporaryDirectory(prefix="k8sops-bench-cost-") as folder:
        sandbox, urls = await start_sandbox(Path(folder))
        try:
            progress("sandbox `large` up; waiting for its 10,000 pods")
            await wait_for_pods(urls["kube"])
            target = ClusterTarget(urls["kubeconfig"], "big-prod", urls["prometheus"], "big-prod", "cluster")
            now = datetime.now(UTC)

            progress("whole analysis")
            started = time.perf_counter()
            inventory = await read_inventory(target)
            groups = namespace_groups(inventory, settings.pods_per_query)
            usage = await read_usage(target, groups, now, history, step, settings.query_concurrency)
            fetched = time.perf_counter()
            series = len(usage.cpu) + len(usage.memory)
            workloads = workload_usage(inventory, usage.cpu, usage.memory)
            config = AnalysisConfig()
            rates = cluster_rates(
                [n.capacity() for n in inventory.nodes], {p.instance_type: p for p in DEFAULT_PRICES}, config.cpu_share
            )
            spot = sum(1 for n in inventory.nodes if n.capacity_type == "spot")
            findings = analyse("big-prod", workloads, inventory.namespaces, spot, rates, config)
            posture = cluster_checks(
                workload_specs(inventory), inventory.namespaces, inventory.namespaces_with_policy, inventory.bindings
            )
            names = {
                "analysis_id": "bench",
                "engagement_id": "bench",
                "cluster_id": "big-prod",
                "cluster_name": "big-prod",
            }
            header = {**names, "kind": "health-review", "quarter": "2026-Q4", "request_id": None,
                      "generated_at": now.isoformat(), "usage_source": usage.source}  # fmt: skip
            document = build_report(
                header=header, inventory=inventory, workloads=workloads, findings=findings, posture=posture,
                scores=scorecard([], None), rates=rates, trend=[], resurfaced=[], today=now.date(),
            )  # fmt: skip
            render_markdown(document)
            render_html(document)
            total_s = time.perf_counter() - started
        finally:
            sandbox.terminate()
            await sandbox.wait()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "nodes": len(inventory.nodes),
        "pods": len(inventory.pod_owner),
        "series": series,
        "samples_per_series": int(history / step),
        "fetch_raw_series_seconds": round(fetched - started, 3),
        "analysis_seconds": round(total_s, 3),
        "analysis_after_fetch_seconds": round(total_s - (fetched - started), 3),
        "peak_rss_mb": round(peak_mb, 1),
        "findings": len(findings),
        "goal": "analysis < 3 s, peak RSS < 500 MB",
        "load_average": load_average(),
        "machine": machine(),
    }


if __name__ == "__main__":
    report(lambda: asyncio.run(measure()))
