"""What every intake router shares: path and header parameters, response tables, idempotent replies."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import Header, Path, Query, Response, status
from pydantic import BaseModel

from k8sops_common.inputs import ID_PATTERN

from .kit import Created

T = TypeVar("T")

IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=1, max_length=200, description="replays return the first result"),
]
EngagementId = Annotated[str, Path(pattern=ID_PATTERN)]
RecordId = Annotated[str, Path(pattern=ID_PATTERN)]
PageLimit = Annotated[int, Query(ge=1, le=200)]

Responses = dict[int | str, dict[str, Any]]
AUTH: Responses = {
    401: {"description": "No or invalid bearer token"},
    403: {"description": "The token lacks the role (or, for a body naming an engagement, that engagement)"},
    413: {"description": "Body larger than 256 KiB"},
    422: {"description": "Invalid input; the problem lists each field"},
}
SCOPED: Responses = {**AUTH, 404: {"description": "No such record in the caller's engagements"}}
CHANGING: Responses = {**SCOPED, 409: {"description": "Conflicts with the record's current state"}}


def created_response(response: Response, created: Created[T]) -> T:
    if not created.is_new:
        response.status_code = status.HTTP_200_OK
        response.headers["Idempotent-Replayed"] = "true"
    return created.value


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with its `$defs` inlined, for a body the route reads as raw bytes."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(definitions[node["$ref"].rsplit("/", 1)[-1]])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved
