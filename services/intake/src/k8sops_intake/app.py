"""Intake: the front door for API clients and partner ticketing systems."""

from __future__ import annotations

from fastapi import FastAPI

from k8sops_common.service import ServiceDefinition, create_app

from .endpoints import router
from .handlers import subscriptions
from .incidents.endpoints import router as incidents_router
from .incidents.jobs import run_incident_jobs
from .webhooks.tasks import deliver_webhooks

DEFINITION = ServiceDefinition(
    name="intake",
    title="K8s Ops intake",
    description="Engagements, clusters, requests, scope, disputes, and partner and outbound webhooks.",
    migrations_package="k8sops_intake.migrations",
    routers=[router, incidents_router],
    subscriptions=subscriptions,
    background_loops=[deliver_webhooks, run_incident_jobs],
    default_port=8001,
)


def build_app() -> FastAPI:
    return create_app(DEFINITION)
