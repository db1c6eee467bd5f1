"""`/openapi/*` responses and the `fieldValidation` query parameter (Strict, Warn, Ignore).

kubectl finds `fieldValidation` on PATCH in the v3 document and then validates nothing itself,
sending `fieldValidation=Strict`; so the sandbox checks unknown fields as the apiserver does:
Strict answers 400 naming them, Warn (the default) answers with a `Warning` header per field.
"""

from __future__ import annotations

import json
from typing import Any

import yaml
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from . import openapi, openapi_v2_proto
from .kube_errors import ApiError, not_found
from .resources import ResourceType

PROTOBUF_V2 = "application/com.github.proto-openapi.spec.v2"
JSON_BODIES = ("application/json", "application/merge-patch+json", "application/strategic-merge-patch+json")


def openapi_response(path: str, request: Request, minor: tuple[int, int], git_version: str) -> Response:
    if path == "/openapi/v3":
        return JSONResponse(openapi.v3_root(minor, git_version))
    if path == "/openapi/v2":
        if PROTOBUF_V2 in request.headers.get("accept", ""):
            return Response(openapi.v2_protobuf(minor, git_version), media_type=openapi_v2_proto.MEDIA_TYPE)
        return Response(openapi.v2_document(minor, git_version), media_type="application/json")
    document = openapi.v3_documents(minor, git_version).get(path.removeprefix("/openapi/v3/"))
    if document is None:
        raise not_found()
    return Response(document, media_type="application/json")


def _directive(request: Request) -> str:
    value = request.query_params.get("fieldValidation") or "Warn"
    if value not in ("Strict", "Warn", "Ignore"):
        raise ApiError(400, "BadRequest", f'fieldValidation must be "Strict", "Warn" or "Ignore", not "{value}"')
    return value


def check_fields(request: Request, resource: ResourceType, version: str, obj: Any) -> list[str]:
    """Warning header values for unknown fields of `obj` (raises 400 under Strict)."""
    directive = _directive(request)
    if directive == "Ignore" or not isinstance(obj, dict):
        return []
    unknown = [path for path in openapi.unknown_fields(obj, resource, version) if "$" not in path]
    if not unknown:
        return []
    if directive == "Strict":
        listed = ", ".join(f'unknown field "{path}"' for path in unknown)
        raise ApiError(400, "BadRequest", f"strict decoding error: {listed}")
    return ["299 - " + json.dumps(f'unknown field "{path}"') for path in unknown]


async def body_warnings(request: Request, resource: ResourceType, version: str) -> list[str]:
    """`check_fields` on a create, update or patch body; bodies that do not parse are left to the handler."""
    if request.method not in ("POST", "PUT", "PATCH"):
        return []
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    raw = await request.body()
    try:
        if content_type == "application/apply-patch+yaml":
            obj = yaml.safe_load(raw)
        elif content_type in JSON_BODIES:
            obj = json.loads(raw) if raw else {}
        else:
            return []  # JSON patches name paths, not objects; protobuf has no unknown fields
    except (ValueError, yaml.YAMLError):
        return []
    return check_fields(request, resource, version, obj)
