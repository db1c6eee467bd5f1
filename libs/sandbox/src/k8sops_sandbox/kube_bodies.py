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


def grace_period_of(options: object, where: str) -> int | None:
    """`gracePeriodSeconds` of a DeleteOptions (None when not given); anything but an integer is a 400."""
    value = options.get("gracePeriodSeconds") if isinstance(options, dict) else None
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise ApiError(400, "BadRequest", f"{where}.gracePeriodSeconds must be an integer, not {value!r}")


async def delete_grace_period(request: Request) -> int | None:
    """A DELETE's `gracePeriodSeconds`: from its DeleteOptions body when it has one (kubectl's way),
    else from the query (`?gracePeriodSeconds=`, kubernetes-asyncio's); None when not given."""
    if await request.body():
        return grace_period_of(await read_body(request), "DeleteOptions")
    query = request.query_params.get("gracePeriodSeconds")
    try:
        return None if query is None else int(query)
    except ValueError:
        raise ApiError(400, "BadRequest", f"gracePeriodSeconds must be an integer, not {query!r}") from None
