"""sla-timer: SLA policies, durable timers, breaches and credits for billing."""

from __future__ import annotations

from fastapi import FastAPI

from k8sops_common.service import ServiceDefinition, create_app

from .endpoints import router
from .handlers import subscriptions
from .scheduler import run_scheduler

DEFINITION = ServiceDefinition(
    name="sla-timer",
    title="K8s Ops sla-timer",
    description="SLA policies, durable timers, breaches and credits for billing.",
    migrations_package="k8sops_sla_timer.migrations",
    routers=[router],
    subscriptions=subscriptions,
    background_loops=[run_scheduler],
    default_port=8002,
)


def build_app() -> FastAPI:
    return create_app(DEFINITION)
