"""JWT bearer validation: HS256 with a shared secret by default, RS256 with a JWKS when configured."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import OrderedDict
from typing import Any

import jwt

from ..settings import ServiceSettings
from .principal import Principal, Role


class InvalidToken(Exception):
    pass


class VerifiedTokens:
    """Tokens already verified, each until its `exp`: a client sends the same bearer token with
    every request, and nothing verification checks (signature, audience, issuer, claims) changes
    within the token's life. Bounded; the least recently used token is forgotten first."""

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[str, tuple[Principal, float]] = OrderedDict()

    def get(self, token: str) -> Principal | None:
        entry = self._entries.get(token)
        if entry is None:
            return None
        principal, expires_at = entry
        if time.time() >= expires_at:
            del self._entries[token]  # verified again, which refuses it as expired
            return None
        self._entries.move_to_end(token)
        return principal

    def put(self, token: str, principal: Principal, expires_at: float) -> None:
        self._entries[token] = (principal, expires_at)
        self._entries.move_to_end(token)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)


class TokenVerifier:
    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self._jwks = jwt.PyJWKClient(settings.jwt_jwks_url) if settings.jwt_jwks_url else None
        self.verified = VerifiedTokens()

    async def _key_for(self, token: str) -> Any:
        if self.settings.jwt_algorithm == "HS256":
            return self.settings.jwt_secret
        if self._jwks is None:
            raise InvalidToken("RS256 tokens need K8SOPS_JWT_JWKS_URL to be configured")
        jwks = self._jwks
        signing_key = await asyncio.to_thread(jwks.get_signing_key_from_jwt, token)  # urllib inside
        return signing_key.key

    async def verify(self, token: str) -> Principal:
        cached = self.verified.get(token)
        if cached is not None:
            return cached
        try:
            claims = jwt.decode(
                token,
                await self._key_for(token),
                algorithms=[self.settings.jwt_algorithm],
                audience=self.settings.jwt_audience,
                issuer=self.settings.jwt_issuer,
                options={"require": ["sub", "exp"], "verify_aud": self.settings.jwt_audience is not None},
            )
        except jwt.PyJWTError as error:
            raise InvalidToken(str(error)) from error
        principal = principal_from_claims(claims)
        # `exp` is required, so decode has checked it is a number.
        self.verified.put(token, principal, float(claims["exp"]))
        return principal


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    raw_roles = claims.get("roles", [])
    raw_engagements = claims.get("engagements", [])
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub or "\x00" in sub:
        raise InvalidToken("claim 'sub' must be a non-empty string")
    for name, value in (("roles", raw_roles), ("engagements", raw_engagements)):
        # Checked by shape: anything else would fail later, where it is a 500 rather than a 401.
        if not isinstance(value, list) or not all(isinstance(item, str) and "\x00" not in item for item in value):
            raise InvalidToken(f"claim '{name}' must be a list of strings")
    known = {role.value for role in Role}
    unknown = [role for role in raw_roles if role not in known]
    if unknown:
        raise InvalidToken(f"unknown roles {unknown}; known roles are {sorted(known)}")
    return Principal(
        sub=sub,
        roles=frozenset(Role(role) for role in raw_roles),
        engagements=frozenset(raw_engagements),
    )


def mint_token(
    secret: str,
    *,
    sub: str,
    roles: list[str],
    engagements: list[str],
    ttl_s: int = 3600,
    audience: str | None = None,
    issuer: str | None = None,
) -> str:
    """HS256 token for local use and tests; production tokens come from the identity provider."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": sub,
        "roles": roles,
        "engagements": engagements,
        "iat": now,
        "exp": now + ttl_s,
        "jti": str(uuid.uuid4()),
    }
    if audience:
        claims["aud"] = audience
    if issuer:
        claims["iss"] = issuer
    return jwt.encode(claims, secret, algorithm="HS256")
