"""FastAPI dependencies: `Authenticated` for any principal, `require_role(...)` for a minimum role."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..errors import ProblemError
from .principal import Principal, Role
from .tokens import InvalidToken, TokenVerifier

_bearer = HTTPBearer(auto_error=False, description="JWT with claims sub, roles, engagements")


async def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None:
        raise ProblemError(
            401,
            "Authentication required",
            "Send a bearer token: 'Authorization: Bearer <jwt>' (mint one locally with k8sops-token).",
            headers={"WWW-Authenticate": "Bearer"},
        )
    verifier: TokenVerifier = request.app.state.token_verifier
    try:
        return await verifier.verify(credentials.credentials)
    except InvalidToken as error:
        raise ProblemError(
            401,
            "Invalid token",
            f"The bearer token was refused: {error}.",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        ) from error


Authenticated = Annotated[Principal, Depends(authenticate)]


def require_any_role(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A principal holding (directly or by inclusion) at least one of the roles."""

    async def dependency(principal: Authenticated) -> Principal:
        if not any(principal.has_role(role) for role in roles):
            wanted = " or ".join(role.value for role in roles)
            raise ProblemError(
                403,
                "Role required",
                f"This action needs the role {wanted}; the token has {principal.role_names or 'no roles'}.",
                problem_type="role-required",
            )
        return principal

    return dependency


# Reading: any customer role, operators, auditors (read-only across engagements); every service's read routes.
Reader = Annotated[Principal, Depends(require_any_role(Role.VIEWER, Role.OPERATOR, Role.AUDITOR))]
