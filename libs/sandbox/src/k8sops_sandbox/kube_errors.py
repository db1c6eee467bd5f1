"""Kubernetes `Status` errors, as the apiserver writes them."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

from .resources import ResourceType


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details


def status_body(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success" if code < 400 else "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return body


def status_response(error: ApiError) -> JSONResponse:
    return JSONResponse(status_body(error.code, error.reason, error.message, error.details), error.code)


def not_found() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource")


def qualified(resource: ResourceType) -> str:
    return f"{resource.plural}.{resource.group}" if resource.group else resource.plural


def conflict_message(resource: ResourceType, name: str) -> str:
    return (
        f'Operation cannot be fulfilled on {qualified(resource)} "{name}": the object has been '
        "modified; please apply your changes to the latest version and try again"
    )
