"""Intake's REST API: thin routes that check who may act and hand over to the service layer."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Response, status
from k8sops_common.auth import Principal, Role, require_any_role
from k8sops_common.errors import ProblemError
from k8sops_common.service import Context, UnitOfWork

from . import repository
from .schemas import ID_PATTERN, RequestCreate, RequestOut
from .service import open_request

router = APIRouter(prefix="/v1", tags=["requests"])

Requester = Annotated[Principal, Depends(require_any_role(Role.REQUESTER, Role.OPERATOR))]
Reader = Annotated[Principal, Depends(require_any_role(Role.VIEWER, Role.OPERATOR, Role.AUDITOR))]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)]

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such request in the caller's engagements"}}


def _not_found(kind: str, identifier: str) -> ProblemError:
    # Records outside the caller's engagements answer 404 too, so their existence does not leak.
    return ProblemError(404, "Not found", f"No {kind} {identifier!r} in your engagements.", problem_type="not-found")


@router.post(
    "/requests",
    status_code=status.HTTP_201_CREATED,
    response_model=RequestOut,
    responses={403: {"description": "Not a requester of that engagement"}},
)
async def create_request(
    body: RequestCreate,
    principal: Requester,
    session: UnitOfWork,
    context: Context,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> RequestOut:
    if not principal.can_see_engagement(body.engagement_id):
        raise ProblemError(
            403,
            "Engagement not in token",
            f"Your token does not cover engagement {body.engagement_id!r}; ask its admin for access.",
            problem_type="engagement-forbidden",
        )
    fingerprint = hashlib.sha256(body.model_dump_json().encode()).hexdigest()
    created = await open_request(session, context.outbox, principal, body, idempotency_key, fingerprint)
    if not created.is_new:
        response.status_code = status.HTTP_200_OK
        response.headers["Idempotent-Replayed"] = "true"
    return created.request


@router.get("/requests/{request_id}", response_model=RequestOut, responses=NOT_FOUND)
async def get_request(
    principal: Reader,
    session: UnitOfWork,
    request_id: Annotated[str, Path(pattern=ID_PATTERN)],
) -> RequestOut:
    row = await repository.get_request(session, request_id)
    if row is None or not principal.can_see_engagement(row["engagement_id"]):
        raise _not_found("request", request_id)
    return RequestOut.model_validate(row)
