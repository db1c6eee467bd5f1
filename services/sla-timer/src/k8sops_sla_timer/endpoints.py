"""sla-timer's REST API: thin routes that check who may act and hand over to the service layer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from k8sops_common.auth import Principal, Role, require_any_role
from k8sops_common.errors import ProblemError
from k8sops_common.service import Context, UnitOfWork

from . import repository, service
from .domain.policy import ClockKind, CreditRule, Priority, ResponseTarget, Tier
from .domain.timer import resolution_state, sla_state
from .schemas import (
    ID_PATTERN,
    PERIOD_PATTERN,
    BreachOut,
    BreachPage,
    CreditOut,
    CreditPage,
    CreditRuleIn,
    CreditRuleOut,
    GoalOut,
    PoliciesOut,
    ResolutionOut,
    ResponseTargetIn,
    ResponseTargetOut,
    SlaStateOut,
)

router = APIRouter(prefix="/v1/sla", tags=["sla"])

Reader = Annotated[Principal, Depends(require_any_role(Role.VIEWER, Role.OPERATOR, Role.AUDITOR))]
Operator = Annotated[Principal, Depends(require_any_role(Role.OPERATOR))]
EngagementId = Annotated[str, Path(pattern=ID_PATTERN)]
Period = Annotated[str | None, Query(pattern=PERIOD_PATTERN, description="billing period YYYY-MM")]

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "Not in the caller's engagements, or unknown"}}
POLICY_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "Not an operator"},
    409: {"description": "A contractual target cannot change"},
}


def _not_found(kind: str, identifier: str) -> ProblemError:
    # Records outside the caller's engagements answer 404 too, so their existence does not leak.
    return ProblemError(404, "Not found", f"No {kind} {identifier!r} in your engagements.", problem_type="not-found")


def _check_engagement(principal: Principal, engagement_id: str) -> None:
    if not principal.can_see_engagement(engagement_id):
        raise _not_found("engagement", engagement_id)


@router.get("/requests/{request_id}", response_model=SlaStateOut, responses=NOT_FOUND)
async def get_request_sla(
    principal: Reader, session: UnitOfWork, request_id: Annotated[str, Path(pattern=ID_PATTERN)]
) -> SlaStateOut:
    row = await repository.get_timer(session, request_id)
    if row is None or not principal.can_see_engagement(row["engagement_id"]):
        raise _not_found("request", request_id)
    if row["due_at"] is None:
        raise ProblemError(
            404,
            "SLA not armed yet",
            f"Request {request_id!r} is known but its engagement's calendar has not arrived yet; "
            "its SLA is armed from the opening time as soon as it does.",
            problem_type="sla-not-armed",
        )
    engagement = await repository.get_engagement(session, row["engagement_id"])
    assert engagement is not None  # an armed timer's engagement is known
    calendar = service.calendar_of(engagement)
    timer = service.response_timer_of(row, calendar)
    now = datetime.now(UTC)
    state = sla_state(timer, now)
    resolution = resolution_state(service.resolution_clock_of(row, calendar), now)
    return SlaStateOut(
        request_id=request_id,
        engagement_id=row["engagement_id"],
        cluster_id=row["cluster_id"],
        tier=row["tier"],
        priority=row["priority"],
        goal=GoalOut(budget_minutes=int(state.goal.budget.total_seconds() // 60), clock=state.goal.clock.value),
        started_at=state.started_at,
        deadline=state.deadline,
        warn_at=timer.warn_at,
        elapsed_seconds=state.elapsed.total_seconds(),
        remaining_seconds=state.remaining.total_seconds(),
        breached=state.breached,
        paused=state.paused,
        within_calendar=state.within_calendar,
        stopped_at=state.stopped_at,
        warned_at=timer.warned_at,
        breach_recorded_at=timer.breached_at,
        resolution=ResolutionOut(
            started_at=resolution.started_at,
            elapsed_seconds=resolution.elapsed.total_seconds(),
            paused=resolution.paused,
            within_calendar=resolution.within_calendar,
            resolved_at=resolution.resolved_at,
        ),
        as_of=now,
    )


@router.get("/engagements/{engagement_id}/breaches", response_model=BreachPage, responses=NOT_FOUND)
async def list_breaches(
    principal: Reader, session: UnitOfWork, engagement_id: EngagementId, period: Period = None
) -> BreachPage:
    _check_engagement(principal, engagement_id)
    rows = await repository.list_breaches(session, engagement_id, period)
    return BreachPage(
        engagement_id=engagement_id, period=period, items=[BreachOut.model_validate(dict(row)) for row in rows]
    )


@router.get("/engagements/{engagement_id}/credits", response_model=CreditPage, responses=NOT_FOUND)
async def list_credits(
    principal: Reader, session: UnitOfWork, engagement_id: EngagementId, period: Period = None
) -> CreditPage:
    _check_engagement(principal, engagement_id)
    rows = await repository.list_credits(session, engagement_id, period)
    items = [CreditOut.model_validate(dict(row)) for row in rows]
    return CreditPage(
        engagement_id=engagement_id,
        period=period,
        total_bdt=sum((item.amount_bdt for item in items), Decimal("0.00")),
        items=items,
    )


@router.get("/policies", response_model=PoliciesOut)
async def get_policies(principal: Reader, session: UnitOfWork) -> PoliciesOut:
    return await _policies(session)


@router.put("/policies/response-targets/{tier}/{priority}", response_model=PoliciesOut, responses=POLICY_ERRORS)
async def put_response_target(
    principal: Operator, session: UnitOfWork, context: Context, tier: Tier, priority: Priority, body: ResponseTargetIn
) -> PoliciesOut:
    target = ResponseTarget(timedelta(minutes=body.budget_minutes), ClockKind(body.clock))
    try:
        await service.edit_response_target(session, context.outbox, principal, tier, priority, target)
    except service.PolicyError as error:
        raise ProblemError(409, "Contractual target", f"{error}.", problem_type="contractual-target") from error
    return await _policies(session)


@router.put("/policies/credit-rules/{tier}", response_model=PoliciesOut, responses=POLICY_ERRORS)
async def put_credit_rule(
    principal: Operator, session: UnitOfWork, context: Context, tier: Tier, body: CreditRuleIn
) -> PoliciesOut:
    rule = CreditRule(body.percent_of_retainer, body.monthly_cap_percent_of_retainer)
    await service.edit_credit_rule(session, context.outbox, principal, tier, rule)
    return await _policies(session)


async def _policies(session: UnitOfWork) -> PoliciesOut:
    return PoliciesOut(
        response_targets=[
            ResponseTargetOut(
                **row,
                contractual=(Tier(row["tier"]), Priority(row["priority"])) in service.CONTRACTUAL_TARGETS,
            )
            for row in await repository.response_target_rows(session)
        ],
        credit_rules=[CreditRuleOut.model_validate(dict(row)) for row in await repository.credit_rule_rows(session)],
    )
