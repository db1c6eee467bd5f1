"""Running an analysis job: read the cluster (no transaction open), then store the analysis, its
findings, the recommendations they refresh, the `cost.report` event and the audit entry in one
unit of work, and schedule the next quarter's review."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from k8sops_common.audit import record_audit
from k8sops_common.bus.outbox import Outbox
from k8sops_common.events.catalog import ActorV1, AuditTargetV1, CostReportV1
from k8sops_common.service import ServiceContext

from . import repository
from .domain.findings import AnalysisConfig, Finding, analyse
from .domain.inventory import Inventory, namespace_groups, workload_specs, workload_usage
from .domain.posture import Category, cluster_checks, cost_severity
from .domain.pricing import InstancePrice, ResourceRates, UnknownInstanceType, cluster_rates
from .domain.report import build_report, drift_summary
from .domain.review import Quarter, scorecard, zone_of
from .domain.usage import WorkloadUsage
from .reader import ClusterTarget, ClusterUnreachable, read_inventory, read_usage, resolve_context
from .settings import ClusterAccessSettings, CostSettings

log = logging.getLogger(__name__)
TREND_QUARTERS = 4


@dataclass
class Snapshot:
    inventory: Inventory
    workloads: list[WorkloadUsage]
    usage_source: str


def cost_settings(context: ServiceContext) -> tuple[ClusterAccessSettings, CostSettings, AnalysisConfig]:
    """Read once per process; tests put their own in `context.extras`."""
    if "cost_settings" not in context.extras:
        context.extras["cost_settings"] = (ClusterAccessSettings(), CostSettings(), AnalysisConfig())
    settings: tuple[ClusterAccessSettings, CostSettings, AnalysisConfig] = context.extras["cost_settings"]
    return settings


def target_of(access: ClusterAccessSettings, settings: CostSettings, cluster: RowMapping) -> ClusterTarget:
    if not access.kubeconfig:
        raise ClusterUnreachable("no kubeconfig configured (K8SOPS_KUBECONFIG)")
    wanted = [settings.cluster_contexts.get(cluster["cluster_id"], ""), cluster["cluster_id"], cluster["name"]]
    context = resolve_context(access.kubeconfig, [name for name in wanted if name])
    return ClusterTarget(
        kubeconfig=access.kubeconfig,
        context=context,
        prometheus_url=access.prometheus_url,
        prometheus_cluster=context or cluster["name"],
        prometheus_label=settings.prometheus_cluster_label,
    )


async def collect(target: ClusterTarget, settings: CostSettings, now: datetime) -> Snapshot:
    inventory = await read_inventory(target)
    history, step = timedelta(days=settings.history_days), timedelta(minutes=settings.step_minutes)
    groups = namespace_groups(inventory, settings.pods_per_query)
    usage = await read_usage(target, groups, now, history, step, settings.query_concurrency)
    return Snapshot(inventory, workload_usage(inventory, usage.cpu, usage.memory), usage.source)


async def run_due_job(context: ServiceContext, now: datetime) -> bool:
    """Claims and runs one due job; False when none is due."""
    access, settings, config = cost_settings(context)
    async with context.database.unit_of_work() as session:
        job = await repository.claim_due_job(session, now, timedelta(minutes=settings.job_lease_minutes))
        cluster = None if job is None else await repository.get_cluster(session, job["cluster_id"])
    if job is None:
        return False
    try:
        if cluster is None or cluster["deleted"]:
            raise ClusterUnreachable(f"cluster {job['cluster_id']!r} is not (or no longer) known from intake")
        snapshot = await collect(target_of(access, settings, cluster), settings, now)
        async with context.database.unit_of_work() as session:
            await store_analysis(session, context.outbox, job, cluster, snapshot, config, now)
    except Exception as error:
        # Whatever went wrong, the job is retried a bounded number of times, never forever.
        retry = job["attempts"] < settings.job_max_attempts
        expected = isinstance(error, ClusterUnreachable | UnknownInstanceType)
        log.log(logging.WARNING if expected else logging.ERROR, "analysis job %s failed (attempt %s): %s",
                job["job_id"], job["attempts"], error, exc_info=not expected)  # fmt: skip
        async with context.database.unit_of_work() as session:
            retry_at = now + timedelta(minutes=2 ** job["attempts"]) if retry else None
            await repository.retry_or_fail_job(session, job["job_id"], str(error), retry_at)
            if not retry:
                await record_audit(
                    session,
                    context.outbox,
                    actor=ActorV1(sub=job["requested_by"]),
                    action=f"cost.{job['kind']}.run",
                    target=AuditTargetV1(kind="cluster", name=job["cluster_id"], cluster=job["cluster_id"]),
                    engagement_id=job["engagement_id"],
                    outcome="failure",
                    details={"job_id": job["job_id"], "error": str(error)[:500]},
                )
    return True


def _rates(price_rows: list[RowMapping], snapshot: Snapshot, config: AnalysisConfig) -> ResourceRates:
    prices = {
        row["instance_type"]: InstancePrice(
            row["instance_type"],
            float(row["cpu_cores"]),
            float(row["memory_gib"]),
            float(row["on_demand_bdt_hour"]),
            float(row["spot_bdt_hour"]),
        )
        for row in price_rows
    }
    return cluster_rates([node.capacity() for node in snapshot.inventory.nodes], prices, config.cpu_share)


async def store_analysis(
    session: AsyncSession,
    outbox: Outbox,
    job: RowMapping,
    cluster: RowMapping,
    snapshot: Snapshot,
    config: AnalysisConfig,
    now: datetime,
) -> str:
    analysis_id = f"an-{uuid.uuid4().hex[:16]}"
    kind = job["kind"]
    zone = zone_of(cluster["timezone"])
    quarter = job["quarter"] or (str(Quarter.of(now, zone)) if kind != "cost-analysis" else None)
    rates = _rates(list(await repository.price_rows(session)), snapshot, config)
    inventory = snapshot.inventory
    spot_nodes = sum(1 for node in inventory.nodes if node.capacity_type == "spot")
    findings = analyse(cluster["name"], snapshot.workloads, inventory.namespaces, spot_nodes, rates, config)
    posture = cluster_checks(
        workload_specs(inventory), inventory.namespaces, inventory.namespaces_with_policy, inventory.bindings
    )
    previous = (
        []
        if quarter is None
        else list(await repository.previous_reviews(session, cluster["cluster_id"], quarter, TREND_QUARTERS))
    )
    graded = [(p.category, p.severity) for p in posture]
    graded += [(Category.COST, cost_severity(f.monthly_savings_bdt, f.recommended)) for f in findings]
    scores = scorecard(graded, previous[0]["scores"] if previous else None)
    resurfaced = await _resurface(session, cluster, quarter, analysis_id, now) if kind == "health-review" else []
    drift = await repository.drift_of(session, cluster["cluster_id"]) if kind == "health-review" else None
    linked = await _refresh_recommendations(session, cluster, findings, analysis_id, now)
    header = {
        "analysis_id": analysis_id,
        "kind": kind,
        "engagement_id": cluster["engagement_id"],
        "cluster_id": cluster["cluster_id"],
        "cluster_name": cluster["name"],
        "quarter": quarter,
        "timezone": zone.key,
        "request_id": job["request_id"],
        "generated_at": now.isoformat(),
        "usage_source": snapshot.usage_source,
    }
    trend = [
        {
            "quarter": row["quarter"],
            **{k: row["cost"][k] for k in ("monthly_request_cost_bdt", "recommended_savings_bdt")},
        }
        for row in reversed(previous)
    ]
    report = build_report(
        header=header,
        inventory=inventory,
        workloads=snapshot.workloads,
        findings=findings,
        posture=posture,
        scores=scores,
        rates=rates,
        trend=trend,
        resurfaced=resurfaced,
        today=now.astimezone(zone).date(),
        drift=drift_summary(drift) if kind == "health-review" else None,
    )
    savings = Decimal(str(report["cost"]["recommended_savings_bdt"]))
    await repository.insert_analysis(
        session,
        {
            "analysis_id": analysis_id,
            "job_id": job["job_id"],
            "engagement_id": cluster["engagement_id"],
            "cluster_id": cluster["cluster_id"],
            "kind": kind,
            "quarter": quarter,
            "request_id": job["request_id"],
            "requested_by": job["requested_by"],
            "usage_source": snapshot.usage_source,
            "monthly_savings_bdt": savings,
            "findings_count": len(findings),
            "scores": {s.category.value: s.score for s in scores},
            "report": report,
            "generated_at": now,
        },
        [_finding_row(analysis_id, index, finding, linked) for index, finding in enumerate(findings)],
    )
    await repository.finish_job(session, job["job_id"], analysis_id)
    await outbox.add(
        session,
        CostReportV1(
            analysis_id=analysis_id,
            engagement_id=cluster["engagement_id"],
            cluster_id=cluster["cluster_id"],
            kind=kind,
            findings=len(findings),
            monthly_savings_bdt=savings,
            generated_at=now,
            request_id=job["request_id"],
        ),
    )
    await record_audit(
        session,
        outbox,
        actor=ActorV1(sub=job["requested_by"]),
        action=f"cost.{kind}.complete",
        target=AuditTargetV1(kind="cluster", name=cluster["cluster_id"], cluster=cluster["cluster_id"]),
        engagement_id=cluster["engagement_id"],
        details={"analysis_id": analysis_id, "findings": len(findings), "recommended_savings_bdt": str(savings)},
    )
    if kind == "health-review" and quarter is not None:
        await schedule_review(session, cluster, Quarter.parse(quarter).next())
    return analysis_id


def _finding_row(analysis_id: str, index: int, finding: Finding, linked: dict[tuple[str, str], str]) -> dict[str, Any]:
    return {
        "finding_id": f"{analysis_id}-{index}",
        "analysis_id": analysis_id,
        "position": index,
        "kind": str(finding.kind),
        "target": finding.target,
        "title": finding.title,
        "detail": finding.detail,
        "monthly_savings_bdt": Decimal(str(finding.monthly_savings_bdt)),
        "effort": str(finding.effort),
        "severity": cost_severity(finding.monthly_savings_bdt, finding.recommended).name.lower(),
        "recommended": finding.recommended,
        "change": finding.change,
        "recommendation_id": linked.get((str(finding.kind), finding.target)),
    }


async def _refresh_recommendations(
    session: AsyncSession, cluster: RowMapping, findings: list[Finding], analysis_id: str, now: datetime
) -> dict[tuple[str, str], str]:
    """One recommendation per recommended finding; a known one gets today's figures, keeps its status."""
    linked: dict[tuple[str, str], str] = {}
    for finding in findings:
        if not finding.recommended:
            continue
        figures = {
            "title": finding.title,
            "detail": finding.detail,
            "monthly_savings_bdt": Decimal(str(finding.monthly_savings_bdt)),
            "effort": str(finding.effort),
            "last_analysis_id": analysis_id,
            "updated_at": now,
        }
        existing = await repository.recommendation_for_target(
            session, cluster["cluster_id"], str(finding.kind), finding.target
        )
        if existing is not None:
            await repository.update_recommendation(session, existing["recommendation_id"], figures)
            linked[(str(finding.kind), finding.target)] = existing["recommendation_id"]
            continue
        recommendation_id = f"rec-{uuid.uuid4().hex[:16]}"
        await repository.insert_recommendation(
            session,
            {
                "recommendation_id": recommendation_id,
                "engagement_id": cluster["engagement_id"],
                "cluster_id": cluster["cluster_id"],
                "kind": str(finding.kind),
                "target": finding.target,
                "status": "open",
                "created_at": now,
                **figures,
            },
        )
        await repository.add_history(
            session,
            {
                "recommendation_id": recommendation_id,
                "at": now,
                "actor": "system",
                "action": "opened",
                "to_status": "open",
                "note": f"analysis {analysis_id}",
            },
        )
        linked[(str(finding.kind), finding.target)] = recommendation_id
    return linked


async def _resurface(
    session: AsyncSession, cluster: RowMapping, quarter: str | None, analysis_id: str, now: datetime
) -> list[dict[str, Any]]:
    """Recommendations not adopted in an earlier quarter are open again in this quarter's review."""
    if quarter is None:
        return []
    resurfaced = []
    for row in await repository.not_adopted_before(session, cluster["cluster_id"], quarter):
        await repository.update_recommendation(session, row["recommendation_id"], {"status": "open", "updated_at": now})
        await repository.add_history(
            session,
            {
                "recommendation_id": row["recommendation_id"],
                "at": now,
                "actor": "system",
                "action": "resurfaced",
                "from_status": "not_adopted",
                "to_status": "open",
                "note": f"not adopted in {row['decided_quarter']}; re-opened by the {quarter} review {analysis_id}",
            },
        )
        resurfaced.append(
            {
                "recommendation_id": row["recommendation_id"],
                "kind": row["kind"],
                "target": row["target"],
                "title": row["title"],
                "monthly_savings_bdt": float(row["monthly_savings_bdt"]),
                "not_adopted_in": row["decided_quarter"],
            }
        )
    return resurfaced


async def schedule_review(session: AsyncSession, cluster: RowMapping, quarter: Quarter) -> None:
    """The review of `quarter` falls due at 00:00 on its first day in the engagement's timezone
    (stored as that UTC instant); one per cluster per quarter."""
    await repository.schedule_job(
        session,
        {
            "job_id": f"job-{uuid.uuid4().hex[:16]}",
            "dedup_key": f"review/{cluster['cluster_id']}/{quarter}",
            "engagement_id": cluster["engagement_id"],
            "cluster_id": cluster["cluster_id"],
            "kind": "health-review",
            "quarter": str(quarter),
            "requested_by": "system",
            "due_at": quarter.starts_at(zone_of(cluster["timezone"])),
        },
    )
