"""The five services as separate processes: `python -m k8sops_<name> serve` with their own env."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    port: int
    # Runs as a role that may only SELECT and INSERT in its schema (SPEC section 8).
    append_only: bool = False

    @property
    def module(self) -> str:
        return "k8sops_" + self.name.replace("-", "_")

    @property
    def schema(self) -> str:
        return self.name.replace("-", "_")

    @property
    def migrations_package(self) -> str:
        return f"{self.module}.migrations"


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("intake", 8001),
    ServiceSpec("sla-timer", 8002),
    ServiceSpec("upgrade-runner", 8003),
    ServiceSpec("cost-analyzer", 8004),
    ServiceSpec("audit", 8005, append_only=True),
)
SERVICES_BY_NAME = {spec.name: spec for spec in SERVICES}


@dataclass
class ServiceProcess:
    """One running service; `kill()` is SIGKILL (crash), `stop()` is SIGTERM (graceful)."""

    spec: ServiceSpec
    port: int
    env: Mapping[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        # A restart after a crash: HTTP workers the dead supervisor left behind would hold the port.
        self._kill_group()
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.spec.module, "serve"],
            env={**os.environ, **self.env, "K8SOPS_HTTP_PORT": str(self.port), "K8SOPS_SERVICE_NAME": self.spec.name},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        last = "no answer"
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.spec.name} exited with {self.process.returncode}; see {self.log_path}")
            try:
                response = httpx.get(f"{self.url}/readyz", timeout=5)
                if response.status_code == 200:
                    return
                last = response.text
            except httpx.HTTPError as error:
                last = str(error)
            time.sleep(0.2)
        raise TimeoutError(f"{self.spec.name} not ready after {timeout_s}s: {last}; see {self.log_path}")

    def stop(self, timeout_s: float = 10.0) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self._kill_group()
            process.wait()

    def kill(self) -> None:
        """SIGKILL to the service's whole process group: its HTTP workers die with it, as in a crash."""
        if self.process is not None and self.process.poll() is None:
            self._kill_group()
            self.process.wait()

    def _kill_group(self) -> None:
        # start_new_session made the service the leader of a process group of its own.
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
