"""RFC 9457 problem details for every error a client sees."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE_BASE = "https://k8s-ops.example/problems/"
log = logging.getLogger(__name__)


class ProblemError(Exception):
    """An error with everything a client needs to fix its request."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        problem_type: str | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.problem_type = problem_type or title.lower().replace(" ", "-")
        self.headers = headers
        self.extensions = extensions


def not_found(kind: str, identifier: str) -> ProblemError:
    # Records outside the caller's engagements answer 404 too, so their existence does not leak.
    return ProblemError(404, "Not found", f"No {kind} {identifier!r} in your engagements.", problem_type="not-found")


def problem_response(
    status: int,
    title: str,
    detail: str,
    *,
    problem_type: str,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + problem_type,
        "title": title,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extensions)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _describe_validation_errors(errors: list[Any]) -> list[dict[str, Any]]:
    described = []
    for error in errors:
        location = ".".join(str(part) for part in error.get("loc", ()))
        described.append({"field": location, "message": error.get("msg", ""), "type": error.get("type")})
    return described


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(
            exc.status,
            exc.title,
            exc.detail,
            problem_type=exc.problem_type,
            instance=request.url.path,
            headers=exc.headers,
            **exc.extensions,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _describe_validation_errors(list(exc.errors()))
        fields = ", ".join(error["field"] for error in errors) or "the request"
        return problem_response(
            422,
            "Invalid request",
            f"Fix these fields and send again: {fields}.",
            problem_type="invalid-request",
            instance=request.url.path,
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = HTTPStatus(exc.status_code).phrase
        return problem_response(
            exc.status_code,
            title,
            str(exc.detail),
            problem_type=title.lower().replace(" ", "-"),
            instance=request.url.path,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return problem_response(
            500,
            "Internal error",
            "The service failed on this request; nothing was stored. Retry later or report the trace id.",
            problem_type="internal-error",
            instance=request.url.path,
        )
