"""`k8sops run` as operators use it: a crashed service comes back, a second run refuses, demo re-runs."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from k8sops_common.auth import mint_token
from k8sops_common.settings import DEV_JWT_SECRET
from k8sops_platform.demo import DEMO_ENGAGEMENT, load_demo_data
from k8sops_platform.embedded import free_port
from k8sops_platform.services import SERVICES


class RunOutput:
    """The lines `k8sops run` prints, read on a thread so the pipe never fills."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line)

    def wait_for(self, text: str, timeout_s: float = 180) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.5)
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            self.lines.append(line)
            if text in line:
                return line
        raise AssertionError(f"{text!r} not printed within {timeout_s}s; output so far:\n{''.join(self.lines)}")


@pytest.fixture
def platform_env() -> Iterator[dict[str, str]]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS"} and not key.startswith("K8SOPS_")
    }
    env["K8SOPS_BROKER_PORT"] = str(free_port())
    for spec in SERVICES:
        env[f"K8SOPS_{spec.schema.upper()}_PORT"] = str(free_port())
    # Not under pytest's 0700 temp folder: the embedded server runs as a user of its own.
    data_dir = Path(tempfile.mkdtemp(prefix="k8sops-run-"))
    data_dir.chmod(0o755)
    env["TEST_DATA_DIR"] = str(data_dir)
    yield env
    shutil.rmtree(data_dir, ignore_errors=True)


K8SOPS = str(Path(sys.executable).parent / "k8sops")


def start_run(env: dict[str, str], data_dir: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [K8SOPS, "run", "--no-sandbox", "--data-dir", str(data_dir), *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def service_pid(run: subprocess.Popen[str], module: str) -> int:
    for child in psutil.Process(run.pid).children(recursive=True):
        if module in " ".join(child.cmdline()):
            return child.pid
    raise AssertionError(f"no {module} process under k8sops run")


def test_a_killed_service_is_restarted_a_second_run_refuses_and_the_demo_loads_again(platform_env) -> None:  # type: ignore[no-untyped-def]
    data_dir = Path(platform_env["TEST_DATA_DIR"])
    run = start_run(platform_env, data_dir)
    output = RunOutput(run)
    try:
        output.wait_for("everything is up")
        intake_port = platform_env["K8SOPS_INTAKE_PORT"]
        audit_url = f"http://127.0.0.1:{platform_env['K8SOPS_AUDIT_PORT']}"

        second = subprocess.run(
            [K8SOPS, "run", "--no-sandbox", "--data-dir", str(data_dir / "x")],
            env=platform_env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert second.returncode == 1
        assert f"port {intake_port} (intake) is taken; set K8SOPS_INTAKE_PORT to move it" in second.stdout
        assert "everything is up" not in second.stdout

        intake_pid = service_pid(run, "k8sops_intake")
        os.kill(service_pid(run, "k8sops_audit"), signal.SIGKILL)
        output.wait_for("audit exited; restarting it in 1s")
        output.wait_for("audit restarted")
        deadline = time.monotonic() + 120
        while not _healthy(audit_url):
            assert time.monotonic() < deadline, "audit did not come back"
            time.sleep(0.5)
        assert run.poll() is None
        assert service_pid(run, "k8sops_intake") == intake_pid  # the others kept running

        # Part of the demo data deleted: loading it again recreates it instead of stopping on a 409.
        intake_url = f"http://127.0.0.1:{intake_port}"
        admin = mint_token(
            DEV_JWT_SECRET, sub="rahim@customer.example", roles=["k8s-ops.admin"], engagements=[DEMO_ENGAGEMENT]
        )
        cluster = f"{intake_url}/v1/engagements/{DEMO_ENGAGEMENT}/clusters/prod-dhaka-1"
        headers = {"Authorization": f"Bearer {admin}"}
        assert httpx.delete(cluster, headers=headers, timeout=10).status_code == 204
        load_demo_data(intake_url, DEV_JWT_SECRET)
        assert httpx.get(cluster, headers=headers, timeout=10).status_code == 200
    finally:
        run.send_signal(signal.SIGINT)
        try:
            run.wait(60)
        except subprocess.TimeoutExpired:
            run.kill()
            run.wait()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False
