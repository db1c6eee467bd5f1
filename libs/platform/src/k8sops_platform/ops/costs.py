"""`k8sops cost …`: cost analyses and health reviews, their findings in BDT, recommendations (cost-analyzer).

Operators and seniors run analyses and state the provider's position; the customer's engagement
admin decides; operators mark accepted recommendations implemented. A 403 is exit 4.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

import typer

from .base import JsonOption, ProfileOption, api, handled
from .client import Api
from .output import emit, report_format, write_report

cost_app = typer.Typer(help="Cost analyses, health reviews and recommendations (cost-analyzer).", no_args_is_help=True)
AnalysisArgument = Annotated[str, typer.Argument(help="the analysis id (`k8sops cost analyses`)")]
RecommendationArgument = Annotated[str, typer.Argument(help="the recommendation id (`k8sops cost recommendations`)")]
ClusterOption = Annotated[str | None, typer.Option(help="only this cluster")]
ANALYSIS_COLUMNS = (
    "analysis_id",
    "cluster_id",
    "kind",
    "quarter",
    "findings_count",
    "monthly_savings_bdt",
    "usage_source",
    "generated_at",
)
FINDING_COLUMNS = ("kind", "target", "monthly_savings_bdt", "effort", "severity", "recommended", "recommendation_id")
RECOMMENDATION_COLUMNS = ("recommendation_id", "cluster_id", "kind", "target", "monthly_savings_bdt", "status")


def analyzer(profile: str) -> Api:
    return api(profile, "cost-analyzer")


@cost_app.command("analyses")
@handled
def analyses(
    cluster: ClusterOption = None,
    kind: Annotated[str | None, typer.Option(help="cost-analysis, onboarding-assessment or health-review")] = None,
    profile: ProfileOption = "default",
    as_json: JsonOption = False,
) -> None:
    """Analyses, assessments and reviews in the token's engagements, newest first (savings: BDT a month)."""
    found = analyzer(profile).get("/v1/cost/analyses", cluster_id=cluster, kind=kind)
    emit(found, as_json, ANALYSIS_COLUMNS, title="analyses")


@cost_app.command("reviews")
@handled
def reviews(cluster: ClusterOption = None, profile: ProfileOption = "default", as_json: JsonOption = False) -> None:
    """Quarterly health reviews, newest first."""
    found = analyzer(profile).get("/v1/cost/reviews", cluster_id=cluster)
    emit(found, as_json, ANALYSIS_COLUMNS, title="health reviews")


@cost_app.command("analyse")
@handled
def analyse(
    cluster: Annotated[str, typer.Argument(help="the cluster id")],
    kind: Annotated[str, typer.Option(help="cost-analysis, health-review or onboarding-assessment")] = "cost-analysis",
    profile: ProfileOption = "default",
    as_json: JsonOption = False,
) -> None:
    """Run an analysis of a cluster now (operators); `k8sops cost analyses` lists it when done."""
    job = analyzer(profile).post(f"/v1/cost/clusters/{cluster}/analyses", {"kind": kind})
    emit(job, as_json, title=f"job {job['job_id']} {job['status']}")


@cost_app.command("show")
@handled
def show(analysis_id: AnalysisArgument, profile: ProfileOption = "default", as_json: JsonOption = False) -> None:
    """One analysis and its findings, with the savings each would bring in BDT a month."""
    client = analyzer(profile)
    analysis = client.get(f"/v1/cost/analyses/{analysis_id}")
    findings = client.get(f"/v1/cost/analyses/{analysis_id}/findings")
    if as_json:
        emit({"analysis": analysis, "findings": findings}, True)
        return
    emit(analysis, False, title=analysis_id)
    recommended = sum((Decimal(str(f["monthly_savings_bdt"])) for f in findings if f["recommended"]), Decimal(0))
    emit(findings, False, FINDING_COLUMNS, title=f"findings (recommended savings {recommended} BDT a month)")


@cost_app.command("recommendations")
@handled
def recommendations(
    cluster: ClusterOption = None,
    status: Annotated[str | None, typer.Option(help="open, accepted, implemented, rejected, not_adopted, …")] = None,
    profile: ProfileOption = "default",
    as_json: JsonOption = False,
) -> None:
    """Recommendations in the token's engagements."""
    found = analyzer(profile).get("/v1/cost/recommendations", cluster_id=cluster, status=status)
    emit(found, as_json, RECOMMENDATION_COLUMNS, title="recommendations")


@cost_app.command("recommendation")
@handled
def recommendation(
    recommendation_id: RecommendationArgument, profile: ProfileOption = "default", as_json: JsonOption = False
) -> None:
    """One recommendation with both sides' positions and its history."""
    found = analyzer(profile).get(f"/v1/cost/recommendations/{recommendation_id}")
    _show_recommendation(found, as_json)


@cost_app.command("position")
@handled
def position(
    recommendation_id: RecommendationArgument,
    text: Annotated[str, typer.Argument(help="your side's position, in your own words")],
    profile: ProfileOption = "default",
    as_json: JsonOption = False,
) -> None:
    """State the provider's position (operators, seniors) or the customer's (engagement admins)."""
    found = analyzer(profile).post(f"/v1/cost/recommendations/{recommendation_id}/positions", {"position": text})
    _show_recommendation(found, as_json)


@cost_app.command("decide")
@handled
def decide(
    recommendation_id: RecommendationArgument,
    status: Annotated[str, typer.Argument(help="accepted, rejected, not_adopted, accepted_as_is; implemented")],
    note: Annotated[str | None, typer.Option(help="why; for a rejection, the customer's position")] = None,
    profile: ProfileOption = "default",
    as_json: JsonOption = False,
) -> None:
    """Decide on a recommendation: customer admins accept or reject; operators mark it implemented."""
    body: dict[str, Any] = {"status": status, **({"note": note} if note else {})}
    found = analyzer(profile).post(f"/v1/cost/recommendations/{recommendation_id}/decisions", body)
    _show_recommendation(found, as_json)


@cost_app.command("report")
@handled
def report(
    analysis_id: AnalysisArgument,
    output_format: Annotated[str, typer.Option("--format", help="md, json or html")] = "md",
    profile: ProfileOption = "default",
    as_json: JsonOption = False,
) -> None:
    """An analysis's report on stdout: Markdown (default), JSON or a standalone HTML page."""
    chosen = report_format(output_format, as_json, ("md", "json", "html"))
    write_report(analyzer(profile).text(f"/v1/cost/analyses/{analysis_id}/report.{chosen}"), chosen)


def _show_recommendation(found: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit(found, True)
        return
    history = found.pop("history", [])
    emit(found, False, title=f"{found['recommendation_id']}: {found['status']}")
    emit(history, False, ("at", "actor", "action", "from_status", "to_status", "note"), title="history")
