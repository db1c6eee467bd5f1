"""What `k8sops run` tells a newcomer: its help, and the screen printed once everything is up.

The screen holds what is needed to start using the platform and nothing else: the service URLs,
the sandbox kubeconfig and its contexts, where PostgreSQL and Kafka are, and a bearer token for
every role (with the one command that mints more).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from k8sops_common.auth import Role, mint_token
from k8sops_common.settings import ServiceSettings

from .demo import DEMO_ENGAGEMENT

if TYPE_CHECKING:
    from .cli import Platform

TOKEN_TTL_S = 86_400
# Who each demo token speaks for: customer roles are the customer's people, the rest the provider's.
ROLE_SUBJECTS = {
    Role.VIEWER: "viewer@customer.example",
    Role.REQUESTER: "requester@customer.example",
    Role.ADMIN: "rahim@customer.example",
    Role.OPERATOR: "oncall@provider.example",
    Role.SENIOR: "senior@provider.example",
    Role.AUDITOR: "auditor@provider.example",
}

RUN_DESCRIPTION = """\
Start the whole platform on this machine: PostgreSQL and a Kafka-protocol broker (embedded unless
you point at your own), roles, schemas and migrations, the sandbox cluster, the five services and
the demo data. Once everything is up it prints the URLs, the kubeconfig and its contexts, and a
token for every role. Ctrl-C stops everything; a second run reuses the data."""
RUN_ENVIRONMENT = """\
environment variables read by `run`:
  DATABASE_URL                  admin URL of your own PostgreSQL; no embedded server starts, and the
                                platform creates database k8sops, one role and schema per service
  KAFKA_BOOTSTRAP_SERVERS       your own Kafka brokers; no embedded broker starts
  K8SOPS_BROKER_PORT            port of the embedded broker (9092)
  K8SOPS_INTAKE_PORT, K8SOPS_SLA_TIMER_PORT, K8SOPS_UPGRADE_RUNNER_PORT, K8SOPS_COST_ANALYZER_PORT,
  K8SOPS_AUDIT_PORT             service ports (8001 to 8005)
  K8SOPS_SANDBOX_KUBE_PORT      first sandbox Kubernetes API port (6443; one per sandbox cluster)
  K8SOPS_SANDBOX_PLATFORM_PORT  sandbox platform API port (8010)
  K8SOPS_SANDBOX_PROMETHEUS_PORT
                                sandbox Prometheus API port (9090)
  K8SOPS_JWT_SECRET             HS256 secret the services verify and the printed tokens are signed
                                with (a development secret by default)
  K8SOPS_DEV_MODE               1 lets the services accept the development secret; set for them
                                when K8SOPS_JWT_SECRET is unset
  K8SOPS_JWT_AUDIENCE, K8SOPS_JWT_ISSUER
                                put into the printed tokens when set (the services check them)
  K8SOPS_WEBHOOK_ALLOW_PRIVATE_TARGETS
                                let outbound webhooks reach this machine's network (true)
  K8SOPS_HTTP_WORKERS           API processes per service (the cores)
The services inherit the environment, so the service variables of the README's Configuration
table apply too (e.g. K8SOPS_LOG_LEVEL, OTEL_EXPORTER_OTLP_ENDPOINT)."""


def first_screen(platform: Platform) -> str:
    """The lines printed once everything is up."""
    lines = [f"k8sops: everything is up. Ctrl-C stops it all; logs in {platform.logs}", "", "services:"]
    lines += [
        f"  {process.spec.name:<15} {process.url}  (API docs {process.url}/docs)" for process in platform.services
    ]
    if platform.sandbox is not None:
        sandbox = platform.sandbox
        lines += [
            "sandbox cluster:",
            f"  kubeconfig      {sandbox.kubeconfig}",
            f"  contexts        {_contexts(sandbox.kubeconfig)}",
            f"  try             KUBECONFIG={sandbox.kubeconfig} {_kubectl()} get nodes",
            f"  platform API    {sandbox.platform_url}",
            f"  Prometheus API  {sandbox.prometheus_url}",
        ]
    postgres = platform.postgres.admin_url() if platform.postgres is not None else "your server in DATABASE_URL"
    kafka = platform.broker.bootstrap_servers if platform.broker is not None else "KAFKA_BOOTSTRAP_SERVERS"
    lines += ["infrastructure:", f"  PostgreSQL      {postgres}", f"  Kafka           {kafka}"]
    return "\n".join(lines + _token_lines(platform.with_demo))


def _kubectl() -> str:
    # kubectl comes as a wheel into the workspace's venv, which the newcomer's shell may not have on PATH.
    installed = Path(sys.executable).parent / "kubectl"
    return str(installed) if installed.exists() else "kubectl"


def _contexts(kubeconfig: Path) -> str:
    config: dict[str, Any] = yaml.safe_load(kubeconfig.read_text()) or {}
    current = config.get("current-context")
    names = [context["name"] for context in config.get("contexts", [])]
    return ", ".join(f"{name} (current)" if name == current else name for name in names)


def _token_lines(with_demo: bool) -> list[str]:
    settings = ServiceSettings()
    where = f"engagement {DEMO_ENGAGEMENT}" + ("" if with_demo else " (not loaded: --no-demo)")
    lines = [f"tokens for {where}, valid 24 h; send them as 'Authorization: Bearer <token>':"]
    for role, subject in ROLE_SUBJECTS.items():
        token = mint_token(
            settings.jwt_secret,
            sub=subject,
            roles=[role.value],
            engagements=[DEMO_ENGAGEMENT],
            ttl_s=TOKEN_TTL_S,
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
        )
        lines.append(f"  {role.value.removeprefix('k8s-ops.'):<10} {token}")
    minter = Path(sys.executable).parent / "k8sops-token"
    lines.append(
        f"more tokens: {minter} --sub you@customer.example --role k8s-ops.viewer --engagement {DEMO_ENGAGEMENT}"
    )
    return lines
