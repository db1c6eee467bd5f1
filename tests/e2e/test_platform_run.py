"""`k8sops run` as operators use it: a crashed service comes back, a second run refuses, demo re-runs;
and, exporting to a real OTLP/HTTP receiver, one request is one trace from intake through the relay,
sla-timer and audit to its breach and credit, while the idle platform makes (almost) no spans."""

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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import httpx
import psutil
import pytest
from opentelemetry.instrumentation.utils import suppress_http_instrumentation

from k8sops_common.auth import mint_token
from k8sops_common.settings import DEV_JWT_SECRET
from k8sops_platform.demo import DEMO_ENGAGEMENT, load_demo_data
from k8sops_platform.embedded import free_port
from k8sops_platform.services import SERVICES
from tests.support.otlp import OtlpReceiver, ReceivedSpan

from .test_tracing import ancestors, one


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


T = TypeVar("T")
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


def test_a_killed_service_is_restarted_a_second_run_refuses_and_the_demo_loads_again(  # type: ignore[no-untyped-def]
    platform_env, otlp_receiver: OtlpReceiver
) -> None:
    data_dir = Path(platform_env["TEST_DATA_DIR"])
    platform_env["OTEL_EXPORTER_OTLP_ENDPOINT"] = otlp_receiver.endpoint
    platform_env["OTEL_BSP_SCHEDULE_DELAY"] = "200"
    run = start_run(platform_env, data_dir)
    output = RunOutput(run)
    try:
        demo = output.wait_for("demo data:")
        assert "health review" not in demo  # no sandbox, no cluster to review: not waited for
        output.wait_for("everything is up")
        intake_port = platform_env["K8SOPS_INTAKE_PORT"]
        audit_url = f"http://127.0.0.1:{platform_env['K8SOPS_AUDIT_PORT']}"
        trace_id = open_a_request_with_a_one_minute_budget(platform_env)

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

        # Before audit is killed below, so that its spans for the request are exported by then.
        the_request_crossed_every_hop(otlp_receiver, trace_id)
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

        breach_and_credit_join_the_trace(otlp_receiver, trace_id)
        idle_platform_makes_almost_no_spans(platform_env, otlp_receiver)
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


def wait_until(check: Callable[[], T], accept: Callable[[T], bool], timeout_s: float) -> T:
    deadline = time.monotonic() + timeout_s
    while not accept(result := check()):
        assert time.monotonic() < deadline, f"not within {timeout_s}s; last: {result!r}"
        time.sleep(0.3)
    return result


def open_a_request_with_a_one_minute_budget(env: dict[str, str]) -> str:
    """The demo tier's P2 target cut to one minute through the operator CLI (the policy API), then a
    P2 request, whose trace id this returns."""
    operator = mint_token(DEV_JWT_SECRET, sub="oncall@provider.example", roles=["k8s-ops.operator"], engagements=[])
    cli_env = {
        **env,
        "K8SOPS_TOKEN": operator,
        "K8SOPS_CONFIG": str(Path(env["TEST_DATA_DIR"]) / "profiles.json"),
        "K8SOPS_SLA_TIMER_URL": f"http://127.0.0.1:{env['K8SOPS_SLA_TIMER_PORT']}",
    }
    target = [K8SOPS, "sla", "target", "k8s-247-cluster-admin", "P2", "--minutes", "1", "--clock", "wall", "--json"]
    changed = subprocess.run(target, env=cli_env, capture_output=True, text=True, timeout=60)
    assert changed.returncode == 0, changed.stderr
    admin = mint_token(
        DEV_JWT_SECRET, sub="rahim@customer.example", roles=["k8s-ops.admin"], engagements=[DEMO_ENGAGEMENT]
    )
    body = {
        "engagement_id": DEMO_ENGAGEMENT,
        "cluster_id": "prod-dhaka-1",
        "category": "incident",
        "priority": "P2",
        "title": "ingress 502s",
    }
    # An outside client without trace context: services built in this test process earlier instrument
    # httpx globally, and their unsampled context (no exporter) would make intake follow it.
    with suppress_http_instrumentation():
        created = httpx.post(
            f"http://127.0.0.1:{env['K8SOPS_INTAKE_PORT']}/v1/requests",
            json=body,
            headers={"Authorization": f"Bearer {admin}"},
            timeout=10,
        )
    assert created.status_code == 201, created.text
    return created.headers["X-Trace-Id"]


def the_request_crossed_every_hop(receiver: OtlpReceiver, trace_id: str) -> None:
    """intake → relay → sla-timer → (its audit event) relay → audit, in the request's trace."""

    def audited_by_sla_timer(spans: list[ReceivedSpan]) -> bool:
        """audit has handled the audit event sla-timer wrote when it armed the timer."""
        by_id = {span.span_id: span for span in spans}
        audited = [span for span in spans if span.service == "audit" and span.kind == "CONSUMER"]
        # Each service's exporter sends on its own schedule: intake's relay span may come last.
        intake_hops = {(span.kind, span.name) for span in spans if span.service == "intake"}
        return ("PRODUCER", "send request.opened") in intake_hops and any(
            (hop.service, hop.name) == ("sla-timer", "process request.opened")
            for span in audited
            for hop in ancestors(span, by_id)
        )

    spans = wait_until(lambda: receiver.trace(trace_id), audited_by_sla_timer, 90)
    by_id = {span.span_id: span for span in spans}
    server = next(span for span in spans if span.service == "intake" and span.kind == "SERVER")
    sent = one(spans, "intake", "PRODUCER", "send request.opened")
    handled = one(spans, "sla-timer", "CONSUMER", "process request.opened")
    assert server in ancestors(sent, by_id) and handled.parent_span_id == sent.span_id


def breach_and_credit_join_the_trace(receiver: OtlpReceiver, trace_id: str) -> None:
    def arrived(spans: list[ReceivedSpan]) -> bool:
        names = {(span.service, span.name) for span in spans}
        wanted = {("sla-timer", "send credit.issued"), ("sla-timer", "send sla.breached"), ("sla-timer", "sla.alert")}
        return {*wanted, ("intake", "process sla.breached")} <= names

    spans = wait_until(lambda: receiver.trace(trace_id), arrived, 150)  # due a minute after the opening
    by_id = {span.span_id: span for span in spans}
    # The warning (at 80 % of the budget) and the breach fire apart: an alert span each.
    alerts = [span for span in spans if (span.service, span.name) == ("sla-timer", "sla.alert")]
    breached, credited = (one(spans, "sla-timer", "PRODUCER", f"send {t}") for t in ("sla.breached", "credit.issued"))
    assert any(alert in ancestors(breached, by_id) and alert in ancestors(credited, by_id) for alert in alerts)
    assert {"intake", "sla-timer", "audit"} <= {span.service for span in spans}


def idle_platform_makes_almost_no_spans(env: dict[str, str], receiver: OtlpReceiver) -> None:
    """A 3 s window with nothing asked of the platform; it is over once each service's later span
    has arrived (each exporter sends in order)."""
    window_start = time.time_ns()
    time.sleep(3)
    window_end = time.time_ns()
    names = {spec.name for spec in SERVICES}
    with suppress_http_instrumentation():  # an outside client (see open_a_request_with_a_one_minute_budget)
        for spec in SERVICES:
            assert httpx.get(f"http://127.0.0.1:{env[f'K8SOPS_{spec.schema.upper()}_PORT']}/openapi.json").is_success

    def flushed(spans: list[ReceivedSpan]) -> bool:
        return {s.service for s in spans if s.start_ns > window_end and s.name == "GET /openapi.json"} == names

    received = wait_until(receiver.snapshot, flushed, 30)
    idle = [span for span in received if window_start <= span.start_ns <= window_end]
    per_second = len(idle) / ((window_end - window_start) / 1e9)
    assert per_second < 5, f"{len(idle)} spans while idle: {sorted({(s.service, s.name) for s in idle})}"
