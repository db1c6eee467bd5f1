"""Calls to the provider's platform API (node pools, upgrades, long-running operations) over httpx,
and its refusals as errors carrying their problem type."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from ..settings import RunnerSettings

Obj = dict[str, Any]


class PlatformError(RuntimeError):
    def __init__(self, status: int, problem_type: str, detail: str) -> None:
        super().__init__(f"platform API {status} {problem_type}: {detail}")
        self.status = status
        self.problem_type = problem_type.rsplit("/", 1)[-1]
        self.detail = detail


async def platform_request(
    http: httpx.AsyncClient,
    settings: RunnerSettings,
    method: str,
    path: str,
    body: Mapping[str, Any] | None = None,
    waits_s: float = 0,
) -> Obj:
    """One call to the provider's platform API (`waits_s`: how long it may hold the answer back);
    an error answer is raised with its problem type."""
    url = f"{settings.platform_api_url.rstrip('/')}{path}"
    response = await http.request(method, url, json=body, timeout=settings.http_timeout_s + waits_s)
    if response.status_code >= 400:
        try:
            problem = response.json()
        except ValueError:
            problem = {"type": "unknown", "detail": response.text}
        raise PlatformError(response.status_code, str(problem.get("type", "")), str(problem.get("detail", "")))
    result: Obj = response.json()
    return result
