"""cost-analyzer: Cost analyses, findings, recommendations and health reviews."""

from __future__ import annotations

from fastapi import FastAPI

from k8sops_common.service import ServiceDefinition, create_app

from .endpoints import router
from .handlers import subscriptions
from .scheduler import run_scheduler

DEFINITION = ServiceDefinition(
    name="cost-analyzer",
    title="K8s Ops cost-analyzer",
    description="Cost analyses, findings, recommendations and health reviews.",
    migrations_package="k8sops_cost_analyzer.migrations",
    routers=[router],
    subscriptions=subscriptions,
    background_loops=[run_scheduler],
    default_port=8004,
)


def build_app() -> FastAPI:
    return create_app(DEFINITION)
