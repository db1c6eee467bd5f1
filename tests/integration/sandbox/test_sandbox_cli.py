"""The sandbox as its own process: `k8sops-sandbox serve`, driven over HTTP, stopped by SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import httpx
import yaml

from k8sops_sandbox.server import run_sandbox

from .conftest import kubectl

CLI = str(Path(sys.executable).with_name("k8sops-sandbox"))


async def test_serve_prints_ready_line_and_stops_on_sigterm(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        CLI,
        "serve",
        "--scenario",
        "blocking-pdb",
        "--kube-port",
        "0",
        "--platform-port",
        "0",
        "--prometheus-port",
        "0",
        "--state-dir",
        str(tmp_path / "state"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 20)).decode().strip()
        assert line.startswith("sandbox ready "), line
        fields = dict(part.split("=", 1) for part in line.removeprefix("sandbox ready ").split())
        assert set(fields) == {"kube", "platform", "prometheus", "kubeconfig"}
        assert fields["kubeconfig"] == str(tmp_path / "state" / "kubeconfig")
        kubeconfig = yaml.safe_load(await asyncio.to_thread(Path(fields["kubeconfig"]).read_text))
        assert kubeconfig["clusters"][0]["cluster"]["server"] == fields["kube"]
        assert (tmp_path / "state" / "sandbox.json").exists()

        async with httpx.AsyncClient() as http:
            # A test in another process injects a fault over the admin endpoint.
            added = await http.post(
                f"{fields['platform']}/admin/faults", json={"type": "api_error", "status": 503, "count": 1}
            )
            assert added.status_code == 201
            assert (await http.get(f"{fields['kube']}/api/v1/nodes")).status_code == 503
            nodes = (await http.get(f"{fields['kube']}/api/v1/nodes")).json()
            assert len(nodes["items"]) == 3
            ready = await http.get(f"{fields['prometheus']}/-/ready")
            assert ready.status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 10)
    assert code == 0


async def test_scenarios_command_lists_shipped_scenarios() -> None:
    process = await asyncio.create_subprocess_exec(CLI, "scenarios", stdout=asyncio.subprocess.PIPE)
    stdout, _ = await process.communicate()
    names = [line.split("\t")[0] for line in stdout.decode().splitlines()]
    assert names == ["addons", "blocking-pdb", "cost-review", "deprecated-apis", "healthy-small", "large"]


async def test_large_scenario_loads_and_serves(tmp_path: Path) -> None:
    # How fast it starts is a figure of bench/bench_sandbox.py (startup_seconds), not an assertion:
    # on a loaded machine a 15 s bound failed a sandbox that started correctly.
    async with run_sandbox("large", kubeconfig_path=tmp_path / "kubeconfig") as sandbox:
        nodes = await kubectl(sandbox, tmp_path, "get", "nodes", "--no-headers")
        assert nodes.code == 0 and len(nodes.stdout.splitlines()) == 500
        pods = await kubectl(sandbox, tmp_path, "get", "pods", "-A", "--no-headers", within=120)
        assert pods.code == 0, pods.stderr
        rows = pods.stdout.splitlines()
        assert len(rows) == 10_000 and all(" Running " in row for row in rows)
