"""Bearer tokens into principals, and what each role may see."""

from __future__ import annotations

import asyncio
import time

import jwt
import pytest

from k8sops_common.auth import InvalidToken, Principal, Role, TokenVerifier, mint_token
from k8sops_common.settings import ServiceSettings

SECRET = "unit-test-secret-unit-test-secret"
IN_A_DAY = int(time.time()) + 86_400


def verifier(**overrides: object) -> TokenVerifier:
    return TokenVerifier(ServiceSettings(jwt_secret=SECRET, **overrides))  # type: ignore[arg-type]


async def test_a_minted_token_becomes_a_typed_principal() -> None:
    token = mint_token(SECRET, sub="alice", roles=["k8s-ops.requester"], engagements=["eng-1", "eng-2"])
    principal = await verifier().verify(token)
    assert principal == Principal("alice", frozenset({Role.REQUESTER}), frozenset({"eng-1", "eng-2"}))


@pytest.mark.parametrize(
    "token, reason",
    [
        (mint_token("another-secret-another-secret-xx", sub="a", roles=[], engagements=[]), "Signature"),
        (mint_token(SECRET, sub="a", roles=[], engagements=[], ttl_s=-10), "expired"),
        (mint_token(SECRET, sub="a", roles=["k8s-ops.god"], engagements=[]), "unknown roles"),
        (jwt.encode({"sub": "a", "roles": "k8s-ops.viewer", "exp": IN_A_DAY}, SECRET), "must be a list of strings"),
        # Correctly signed, wrong shape: refused as a bad token, not a crash in the role lookup.
        (jwt.encode({"sub": "a", "roles": [["k8s-ops.viewer"]], "exp": IN_A_DAY}, SECRET), "'roles' must be a list"),
        (jwt.encode({"sub": "a", "roles": [{"r": 1}], "exp": IN_A_DAY}, SECRET), "'roles' must be a list"),
        (jwt.encode({"sub": "a", "roles": {"r": 1}, "exp": IN_A_DAY}, SECRET), "'roles' must be a list"),
        (jwt.encode({"sub": "a", "engagements": [{"e": 1}], "exp": IN_A_DAY}, SECRET), "'engagements' must be"),
        (jwt.encode({"sub": {"id": 1}, "exp": IN_A_DAY}, SECRET), "Subject must be a string"),
        (jwt.encode({"roles": [], "exp": IN_A_DAY}, SECRET), "sub"),
        ("not-a-jwt", "segments"),
    ],
)
async def test_bad_tokens_are_refused_with_the_reason(token: str, reason: str) -> None:
    with pytest.raises(InvalidToken, match=reason):
        await verifier().verify(token)


async def test_audience_is_checked_when_configured() -> None:
    token = mint_token(SECRET, sub="a", roles=[], engagements=[], audience="k8s-ops")
    assert (await verifier(jwt_audience="k8s-ops").verify(token)).sub == "a"
    with pytest.raises(InvalidToken, match=r"(?i)audience"):
        await verifier(jwt_audience="someone-else").verify(token)


async def test_a_verified_token_is_remembered_only_until_it_expires() -> None:
    expires_at = int(time.time()) + 2
    token = jwt.encode({"sub": "a", "roles": ["k8s-ops.viewer"], "exp": expires_at}, SECRET)
    checker = verifier()
    first = await checker.verify(token)
    assert await checker.verify(token) is first  # the second call did not decode the token again
    await asyncio.sleep(expires_at + 0.05 - time.time())  # the clock passing exp is the condition
    with pytest.raises(InvalidToken, match="expired"):
        await checker.verify(token)


async def test_remembered_tokens_are_bounded() -> None:
    checker = verifier()
    checker.verified.capacity = 2
    tokens = [mint_token(SECRET, sub=f"u{n}", roles=[], engagements=[]) for n in range(3)]
    for token in tokens:
        await checker.verify(token)
    assert checker.verified.get(tokens[0]) is None
    assert checker.verified.get(tokens[2]) is not None


def test_roles_include_the_lesser_ones_of_their_side_only() -> None:
    admin = Principal("a", frozenset({Role.ADMIN}), frozenset({"eng-1"}))
    assert admin.has_role(Role.VIEWER) and admin.has_role(Role.REQUESTER)
    assert not admin.has_role(Role.OPERATOR)
    senior = Principal("s", frozenset({Role.SENIOR}), frozenset({"eng-1"}))
    assert senior.has_role(Role.OPERATOR) and not senior.has_role(Role.ADMIN) and senior.is_provider


def test_engagement_scope() -> None:
    viewer = Principal("v", frozenset({Role.VIEWER}), frozenset({"eng-1"}))
    assert viewer.can_see_engagement("eng-1")
    assert not viewer.can_see_engagement("eng-2")
    assert not viewer.can_see_engagement(None)
    auditor = Principal("x", frozenset({Role.AUDITOR}), frozenset())
    assert auditor.can_see_engagement("eng-2")
