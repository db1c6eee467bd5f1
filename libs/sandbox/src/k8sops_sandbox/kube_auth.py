"""Bearer tokens for the clusters' Kubernetes APIs: each cluster has its own, so a client holding
another cluster's credentials (or none) is refused with 401, as a real API server refuses it.

Tokens are issued per cluster when the sandbox starts (in the kubeconfig, one user per cluster,
and in `sandbox.json`); they are checked only while `TokenCheck.required` is on (`--require-tokens`),
so clients written before tokens existed keep working against a sandbox that does not ask.
"""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

# What a real API server serves to anyone (system:public-info-viewer).
PUBLIC_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/version"})
UNAUTHORIZED = json.dumps(
    {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Unauthorized",
        "reason": "Unauthorized",
        "code": 401,
    }
).encode()


@dataclass
class TokenCheck:
    required: bool = False
    tokens: dict[str, str] = field(default_factory=dict)

    def issue(self, cluster: str) -> str:
        return self.tokens.setdefault(cluster, secrets.token_urlsafe(24))

    def guard(self, cluster: str, app: App) -> App:
        """`app` behind this cluster's token."""
        expected = f"Bearer {self.issue(cluster)}".encode()

        async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http" and self.required and scope["path"] not in PUBLIC_PATHS:
                given = dict(scope["headers"]).get(b"authorization", b"")
                if not hmac.compare_digest(given, expected):
                    headers = [(b"content-type", b"application/json"), (b"www-authenticate", b'Bearer realm="sandbox"')]
                    await send({"type": "http.response.start", "status": 401, "headers": headers})
                    await send({"type": "http.response.body", "body": UNAUTHORIZED})
                    return
            await app(scope, receive, send)

        return guarded
