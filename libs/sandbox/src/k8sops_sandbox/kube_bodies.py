"""Request bodies: JSON, as files and patches travel, and Kubernetes protobuf, as kubectl >= 1.35
sends the objects it builds itself (`create deployment`, `auth can-i`, ...)."""

from __future__ import annotations

import json

from starlette.requests import Request

from .kube_errors import ApiError
from .protobuf import ProtobufError, UnreadableKind, decode_object
from .store import Obj

PROTOBUF_TYPE = "application/vnd.kubernetes.protobuf"


async def read_body(request: Request) -> Obj:
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    raw = await request.body()
    if content_type == PROTOBUF_TYPE:
        try:
            return decode_object(raw)
        except UnreadableKind as error:
            raise ApiError(415, "UnsupportedMediaType", str(error)) from None
        except ProtobufError as error:
            raise ApiError(400, "BadRequest", f"the protobuf request body is malformed: {error}") from None
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        raise ApiError(400, "BadRequest", "the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "BadRequest", "the request body must be a JSON object")
    return body
