"""cost-analyzer's REST API: thin routes that check who may act and hand over to the service layer.

Writes commit inside the route, before the response is sent."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from k8sops_common.errors import ProblemError
from k8sops_common.inputs import WIDE_ID_PATTERN as ID_PATTERN
from k8sops_common.service import Context

from . import repository, service
from .auth import Decider, Operator, PositionHolder, Reader, ensure_visible, not_found, scope
from .domain.recommendation import DecisionNotAllowed, Status, TransitionError
from .domain.report import render_html, render_markdown
from .scheduler import clock_of
from .schemas import (
    AnalysisKind,
    AnalysisOut,
    AnalysisRequestIn,
    DecisionIn,
    FindingOut,
    HistoryOut,
    JobOut,
    PositionIn,
    PriceIn,
    PriceOut,
    RecommendationOut,
)

router = APIRouter(prefix="/v1/cost", tags=["cost"])
Identifier = Annotated[str, Path(pattern=ID_PATTERN)]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=1, max_length=200, description="replays return the first job"),
]

Responses = dict[int | str, dict[str, Any]]
NOT_FOUND: Responses = {404: {"description": "Not in the caller's engagements, or unknown"}}
WRITE: Responses = {
    403: {"description": "The caller's role may not do this"},
    404: NOT_FOUND[404],
    409: {"description": "Not possible in the current state (the problem says why)"},
    422: {"description": "Invalid body (the problem names the field)"},
}
REPORT_TYPES = {"json": "application/json", "md": "text/markdown", "html": "text/html"}


async def _analysis(context: Context, principal: Any, analysis_id: str) -> Any:
    async with context.database.sessions() as session:
        row = await repository.get_analysis(session, analysis_id)
    if row is None:
        raise not_found("analysis", analysis_id)
    ensure_visible(principal, row["engagement_id"], "analysis", analysis_id)
    return row


@router.post("/clusters/{cluster_id}/analyses", status_code=202, response_model=JobOut, responses=WRITE)
async def request_analysis(
    principal: Operator,
    context: Context,
    cluster_id: Identifier,
    body: AnalysisRequestIn,
    idempotency_key: IdempotencyKey = None,
) -> JobOut:
    """Runs an analysis, assessment or review of the cluster now (the scheduler picks the job up)."""
    async with context.database.unit_of_work() as session:
        cluster = await repository.get_cluster(session, cluster_id)
        if cluster is None or cluster["deleted"]:
            raise not_found("cluster", cluster_id)
        ensure_visible(principal, cluster["engagement_id"], "cluster", cluster_id)
        try:
            job_id = await service.request_analysis(
                session, context.outbox, principal, cluster, body.kind, clock_of(context)(), idempotency_key
            )
        except service.Conflict as error:
            raise ProblemError(409, "Already assessed", f"{error}.", problem_type="onboarding-done") from error
        except service.KeyReused as error:
            raise ProblemError(
                422, "Idempotency-Key reused", f"{error}.", problem_type="idempotency-key-reused"
            ) from error
    async with context.database.sessions() as session:
        jobs = await repository.list_jobs(session, [cluster["engagement_id"]])
    return next(JobOut.model_validate(dict(job)) for job in jobs if job["job_id"] == job_id)


@router.get("/jobs", response_model=list[JobOut])
async def list_jobs(principal: Reader, context: Context) -> list[JobOut]:
    """Scheduled and finished analysis jobs: onboarding assessments, quarterly reviews, requests."""
    async with context.database.sessions() as session:
        rows = await repository.list_jobs(session, scope(principal))
    return [JobOut.model_validate(dict(row)) for row in rows]


async def _list(context: Context, principal: Any, cluster_id: str | None, kind: str | None) -> list[AnalysisOut]:
    async with context.database.sessions() as session:
        rows = await repository.list_analyses(session, scope(principal), cluster_id, kind)
    return [AnalysisOut.model_validate(dict(row)) for row in rows]


ClusterFilter = Annotated[str | None, Query(pattern=ID_PATTERN)]


@router.get("/analyses", response_model=list[AnalysisOut])
async def list_analyses(
    principal: Reader, context: Context, cluster_id: ClusterFilter = None, kind: AnalysisKind | None = None
) -> list[AnalysisOut]:
    return await _list(context, principal, cluster_id, kind)


@router.get("/assessments", response_model=list[AnalysisOut])
async def list_assessments(principal: Reader, context: Context, cluster_id: ClusterFilter = None) -> list[AnalysisOut]:
    return await _list(context, principal, cluster_id, "onboarding-assessment")


@router.get("/reviews", response_model=list[AnalysisOut])
async def list_reviews(principal: Reader, context: Context, cluster_id: ClusterFilter = None) -> list[AnalysisOut]:
    return await _list(context, principal, cluster_id, "health-review")


@router.get("/analyses/{analysis_id}", response_model=AnalysisOut, responses=NOT_FOUND)
async def get_analysis(principal: Reader, context: Context, analysis_id: Identifier) -> AnalysisOut:
    return AnalysisOut.model_validate(dict(await _analysis(context, principal, analysis_id)))


@router.get("/analyses/{analysis_id}/findings", response_model=list[FindingOut], responses=NOT_FOUND)
async def list_findings(principal: Reader, context: Context, analysis_id: Identifier) -> list[FindingOut]:
    await _analysis(context, principal, analysis_id)
    async with context.database.sessions() as session:
        rows = await repository.findings_of(session, analysis_id)
    return [FindingOut.model_validate(dict(row)) for row in rows]


@router.get(
    "/analyses/{analysis_id}/report.{report_format}",
    responses={
        **NOT_FOUND,
        200: {"content": {media: {} for media in REPORT_TYPES.values()}, "description": "The report in that format"},
    },
    response_class=Response,
)
async def get_report(
    principal: Reader,
    context: Context,
    analysis_id: Identifier,
    report_format: Annotated[str, Path(pattern="^(json|md|html)$")],
) -> Response:
    """The same report as JSON, Markdown, or a standalone HTML page with the trend chart inline (SVG)."""
    report = (await _analysis(context, principal, analysis_id))["report"]
    if report_format == "md":
        return PlainTextResponse(render_markdown(report), media_type="text/markdown; charset=utf-8")
    if report_format == "html":
        return HTMLResponse(render_html(report))
    return JSONResponse(report)


@router.get("/recommendations", response_model=list[RecommendationOut])
async def list_recommendations(
    principal: Reader, context: Context, cluster_id: ClusterFilter = None, status: Status | None = None
) -> list[RecommendationOut]:
    async with context.database.sessions() as session:
        rows = await repository.list_recommendations(session, scope(principal), cluster_id, status)
    return [RecommendationOut.model_validate(dict(row)) for row in rows]


async def _recommendation_out(context: Context, recommendation_id: str) -> RecommendationOut:
    async with context.database.sessions() as session:
        row = await repository.get_recommendation(session, recommendation_id)
        history = await repository.history_of(session, recommendation_id)
    assert row is not None
    out = RecommendationOut.model_validate(dict(row))
    out.history = [HistoryOut.model_validate(dict(entry)) for entry in history]
    return out


async def _visible_recommendation(context: Context, principal: Any, recommendation_id: str) -> None:
    async with context.database.sessions() as session:
        row = await repository.get_recommendation(session, recommendation_id)
    if row is None:
        raise not_found("recommendation", recommendation_id)
    ensure_visible(principal, row["engagement_id"], "recommendation", recommendation_id)


@router.get("/recommendations/{recommendation_id}", response_model=RecommendationOut, responses=NOT_FOUND)
async def get_recommendation(principal: Reader, context: Context, recommendation_id: Identifier) -> RecommendationOut:
    """The recommendation with both positions and every decision, oldest first."""
    await _visible_recommendation(context, principal, recommendation_id)
    return await _recommendation_out(context, recommendation_id)


@router.post("/recommendations/{recommendation_id}/positions", response_model=RecommendationOut, responses=WRITE)
async def record_position(
    principal: PositionHolder, context: Context, recommendation_id: Identifier, body: PositionIn
) -> RecommendationOut:
    """The provider's position (operators, seniors) or the customer's (engagement admins)."""
    await _visible_recommendation(context, principal, recommendation_id)
    async with context.database.unit_of_work() as session:
        await service.record_position(
            session, context.outbox, principal, recommendation_id, body.position, clock_of(context)()
        )
    return await _recommendation_out(context, recommendation_id)


@router.post("/recommendations/{recommendation_id}/decisions", response_model=RecommendationOut, responses=WRITE)
async def decide(
    principal: Decider, context: Context, recommendation_id: Identifier, body: DecisionIn
) -> RecommendationOut:
    """Customer admins accept, reject, decline (`not_adopted`) or accept as is; operators mark implemented."""
    await _visible_recommendation(context, principal, recommendation_id)
    try:
        async with context.database.unit_of_work() as session:
            await service.decide(
                session,
                context.outbox,
                principal,
                recommendation_id,
                Status(body.status),
                body.note,
                clock_of(context)(),
            )
    except DecisionNotAllowed as error:
        raise ProblemError(403, "Not your decision", f"{error}.", problem_type="decision-forbidden") from error
    except TransitionError as error:
        raise ProblemError(
            409, "Transition not allowed", f"{error}.", problem_type="recommendation-transition"
        ) from error
    return await _recommendation_out(context, recommendation_id)


@router.get("/prices", response_model=list[PriceOut])
async def list_prices(principal: Reader, context: Context) -> list[PriceOut]:
    """Node types with on-demand and spot prices per hour, in BDT."""
    async with context.database.sessions() as session:
        rows = await repository.price_rows(session)
    return [PriceOut.model_validate(dict(row)) for row in rows]


@router.put("/prices/{instance_type}", response_model=list[PriceOut], responses=WRITE)
async def put_price(principal: Operator, context: Context, instance_type: Identifier, body: PriceIn) -> list[PriceOut]:
    """Adds or changes one node type's prices (audited with the old and new figures)."""
    async with context.database.unit_of_work() as session:
        await service.put_price(
            session,
            context.outbox,
            principal,
            {"instance_type": instance_type, **body.model_dump()},
            clock_of(context)(),
        )
    return await list_prices(principal, context)
