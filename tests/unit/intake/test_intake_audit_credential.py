"""Intake's own credential for the audit trail: a short-lived read-only token for one engagement."""

from __future__ import annotations

import jwt

from k8sops_common.auth import Role, TokenVerifier
from k8sops_common.settings import ServiceSettings
from k8sops_intake.incidents.audit_client import SERVICE_SUBJECT, service_authorization

SETTINGS = ServiceSettings(service_name="intake", jwt_secret="s" * 32, jwt_audience="k8s-ops", jwt_issuer="idp")


async def test_the_token_reads_one_engagement_only_and_expires_soon() -> None:
    header = service_authorization(SETTINGS, "eng-7", ttl_s=120)
    assert header is not None and header.startswith("Bearer ")
    token = header.removeprefix("Bearer ")
    principal = await TokenVerifier(SETTINGS).verify(token)  # what the audit service checks
    assert principal.sub == SERVICE_SUBJECT
    assert principal.roles == frozenset({Role.VIEWER}) and principal.engagements == frozenset({"eng-7"})
    assert not principal.has_role(Role.AUDITOR) and not principal.is_provider
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 120


def test_identity_provider_tokens_leave_intake_without_a_credential() -> None:
    rs256 = SETTINGS.model_copy(update={"jwt_algorithm": "RS256", "jwt_jwks_url": "https://idp.example/jwks"})
    assert service_authorization(rs256, "eng-7", ttl_s=120) is None
