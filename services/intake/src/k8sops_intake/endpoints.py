"""Intake's REST API: one router per subdomain, each with thin routes that check who may act and
hand over to its service. Body size is limited for every service by the kit
(k8sops_common.request_limits), chunked or not."""

from __future__ import annotations

from fastapi import APIRouter

from .disputes.endpoints import router as disputes_router
from .engagements.endpoints import router as engagements_router
from .operation_reports.endpoints import router as operation_reports_router
from .partners.endpoints import router as partners_router
from .requests.endpoints import router as requests_router
from .requests.endpoints import scope_router
from .webhooks.endpoints import router as webhooks_router

router = APIRouter()
for subdomain in (
    engagements_router,
    requests_router,
    scope_router,
    operation_reports_router,
    disputes_router,
    partners_router,
    webhooks_router,
):
    router.include_router(subdomain)
