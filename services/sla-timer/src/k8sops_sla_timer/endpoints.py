"""sla-timer's REST API: thin routes that check who may act and hand over to the service layer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from k8sops_common.errors import ProblemError
from k8sops_common.inputs import ID_PATTERN
from k8sops_common.service import Context, UnitOfWork

from .auth import Operator, Reader
from .domain.policy import ClockKind, CreditRule, Priority, ResponseTarget, Tier
from .schemas import PERIOD_PATTERN, BreachPage, CreditPage, CreditRuleIn, PoliciesOut, ResponseTargetIn, SlaStateOut
from .service import credits, policies, timers

router = APIRouter(prefix="/v1/sla", tags=["sla"])

EngagementId = Annotated[str, Path(pattern=ID_PATTERN)]
Period = Annotated[str | None, Query(pattern=PERIOD_PATTERN, description="billing period YYYY-MM")]

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "Not in the caller's engagements, or unknown"}}
POLICY_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "Not an operator"},
    409: {"description": "A contractual target cannot change"},
}


@router.get("/requests/{request_id}", response_model=SlaStateOut, responses=NOT_FOUND)
async def get_request_sla(
    principal: Reader, session: UnitOfWork, request_id: Annotated[str, Path(pattern=ID_PATTERN)]
) -> SlaStateOut:
    return await timers.request_sla(session, principal, request_id, datetime.now(UTC))


@router.get("/engagements/{engagement_id}/breaches", response_model=BreachPage, responses=NOT_FOUND)
async def list_breaches(
    principal: Reader, session: UnitOfWork, engagement_id: EngagementId, period: Period = None
) -> BreachPage:
    return await credits.breach_page(session, principal, engagement_id, period)


@router.get("/engagements/{engagement_id}/credits", response_model=CreditPage, responses=NOT_FOUND)
async def list_credits(
    principal: Reader, session: UnitOfWork, engagement_id: EngagementId, period: Period = None
) -> CreditPage:
    return await credits.credit_page(session, principal, engagement_id, period)


@router.get("/policies", response_model=PoliciesOut)
async def get_policies(principal: Reader, session: UnitOfWork) -> PoliciesOut:
    return await policies.policies_view(session)


@router.put("/policies/response-targets/{tier}/{priority}", response_model=PoliciesOut, responses=POLICY_ERRORS)
async def put_response_target(
    principal: Operator, session: UnitOfWork, context: Context, tier: Tier, priority: Priority, body: ResponseTargetIn
) -> PoliciesOut:
    target = ResponseTarget(timedelta(minutes=body.budget_minutes), ClockKind(body.clock))
    try:
        await policies.edit_response_target(session, context.outbox, principal, tier, priority, target)
    except policies.PolicyError as error:
        raise ProblemError(409, "Contractual target", f"{error}.", problem_type="contractual-target") from error
    return await policies.policies_view(session)


@router.put("/policies/credit-rules/{tier}", response_model=PoliciesOut, responses=POLICY_ERRORS)
async def put_credit_rule(
    principal: Operator, session: UnitOfWork, context: Context, tier: Tier, body: CreditRuleIn
) -> PoliciesOut:
    rule = CreditRule(body.percent_of_retainer, body.monthly_cap_percent_of_retainer)
    await policies.edit_credit_rule(session, context.outbox, principal, tier, rule)
    return await policies.policies_view(session)
