"""SLA policies: the targets and credit rules in force, and operators' edits of them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from k8sops_common.audit import record_audit
from k8sops_common.auth import Principal
from k8sops_common.bus import Outbox
from k8sops_common.events.catalog import AuditTargetV1

from .. import repository
from ..domain.policy import DEFAULT_RESPONSE_TARGETS, ClockKind, CreditRule, Priority, ResponseTarget, Tier
from ..schemas import CreditRuleOut, PoliciesOut, ResponseTargetOut

# SPEC section 3: "the P1 figures are contractual"; operators may edit every other target.
CONTRACTUAL_TARGETS = frozenset(
    {(Tier.ROUND_THE_CLOCK, Priority.P1), (Tier.ROUND_THE_CLOCK_CLUSTER_ADMIN, Priority.P1)}
)


class PolicyError(ValueError):
    """A policy edit the service refuses; the message says why."""


async def policy_targets(session: AsyncSession, tier: Tier) -> dict[Priority, ResponseTarget]:
    """The response targets in force for every priority of `tier`."""
    targets = {
        Priority(row["priority"]): ResponseTarget(timedelta(minutes=row["budget_minutes"]), ClockKind(row["clock"]))
        for row in await repository.response_target_rows_of_tier(session, tier)
    }
    missing = set(Priority) - targets.keys()
    if missing:
        raise LookupError(f"no response target for {tier}/{sorted(missing)}: the policy table is incomplete")
    return targets


async def credit_rules_in_force(session: AsyncSession) -> dict[Tier, CreditRule]:
    return {
        Tier(row["tier"]): CreditRule(row["percent_of_retainer"], row["monthly_cap_percent_of_retainer"])
        for row in await repository.credit_rule_rows(session)
    }


async def edit_response_target(
    session: AsyncSession,
    outbox: Outbox,
    principal: Principal,
    tier: Tier,
    priority: Priority,
    target: ResponseTarget,
) -> None:
    """Changes one response target; timers armed from now on use it, running ones keep theirs."""
    if (tier, priority) in CONTRACTUAL_TARGETS and target != DEFAULT_RESPONSE_TARGETS[(tier, priority)]:
        raise PolicyError(f"the {tier} {priority} response target is contractual and cannot be changed")
    budget_minutes = int(target.budget.total_seconds() // 60)
    before = await repository.update_response_target(
        session, tier, priority, budget_minutes, str(target.clock), principal.sub
    )
    if before is None:
        raise LookupError(f"no response target for {tier}/{priority}")
    await record_audit(
        session,
        outbox,
        actor=principal,
        action="sla.policy.response_target.update",
        target=AuditTargetV1(kind="SlaResponseTarget", name=f"{tier}/{priority}"),
        engagement_id=None,
        details={
            "from_budget_minutes": before["budget_minutes"],
            "from_clock": before["clock"],
            "budget_minutes": budget_minutes,
            "clock": str(target.clock),
        },
    )


async def edit_credit_rule(
    session: AsyncSession, outbox: Outbox, principal: Principal, tier: Tier, rule: CreditRule
) -> None:
    """Changes one tier's credit rule; breaches from now on use it."""
    before = await repository.update_credit_rule(
        session, tier, rule.percent_of_retainer, rule.monthly_cap_percent_of_retainer, principal.sub
    )
    if before is None:
        raise LookupError(f"no credit rule for {tier}")
    await record_audit(
        session,
        outbox,
        actor=principal,
        action="sla.policy.credit_rule.update",
        target=AuditTargetV1(kind="SlaCreditRule", name=str(tier)),
        engagement_id=None,
        details={
            "from_percent_of_retainer": str(before["percent_of_retainer"]),
            "from_monthly_cap_percent_of_retainer": str(before["monthly_cap_percent_of_retainer"]),
            "percent_of_retainer": str(rule.percent_of_retainer),
            "monthly_cap_percent_of_retainer": str(rule.monthly_cap_percent_of_retainer),
        },
    )


async def policies_view(session: AsyncSession) -> PoliciesOut:
    return PoliciesOut(
        response_targets=[
            ResponseTargetOut(
                **row,
                contractual=(Tier(row["tier"]), Priority(row["priority"])) in CONTRACTUAL_TARGETS,
            )
            for row in await repository.response_target_rows(session)
        ],
        credit_rules=[CreditRuleOut.model_validate(dict(row)) for row in await repository.credit_rule_rows(session)],
    )
