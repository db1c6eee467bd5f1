"""An ASGI guard in front of every service: bounded bodies and no NUL in the URL.

The body limit counts the bytes as they arrive, so a chunked body (no Content-Length) is cut off
at the limit instead of being read in full. A NUL in the path or query is refused here because
PostgreSQL cannot store or compare it; typed parameters (`inputs.Text`) say the same per field.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import PROBLEM_JSON, PROBLEM_TYPE_BASE


class _BodyTooLarge(Exception):
    pass


def _problem(status: int, title: str, detail: str, problem_type: str, path: str) -> tuple[Message, Message]:
    body = json.dumps(
        {"type": PROBLEM_TYPE_BASE + problem_type, "title": title, "status": status, "detail": detail, "instance": path}
    ).encode()
    start: Message = {
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode())],
    }
    return start, {"type": "http.response.body", "body": body}


class RequestLimits:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        refusal = self._refusal(scope)
        if refusal is not None:
            for message in _problem(*refusal, path):
                await send(message)
            return
        state: dict[str, Any] = {"received": 0, "too_large": False, "started": False}

        async def counting_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > self.max_body_bytes:
                    state["too_large"] = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            # Whatever the app makes of the aborted read (FastAPI turns it into a 400), the
            # client is told the real reason.
            if state["too_large"]:
                return
            state["started"] = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except _BodyTooLarge:
            pass
        if state["too_large"] and not state["started"]:
            for message in _problem(*self._too_large(), path):
                await send(message)

    def _too_large(self) -> tuple[int, str, str, str]:
        return 413, "Body too large", f"Bodies are limited to {self.max_body_bytes} bytes.", "body-too-large"

    def _refusal(self, scope: Scope) -> tuple[int, str, str, str] | None:
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                if value.isdigit() and int(value) > self.max_body_bytes:
                    return self._too_large()
        if "\x00" in scope.get("path", "") or b"\x00" in unquote_to_bytes(scope.get("query_string", b"")):
            return 400, "Invalid request", "The URL contains a NUL character (%00); remove it.", "invalid-request"
        return None
