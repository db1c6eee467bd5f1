"""sla-timer: SLA policies, durable timers, breaches and credits for billing."""

from __future__ import annotations

from fastapi import FastAPI
from k8sops_common.service import ServiceDefinition, create_app

DEFINITION = ServiceDefinition(
    name="sla-timer",
    title="K8s Ops sla-timer",
    description="SLA policies, durable timers, breaches and credits for billing.",
    migrations_package="k8sops_sla_timer.migrations",
    default_port=8002,
)


def build_app() -> FastAPI:
    return create_app(DEFINITION)
