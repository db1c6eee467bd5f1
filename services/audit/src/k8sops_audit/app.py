"""audit: the append-only, hash-chained record of every action."""

from __future__ import annotations

from fastapi import FastAPI

from k8sops_common.service import ServiceDefinition, create_app

from .cli import verify_command
from .endpoints import router
from .handlers import subscriptions
from .tasks import chain_intact, checkpoint_loop

DEFINITION = ServiceDefinition(
    name="audit",
    title="K8s Ops audit",
    description="The append-only, hash-chained record of every action, with signed checkpoints.",
    migrations_package="k8sops_audit.migrations",
    routers=[router],
    subscriptions=subscriptions,
    background_loops=[checkpoint_loop],
    readiness_checks=[chain_intact],
    default_port=8005,
    commands={"verify": verify_command},
)


def build_app() -> FastAPI:
    return create_app(DEFINITION)
