"""upgrade-runner: operations on customer clusters (upgrades first), their steps and authorisations."""

from __future__ import annotations

from fastapi import FastAPI

from k8sops_common.service import ServiceDefinition, create_app

from .api import router
from .handlers import subscriptions
from .runner.loop import run_runner

DEFINITION = ServiceDefinition(
    name="upgrade-runner",
    title="K8s Ops upgrade-runner",
    description="Operations on customer clusters (upgrades), their steps, reports and cluster action authorisations.",
    migrations_package="k8sops_upgrade_runner.migrations",
    routers=[router],
    subscriptions=subscriptions,
    background_loops=[run_runner],
    default_port=8003,
)


def build_app() -> FastAPI:
    return create_app(DEFINITION)
