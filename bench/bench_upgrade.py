"""upgrade-runner benchmark: orchestration overhead per node on the 500-node `large` scenario, and
20 clusters upgraded at once by one runner.

The sandbox runs as a process of its own; the runner (the service's app: API, runner loop, outbox
relay, consumer) runs in this one, so this process's CPU time is the runner's own work.
1. `large`: one plan on big-prod (500 nodes, 10,000 pods), declared non-prod so it runs at once;
   the first `--nodes` nodes (cordon, evict, replace through the platform API, wait Ready,
   uncordon) are timed from their persisted rows. Per node: wall time, minus the sandbox's
   simulated wait as the sandbox records it (its platform operation's sub-second start and end:
   accepted the replace, saw the node Ready), the rest split by phase; and this process's CPU
   time per node. The sandbox's configured node_ready_seconds and controller tick are printed:
   the simulated wait is node_ready_seconds rounded up to the tick that brings the node back.
   Goal: <= 50 ms per node beyond the simulated waits. Floor, same run and sandbox: 10 more
   nodes moved by the runner's NodeRoller and client alone, nothing persisted.
2. fleet: 20 three-node clusters, 20 plans at once on one runner: wall time, and a check that every
   operation went through exactly the expected steps and every node was replaced exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import httpx
from sqlalchemy import text
from support import Infrastructure, load_average, progress, report_measurement

from k8sops_common.auth import mint_token
from k8sops_common.bus.admin import all_topic_names, ensure_topics
from k8sops_common.events.catalog import ClusterV1, EngagementChangedV1
from k8sops_common.migrations import migrate
from k8sops_common.service import ServiceContext, create_app
from k8sops_common.settings import DEV_JWT_SECRET, ServiceSettings
from k8sops_upgrade_runner import service
from k8sops_upgrade_runner.app import DEFINITION
from k8sops_upgrade_runner.runner.credentials import open_cluster
from k8sops_upgrade_runner.runner.nodes import NodeRoller
from k8sops_upgrade_runner.settings import RunnerSettings

ENGAGEMENT = "eng-bench"
SENIOR = {
    "Authorization": "Bearer "
    + mint_token(DEV_JWT_SECRET, sub="bench", roles=["k8s-ops.senior"], engagements=[ENGAGEMENT])
}
NODE_READY_S = 0.02
EXPECTED_STEPS = [
    "planned",
    "prechecking",
    "scheduled",
    "upgrading_control_plane",
    "upgrading_nodes",
    "postchecking",
    "completed",
]


def fleet_scenario(clusters: int) -> str:
    lines = [
        "name: fleet",
        "description: small clusters for the fleet benchmark",
        "seed: 20",
        'created: "2025-06-01T00:00:00Z"',
        "timing: {node_ready_seconds: 0.05, pod_start_seconds: 0.02, control_plane_upgrade_seconds: 0.05}",
        "instance_types:",
        '  m5.xlarge: {cpu: "4", memory: 16Gi, price_bdt_hour_on_demand: 23.5, price_bdt_hour_spot: 8.9}',
        "clusters:",
    ]
    for n in range(clusters):
        lines += [
            f"  - name: fleet-{n:02d}",
            '    version: "1.29.6"',
            "    node_pools:",
            "      - {name: general, instance_type: m5.xlarge, count: 3}",
            "    namespaces: [{name: shop}]",
            "    workloads:",
            "      - name: web",
            "        namespace: shop",
            "        replicas: 3",
            '        containers: [{name: web, image: "nginx:1.27.0", requests: {cpu: 250m, memory: 256Mi}}]',
            "        pdb: {maxUnavailable: 1}",
        ]
    return "\n".join(lines) + "\n"


class SandboxProcess:
    def __init__(self, scenario: str, state_dir: Path) -> None:
        self.scenario, self.state_dir = scenario, state_dir
        self.process: subprocess.Popen[str] | None = None

    def __enter__(self) -> dict[str, Any]:
        executable = Path(sys.executable).parent / "k8sops-sandbox"
        self.process = subprocess.Popen(
            [
                str(executable),
                "serve",
                "--scenario",
                self.scenario,
                "--kube-port",
                "0",
                "--platform-port",
                "0",
                "--prometheus-port",
                "0",
                "--state-dir",
                str(self.state_dir),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("sandbox ready"):
                described: dict[str, Any] = json.loads((self.state_dir / "sandbox.json").read_text())
                return {**described, "pid": self.process.pid}
        raise RuntimeError("sandbox did not start")

    def __exit__(self, *_: object) -> None:
        assert self.process is not None
        self.process.terminate()
        self.process.wait(10)


@dataclass
class Run:
    api: httpx.AsyncClient
    ids: list[str]
    clusters: list[str]
    context: ServiceContext
    sandbox_timing: dict[str, Any]
    idle_cpu_ms_per_s: float


@asynccontextmanager
async def runner(
    infra: Infrastructure, name: str, sandbox: dict[str, Any], timing: dict[str, float], idle_s: float = 0
) -> AsyncIterator[Run]:
    """The service's app on a fresh schema, one plan per sandbox cluster, all created at once.
    With `idle_s`, the app's CPU while it has nothing to do is measured first (its outbox relay
    and job loop poll the database all the time, whatever they have to do)."""
    schema, prefix = f"bench_upgrade_{name}", f"bench-upgrade-{name}-{os.getpid()}."
    settings = ServiceSettings(
        service_name="upgrade-runner",
        database_url=infra.database_url,
        db_schema=schema,
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
        topic_prefix=prefix,
    )
    await asyncio.to_thread(migrate, DEFINITION.migrations_package, settings.database_url, settings.schema_name)
    await ensure_topics(infra.kafka_bootstrap_servers, all_topic_names(prefix))
    async with httpx.AsyncClient(base_url=sandbox["platform"]) as http:
        patched = await http.patch("/admin/timing", json=timing)
        patched.raise_for_status()
    app = create_app(DEFINITION, settings)
    context = app.state.context
    context.extras["runner_settings"] = RunnerSettings(
        platform_api_url=sandbox["platform"],
        platform_poll_s=0.02,
        poll_interval_s=0.5,
        eviction_retry_s=0.05,
        drain_poll_s=0.02,
        postcheck_timeout_s=300,
        max_parallel=50,
        node_ready_timeout_s=120,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a log line per request would be measured too
    clusters = sorted(sandbox["kube_clusters"])
    engagement = EngagementChangedV1(
        engagement_id=ENGAGEMENT,
        change="created",
        name="bench",
        tier="k8s-247",
        timezone="UTC",
        working_days=[0, 1, 2, 3, 4],
        clusters=[
            ClusterV1(
                cluster_id=c,
                name=c,
                environment="non-prod",
                api_endpoint=sandbox["kube_clusters"][c],
                size_band="L",
                workload_band="1000+",
                monthly_retainer_bdt=Decimal(1),
            )
            for c in clusters
        ],
        changed_at=datetime.now(UTC),
    )
    async with context.database.unit_of_work() as session:
        await service.apply_engagement_change(session, engagement)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://runner") as api:
            await asyncio.sleep(min(idle_s, 1))  # past the start-up work
            cpu_before = time.process_time()
            await asyncio.sleep(idle_s)
            idle = (time.process_time() - cpu_before) / idle_s * 1000 if idle_s else 0.0
            ids = []
            for cluster in clusters:
                body = {"engagement_id": ENGAGEMENT, "cluster_id": cluster, "force": True}
                created = await api.post("/v1/operations", json=body, headers=SENIOR)
                created.raise_for_status()
                ids.append(created.json()["operation_id"])
            yield Run(api, ids, clusters, context, patched.json(), idle)


async def platform_node_operations(sandbox: dict[str, Any]) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=sandbox["platform"], timeout=60) as http:
        operations = (await http.get("/v1/operations")).json()["operations"]
    return [op for op in operations if op["type"] == "UPGRADE_NODE"]


def cpu_seconds_of(pid: int) -> float:
    """A process's CPU time (user + system) from /proc: the sandbox's, which runs apart."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def seconds(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def ms(values: list[float]) -> float:
    return round(statistics.mean(values) * 1000, 1)


async def measure_large(infra: Infrastructure, sandbox: dict[str, Any], nodes_measured: int) -> dict[str, Any]:
    """The first `nodes_measured` nodes of big-prod's rolling upgrade, timed phase by phase.

    The simulated wait is the sandbox's own record of each replace: from the moment its platform
    accepted the request to the moment it saw the node Ready (the operation's sub-second
    `started_at`/`ended_at`). Everything else, the runner's wait for the answer included, is overhead.
    """
    timing = {"node_ready_seconds": NODE_READY_S, "pod_start_seconds": 0.01, "control_plane_upgrade_seconds": 0.05}
    async with runner(infra, "large", sandbox, timing, idle_s=3) as run:
        cpu_started: float | None = None
        database = run.context.database
        count = text("SELECT count(*) FILTER (WHERE phase = 'done'), count(*) FROM operation_nodes")
        while True:
            # A count, not the rows: reading 500 rows through the API in this process every look
            # took the runner's event loop and CPU, and was measured as its overhead.
            async with database.sessions() as session:
                finished, listed = (await session.execute(count)).one()
            if cpu_started is None and listed:
                cpu_started, window_started = time.process_time(), time.perf_counter()
                sandbox_cpu_started = cpu_seconds_of(sandbox["pid"])
            if finished >= nodes_measured:
                cpu = time.process_time() - (cpu_started or 0.0)
                window = time.perf_counter() - window_started
                sandbox_cpu = cpu_seconds_of(sandbox["pid"]) - sandbox_cpu_started
                break
            await asyncio.sleep(0.5)
        rows: list[dict[str, Any]] = (await run.api.get(f"/v1/operations/{run.ids[0]}/nodes", headers=SENIOR)).json()
        async with database.sessions() as session:
            listed_replaces = await session.execute(text("SELECT node, platform_operation FROM operation_nodes"))
            asked: dict[str, str] = {node: operation for node, operation in listed_replaces.all()}
    done = sorted((row for row in rows if row["phase"] == "done"), key=lambda row: row["position"])[:nodes_measured]
    replaces = {op["id"]: op for op in await platform_node_operations(sandbox)}
    platform = [replaces[asked[row["node"]]] for row in done]
    wall = seconds(done[-1]["finished_at"]) - seconds(done[0]["started_at"])
    waits = [seconds(op["ended_at"]) - seconds(op["started_at"]) for op in platform]
    drains = [seconds(op["started_at"]) - seconds(row["started_at"]) for row, op in zip(done, platform, strict=True)]
    seen = [seconds(row["ready_at"]) - seconds(op["ended_at"]) for row, op in zip(done, platform, strict=True)]
    after_ready = [seconds(row["finished_at"]) - seconds(row["ready_at"]) for row in done]
    gaps = [seconds(after["started_at"]) - seconds(before["finished_at"]) for before, after in itertools.pairwise(done)]
    per_node = wall / len(done) * 1000
    simulated = statistics.mean(waits) * 1000
    return {
        "nodes_in_cluster": len(rows),
        "nodes_measured": len(done),
        "sandbox_timing": {
            key: run.sandbox_timing[key] for key in ("node_ready_seconds", "controller_interval_seconds")
        },
        "wall_ms_per_node": round(per_node, 1),
        "simulated_wait_ms_per_node": round(simulated, 1),
        "simulated_wait_ms_min_max": [round(min(waits) * 1000, 1), round(max(waits) * 1000, 1)],
        "overhead_ms_per_node": round(per_node - simulated, 1),
        "of_which_cordoned_to_replace_accepted_ms": ms(drains),
        "of_which_platform_done_to_runner_saw_ready_ms": ms(seen),
        "of_which_ready_to_uncordoned_ms": ms(after_ready),
        "of_which_between_nodes_ms": ms(gaps),
        "runner_cpu_ms_per_node": round(cpu / len(done) * 1000, 1),
        "runner_idle_cpu_ms_per_s": round(run.idle_cpu_ms_per_s, 1),
        "of_which_idle_background_ms": round(run.idle_cpu_ms_per_s * window / len(done), 1),
        # The sandbox's API answers nothing while its controller makes a pass over 10,000 pods
        # (about 0.1 s of CPU, at every tick after a change): its busy share is latency every
        # call of the runner can meet, counted above as overhead.
        "sandbox_cpu_ms_per_node": round(sandbox_cpu / len(done) * 1000, 1),
        "sandbox_cpu_percent_of_window": round(sandbox_cpu / window * 100, 1),
        "goal_ms_per_node": 50,
        "floor_api_calls_alone": await measure_floor(sandbox, rows, 10),
    }


async def measure_floor(sandbox: dict[str, Any], rows: list[dict[str, Any]], count: int) -> dict[str, Any]:
    """The floor: nodes further down big-prod's list moved by the runner's own NodeRoller and cluster
    client, back to back, with nothing persisted (no database, lease, loop or events): the same API
    calls alone, on the same sandbox, once the runner has stopped."""
    settings = RunnerSettings(
        platform_api_url=sandbox["platform"], platform_poll_s=0.02, eviction_retry_s=0.05, drain_poll_s=0.02
    )
    cluster = {"name": "big-prod", "api_endpoint": sandbox["kube_clusters"]["big-prod"]}
    pending = [row for row in rows if row["phase"] == "pending"][-count:]

    async def keep(row: Any, values: dict[str, Any]) -> Any:
        return {**row, **values}

    async with httpx.AsyncClient() as http:
        client = open_cluster(cluster, settings, http)
        roller = NodeRoller(client, keep, service.now_utc, settings)
        cpu, started = time.process_time(), time.perf_counter()
        done = [await roller.upgrade(cast(Any, {**row, "touched": [], "ready_at": None})) for row in pending]
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        await client.close()
    replaces = {op["id"]: op for op in await platform_node_operations(sandbox)}
    waits = [
        seconds(op["ended_at"]) - seconds(op["started_at"])
        for op in (replaces[row["platform_operation"]] for row in done)
    ]
    per_node, simulated = wall / len(done) * 1000, statistics.mean(waits) * 1000
    return {
        "nodes": len(done),
        "wall_ms_per_node": round(per_node, 1),
        "simulated_wait_ms_per_node": round(simulated, 1),
        "overhead_ms_per_node": round(per_node - simulated, 1),
        "cpu_ms_per_node": round(cpu / len(done) * 1000, 1),
    }


async def measure_fleet(infra: Infrastructure, sandbox: dict[str, Any]) -> dict[str, Any]:
    """Every cluster of the fleet at once, to the end; then every operation's steps and nodes checked."""
    started = time.perf_counter()
    async with runner(infra, "fleet", sandbox, {"node_ready_seconds": 0.05}) as run:
        api, ids, clusters = run.api, run.ids, run.clusters
        while True:
            states = [(await api.get(f"/v1/operations/{i}", headers=SENIOR)).json()["state"] for i in ids]
            if all(state in ("completed", "rolled_back", "precheck_failed") for state in states):
                break
            await asyncio.sleep(0.2)
        wall = time.perf_counter() - started
        steps = {i: (await api.get(f"/v1/operations/{i}/steps", headers=SENIOR)).json() for i in ids}
        nodes = {i: (await api.get(f"/v1/operations/{i}/nodes", headers=SENIOR)).json() for i in ids}
    replaced = Counter((op["cluster"], op["node"]) for op in await platform_node_operations(sandbox))
    in_order = all([step["to_state"] for step in steps[i]] == EXPECTED_STEPS for i in ids)
    once = all(replaced[(c, node["node"])] == 1 for c, i in zip(clusters, ids, strict=True) for node in nodes[i])
    durations = [seconds(steps[i][-1]["at"]) - seconds(steps[i][0]["at"]) for i in ids]
    return {
        "clusters": len(ids),
        "nodes": sum(len(nodes[i]) for i in ids),
        "states": dict(Counter(states)),
        "wall_s": round(wall, 2),
        "per_cluster_s_median": round(statistics.median(durations), 2),
        "per_cluster_s_max": round(max(durations), 2),
        "steps_in_order": in_order,
        "every_node_replaced_once": once,
    }


async def measure(infra: Infrastructure, args: argparse.Namespace) -> dict[str, Any]:
    figures: dict[str, Any] = {"load_average_start": load_average()}
    with tempfile.TemporaryDirectory(prefix="k8sops-bench-upgrade-") as workdir:
        progress(f"large: the first {args.nodes} nodes of a 500-node rolling upgrade")
        with SandboxProcess("large", Path(workdir) / "large") as sandbox:
            figures["large"] = await measure_large(infra, sandbox, args.nodes)
        progress(f"large: {figures['large']}")
        scenario = Path(workdir) / "fleet.yaml"
        scenario.write_text(fleet_scenario(args.clusters))
        progress(f"fleet: {args.clusters} clusters at once")
        with SandboxProcess(str(scenario), Path(workdir) / "fleet") as sandbox:
            figures["fleet"] = await measure_fleet(infra, sandbox)
    figures["load_average_end"] = load_average()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=20)
    parser.add_argument("--nodes", type=int, default=40, help="nodes of the large cluster to time")
    report_measurement(measure, parser.parse_args())


if __name__ == "__main__":
    main()
