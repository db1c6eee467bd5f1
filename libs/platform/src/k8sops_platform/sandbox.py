"""The sandbox cluster as a child process (the services only ever see its URLs and kubeconfig)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO


class SandboxProcess:
    def __init__(self, state_dir: Path, log_path: Path, scenario: str = "healthy-small") -> None:
        self.state_dir = state_dir
        self.log_path = log_path
        self.scenario = scenario
        self.kubeconfig = state_dir / "kubeconfig"
        self.kube_url = ""
        self.platform_url = ""
        self.prometheus_url = ""
        self.kube_urls: dict[str, str] = {}
        self.kube_tokens: dict[str, str] = {}
        self._process: subprocess.Popen[str] | None = None

    def start(self, timeout_s: float = 30.0) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        executable = shutil.which("k8sops-sandbox", path=str(Path(sys.executable).parent)) or "k8sops-sandbox"
        args = [executable, "serve", "--scenario", self.scenario, "--kubeconfig", str(self.kubeconfig)]
        args += ["--state-dir", str(self.state_dir)]
        for option, variable in (
            ("--kube-port", "K8SOPS_SANDBOX_KUBE_PORT"),
            ("--platform-port", "K8SOPS_SANDBOX_PLATFORM_PORT"),
            ("--prometheus-port", "K8SOPS_SANDBOX_PROMETHEUS_PORT"),
        ):
            if variable in os.environ:
                args += [option, os.environ[variable]]
        self._process = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=open(self.log_path, "ab"), text=True, start_new_session=True
        )
        assert self._process.stdout is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            line = self._process.stdout.readline()
            if not line:
                raise RuntimeError(f"sandbox exited with {self._process.poll()}; see {self.log_path}")
            if line.startswith("sandbox ready"):
                fields = dict(part.split("=", 1) for part in line.split()[2:])
                self.kube_url, self.platform_url = fields["kube"], fields["platform"]
                self.prometheus_url = fields["prometheus"]
                # Every cluster's API (the demo engagement's clusters resolve to these).
                described = json.loads((self.state_dir / "sandbox.json").read_text())
                self.kube_urls, self.kube_tokens = described["kube_clusters"], described.get("kube_tokens", {})
                # Keep draining its stdout so a chatty sandbox never blocks on a full pipe.
                threading.Thread(target=self._drain, args=(self._process.stdout,), daemon=True).start()
                return
        raise TimeoutError(f"sandbox not ready after {timeout_s}s; see {self.log_path}")

    def _drain(self, stream: IO[str]) -> None:
        with open(self.log_path, "a") as log:
            for line in stream:
                log.write(line)

    def env(self) -> dict[str, str]:
        return {
            # Each cluster's credentials, by reference (demo.write_demo_credentials fills it).
            "K8SOPS_UPGRADE_CREDENTIALS_DIR": str(self.state_dir / "credentials"),
            "K8SOPS_KUBECONFIG": str(self.kubeconfig),
            "K8SOPS_PLATFORM_API_URL": self.platform_url,
            "K8SOPS_PROMETHEUS_URL": self.prometheus_url,
        }

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
