"""Wiring: build the clusters of a scenario and serve their Kubernetes APIs, the platform API and
the Prometheus API from one process."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator, Generator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn
import yaml

from .cluster import ClusterState, all_workloads
from .controller import Controller
from .faults import FaultRegistry
from .kube_api import KubeApi
from .kube_auth import TokenCheck
from .platform import PlatformService
from .platform_api import build_platform_app
from .prometheus_api import build_prometheus_app
from .provisioning import Served
from .scenario import Fault, Scenario, load_scenario
from .usage import UsageModel


class SignalFreeServer(uvicorn.Server):
    """uvicorn without its own signal handling: the sandbox owns SIGTERM/SIGINT."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@dataclass
class Sandbox:
    scenario: Scenario
    faults: FaultRegistry
    clusters: dict[str, ClusterState]
    controllers: dict[str, Controller]
    usage: dict[str, UsageModel]
    platform: PlatformService
    kube_urls: dict[str, str] = field(default_factory=dict)
    platform_url: str = ""
    prometheus_url: str = ""
    kubeconfig_path: Path | None = None
    host: str = "127.0.0.1"
    # The Kubernetes API server of each cluster: scenario clusters, and those created at runtime.
    serving: dict[str, Served] = field(default_factory=dict)
    provisioned: dict[str, Served] = field(default_factory=dict)
    # Each cluster's bearer token; checked while `auth.required` (see kube_auth).
    auth: TokenCheck = field(default_factory=TokenCheck)

    @property
    def kube_url(self) -> str:
        """The first cluster's API (the prod cluster in the shipped scenarios)."""
        return next(iter(self.kube_urls.values()))

    def cluster(self, name: str | None = None) -> ClusterState:
        return self.clusters[name] if name else next(iter(self.clusters.values()))

    def inject_fault(self, fault: Fault | dict[str, Any]) -> str:
        """Add a fault at runtime; returns its id (remove it with `remove_fault`)."""
        model = fault if isinstance(fault, Fault) else Fault.model_validate(fault)
        return self.faults.add(model).id

    def remove_fault(self, fault_id: str) -> bool:
        return self.faults.remove(fault_id)

    def clear_faults(self) -> None:
        self.faults.clear()

    def kubeconfig(self) -> dict[str, Any]:
        names = list(self.kube_urls)
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "preferences": {},
            "clusters": [{"name": n, "cluster": {"server": url}} for n, url in self.kube_urls.items()],
            "users": [{"name": f"{n}-admin", "user": {"token": self.auth.issue(n)}} for n in names],
            "contexts": [
                {"name": n, "context": {"cluster": n, "user": f"{n}-admin", "namespace": "default"}} for n in names
            ],
            "current-context": names[0],
        }

    def describe(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario.name,
            "kube": self.kube_url,
            "kube_clusters": self.kube_urls,
            "kube_tokens": {name: self.auth.issue(name) for name in self.kube_urls},
            "tokens_required": self.auth.required,
            "platform": self.platform_url,
            "prometheus": self.prometheus_url,
            "kubeconfig": str(self.kubeconfig_path) if self.kubeconfig_path else None,
        }


def build_sandbox(scenario: Scenario) -> Sandbox:
    """Seed every cluster of the scenario (synchronously: the same input gives the same objects)."""
    faults = FaultRegistry()
    for fault in scenario.faults:
        faults.add(fault)
    clusters: dict[str, ClusterState] = {}
    controllers: dict[str, Controller] = {}
    usage: dict[str, UsageModel] = {}
    for spec in scenario.clusters:
        cluster = ClusterState(scenario, spec, faults)
        cluster.seed()
        controller = Controller(cluster)
        for _ in range(3):
            controller.reconcile(instant=True)
        # From here on timestamps are real time.
        cluster.store.clock = lambda: datetime.now(UTC)
        clusters[spec.name] = cluster
        controllers[spec.name] = controller
        usage[spec.name] = UsageModel(cluster, all_workloads(spec))
    return Sandbox(scenario, faults, clusters, controllers, usage, PlatformService(clusters, scenario))


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP, and
    # without it every keep-alive response (headers, then body) waited ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def url_of(host: str, sock: socket.socket) -> str:
    port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


@contextlib.asynccontextmanager
async def run_sandbox(
    scenario: str | Path | Scenario,
    host: str = "127.0.0.1",
    kube_port: int = 0,
    platform_port: int = 0,
    prometheus_port: int = 0,
    kubeconfig_path: str | Path | None = None,
    state_dir: str | Path | None = None,
    require_tokens: bool = False,
) -> AsyncIterator[Sandbox]:
    """Serve a scenario until the block exits. Port 0 picks a free port; with a fixed kube_port the
    second cluster gets kube_port + 1 and so on. Writes the kubeconfig (one context per cluster)."""
    loaded = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    sandbox = build_sandbox(loaded)
    sandbox.host = host
    sandbox.auth.required = require_tokens
    sockets: list[tuple[Any, socket.socket]] = []
    for index, (name, cluster) in enumerate(sandbox.clusters.items()):
        sock = bind(host, kube_port + index if kube_port else 0)
        cluster.kube_url = sandbox.kube_urls[name] = url_of(host, sock)
        api = KubeApi(cluster, sandbox.usage[name])
        sockets.append((sandbox.auth.guard(name, api.app), sock))
    platform_sock = bind(host, platform_port)
    prometheus_sock = bind(host, prometheus_port)
    sandbox.platform_url = url_of(host, platform_sock)
    sandbox.prometheus_url = url_of(host, prometheus_sock)
    sockets.append((build_platform_app(sandbox), platform_sock))
    sockets.append((build_prometheus_app(sandbox), prometheus_sock))

    state = Path(state_dir) if state_dir else None
    if state is not None:
        state.mkdir(parents=True, exist_ok=True)
    if kubeconfig_path is None and state is not None:
        kubeconfig_path = state / "kubeconfig"
    if kubeconfig_path is not None:
        sandbox.kubeconfig_path = Path(kubeconfig_path)
        sandbox.kubeconfig_path.parent.mkdir(parents=True, exist_ok=True)
        sandbox.kubeconfig_path.write_text(yaml.safe_dump(sandbox.kubeconfig(), sort_keys=False))

    servers = [
        SignalFreeServer(
            uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False, timeout_graceful_shutdown=1)
        )
        for app, _ in sockets
    ]
    tasks = [
        asyncio.create_task(server.serve(sockets=[sock])) for server, (_, sock) in zip(servers, sockets, strict=True)
    ]
    sandbox.serving = {
        name: Served(server, task) for name, server, task in zip(sandbox.clusters, servers, tasks, strict=False)
    }
    for controller in sandbox.controllers.values():
        controller.start()
    try:
        while not all(server.started for server in servers):
            if any(task.done() for task in tasks):
                for task in tasks:
                    if task.done() and task.exception():
                        raise RuntimeError("a sandbox server failed to start") from task.exception()
                raise RuntimeError("a sandbox server failed to start")
            await asyncio.sleep(0.01)
        if state is not None:
            (state / "sandbox.json").write_text(json.dumps(sandbox.describe(), indent=2))
        yield sandbox
    finally:
        await sandbox.platform.stop()
        for controller in sandbox.controllers.values():
            await controller.stop()
        for server in [*servers, *(served.server for served in sandbox.provisioned.values())]:
            server.should_exit = True
        await asyncio.gather(*tasks, *(served.task for served in sandbox.provisioned.values()), return_exceptions=True)
        for _, sock in sockets:
            sock.close()
