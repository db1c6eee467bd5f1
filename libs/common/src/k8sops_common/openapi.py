"""The OpenAPI document says what the services really answer: every error is problem+json.

FastAPI documents only the success response and a JSON 422; clients (and contract fuzzers) then
meet undocumented 400, 401, 403, 404, 409, 413 and 503 answers in an undocumented content type.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from .errors import PROBLEM_JSON

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
    },
}
# Any operation may meet these: a malformed or oversized body, a refused URL, bad input.
ALWAYS = {"400": "Malformed request", "413": "Body too large", "422": "Invalid request"}
WITH_AUTH = {"401": "Missing or invalid token", "403": "Role or engagement not granted"}
WITH_STATE = {"404": "Not found", "409": "Conflicts with the current state"}
READYZ = {"503": "Not ready"}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def install_problem_documentation(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            document.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
            for path, operations in document.get("paths", {}).items():
                for operation in operations.values():
                    codes = dict(ALWAYS)
                    if operation.get("security"):
                        codes |= WITH_AUTH
                    if path.startswith("/v1/"):
                        codes |= WITH_STATE
                    if path == "/readyz":
                        codes |= READYZ
                    responses = operation.setdefault("responses", {})
                    for code, description in codes.items():
                        # FastAPI's own 422 says application/json; the service sends problem+json.
                        responses[code] = _problem(responses.get(code, {}).get("description", description))
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
