"""Request bodies: JSON, as files and patches travel, and Kubernetes protobuf, as kubectl >= 1.35
sends the objects it builds itself (`create deployment`, `auth can-i`, ...)."""

from __future__ import annotations

import json

from starlette.requests import Request

from .kube_errors import ApiError
from .store import Obj


async def read_body(request: Request) -> Obj:
    content_type = request.headers.get("content-type", "")
    if "protobuf" in content_type:
        raise ApiError(415, "UnsupportedMediaType", f"the sandbox reads JSON request bodies only, not {content_type}")
    raw = await request.body()
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        raise ApiError(400, "BadRequest", "the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "BadRequest", "the request body must be a JSON object")
    return body
