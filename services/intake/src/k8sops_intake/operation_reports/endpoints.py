"""Route of the operation reports attached to a request."""

from __future__ import annotations

from fastapi import APIRouter

from k8sops_common.service import UnitOfWork

from ..auth import Reader
from ..routing import SCOPED, RecordId
from . import service
from .schemas import OperationReportOut

router = APIRouter(prefix="/v1", tags=["requests"])


@router.get(
    "/requests/{request_id}/operation-reports",
    response_model=list[OperationReportOut],
    responses=SCOPED,
    summary="Reports of the operations (upgrade, add-on, drift reconcile, migration) that worked on this request",
)
async def list_operation_reports(
    principal: Reader, session: UnitOfWork, request_id: RecordId
) -> list[OperationReportOut]:
    return await service.list_reports(session, principal, request_id)
