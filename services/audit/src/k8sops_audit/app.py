"""audit: the append-only record of every action."""

from __future__ import annotations

from fastapi import FastAPI
from k8sops_common.service import ServiceDefinition, create_app

from .endpoints import router
from .handlers import subscriptions

DEFINITION = ServiceDefinition(
    name="audit",
    title="K8s Ops audit",
    description="The append-only, hash-chained record of every action.",
    migrations_package="k8sops_audit.migrations",
    routers=[router],
    subscriptions=subscriptions,
    default_port=8005,
)


def build_app() -> FastAPI:
    return create_app(DEFINITION)
