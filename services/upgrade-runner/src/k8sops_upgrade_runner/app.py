"""upgrade-runner: Cluster upgrade plans, their steps and cluster action authorisations."""

from __future__ import annotations

from fastapi import FastAPI

from k8sops_common.service import ServiceDefinition, create_app

DEFINITION = ServiceDefinition(
    name="upgrade-runner",
    title="K8s Ops upgrade-runner",
    description="Cluster upgrade plans, their steps and cluster action authorisations.",
    migrations_package="k8sops_upgrade_runner.migrations",
    default_port=8003,
)


def build_app() -> FastAPI:
    return create_app(DEFINITION)
