"""A breach and its one credit, priced from the cluster's retainer and the tier's credit rule."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from k8sops_common.audit import SYSTEM_ACTOR, record_audit
from k8sops_common.auth import Principal
from k8sops_common.bus import Outbox
from k8sops_common.events.catalog import CreditIssuedV1, SlaBreachedV1

from .. import repository
from ..auth import ensure_engagement_visible
from ..domain.credits import ZERO_BDT, billing_period, compute_credit
from ..domain.policy import CreditRule, Tier
from ..domain.timer import ResponseTimer
from ..schemas import BreachOut, BreachPage, CreditOut, CreditPage
from .conversions import request_target


@dataclass
class CreditLedger:
    """Clusters and credits of one scheduler batch, so each cluster's month is read once."""

    session: AsyncSession
    rules: Mapping[Tier, CreditRule]
    clusters: Mapping[str, RowMapping]
    credited: dict[tuple[str, str], Decimal] = field(default_factory=dict)

    async def credit_for(
        self, row: Mapping[Any, Any], tier: Tier, deadline: datetime, period: str
    ) -> tuple[Decimal, str]:
        missed = f"{tier} {row['priority']} first response due {deadline.isoformat()} was missed"
        cluster = self.clusters.get(row["cluster_id"]) if row["cluster_id"] else None
        if cluster is None:
            # Still one credit per breach, so billing sees the breach and can settle it by hand.
            return ZERO_BDT, f"{missed}; the request names no known cluster, so there is no retainer to credit"
        key = (cluster["cluster_id"], period)
        if key not in self.credited:
            self.credited[key] = await repository.credited_in_period(self.session, *key)
        already = self.credited[key]
        retainer: Decimal = cluster["monthly_retainer_bdt"]
        amount = compute_credit(retainer, tier, already, self.rules)
        self.credited[key] = already + amount
        rule = self.rules[tier]
        reason = (
            f"{missed}: {rule.percent_of_retainer}% of the {retainer} BDT monthly retainer of cluster "
            f"{cluster['name']}, capped at {rule.monthly_cap_percent_of_retainer}% per month"
        )
        if amount < compute_credit(retainer, tier, ZERO_BDT, self.rules):
            reason += f"; {already} BDT already credited in {period}"
        return amount, reason


async def breach_and_credit(
    session: AsyncSession,
    outbox: Outbox,
    row: Mapping[Any, Any],
    timer: ResponseTimer,
    ledger: CreditLedger,
    now: datetime,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The breach and its one credit as rows to insert, with their events written to the outbox."""
    assert timer.breached_at is not None
    tier = Tier(row["tier"])
    request_id, engagement_id, cluster_id = row["request_id"], row["engagement_id"], row["cluster_id"]
    period = billing_period(timer.breached_at, row["timezone"])
    breach_id = f"breach-{uuid.uuid4().hex}"
    amount, reason = await ledger.credit_for(row, tier, timer.due_at, period)
    credit_id = f"credit-{uuid.uuid4().hex}"
    await outbox.add(
        session,
        SlaBreachedV1(
            breach_id=breach_id,
            request_id=request_id,
            engagement_id=engagement_id,
            cluster_id=cluster_id,
            tier=tier.value,
            priority=row["priority"],
            deadline=timer.due_at,
            breached_at=timer.breached_at,
        ),
    )
    await outbox.add(
        session,
        CreditIssuedV1(
            credit_id=credit_id,
            engagement_id=engagement_id,
            cluster_id=cluster_id,
            request_id=request_id,
            breach_id=breach_id,
            amount_bdt=amount,
            period=period,
            reason=reason,
        ),
    )
    await record_audit(
        session,
        outbox,
        actor=SYSTEM_ACTOR,
        action="sla.breach",
        target=request_target(request_id, cluster_id),
        engagement_id=engagement_id,
        details={
            "breach_id": breach_id,
            "deadline": timer.due_at.isoformat(),
            "credit_id": credit_id,
            "credit_bdt": str(amount),
            "period": period,
        },
    )
    breach = {
        "breach_id": breach_id,
        "request_id": request_id,
        "engagement_id": engagement_id,
        "cluster_id": cluster_id,
        "tier": str(tier),
        "priority": row["priority"],
        "deadline": timer.due_at,
        "breached_at": timer.breached_at,
        "fired_at": now,
        "period": period,
    }
    credit = {
        "credit_id": credit_id,
        "breach_id": breach_id,
        "engagement_id": engagement_id,
        "cluster_id": cluster_id,
        "request_id": request_id,
        "amount_bdt": amount,
        "period": period,
        "reason": reason,
        "issued_at": now,
    }
    return breach, credit


async def breach_page(
    session: AsyncSession, principal: Principal, engagement_id: str, period: str | None
) -> BreachPage:
    ensure_engagement_visible(principal, engagement_id)
    rows = await repository.list_breaches(session, engagement_id, period)
    return BreachPage(
        engagement_id=engagement_id, period=period, items=[BreachOut.model_validate(dict(row)) for row in rows]
    )


async def credit_page(
    session: AsyncSession, principal: Principal, engagement_id: str, period: str | None
) -> CreditPage:
    ensure_engagement_visible(principal, engagement_id)
    rows = await repository.list_credits(session, engagement_id, period)
    items = [CreditOut.model_validate(dict(row)) for row in rows]
    return CreditPage(
        engagement_id=engagement_id,
        period=period,
        total_bdt=sum((item.amount_bdt for item in items), Decimal("0.00")),
        items=items,
    )
