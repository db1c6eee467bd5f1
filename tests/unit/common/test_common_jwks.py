"""RS256 tokens verified against a JWKS served over HTTP, as an identity provider would."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from k8sops_common.auth import InvalidToken, Role, TokenVerifier
from k8sops_common.settings import ServiceSettings

PRIVATE_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks_url() -> Iterator[str]:
    jwk = json.loads(RSAAlgorithm.to_jwk(PRIVATE_KEY.public_key()))
    body = json.dumps({"keys": [{**jwk, "kid": "idp-key-1", "use": "sig", "alg": "RS256"}]}).encode()

    class Jwks(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Jwks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/jwks.json"
    server.shutdown()


def rs256(key: rsa.RSAPrivateKey, **claims: object) -> str:
    payload = {"sub": "idp-user", "roles": ["k8s-ops.viewer"], "engagements": ["eng-1"], "exp": int(time.time()) + 600}
    return jwt.encode({**payload, **claims}, key, algorithm="RS256", headers={"kid": "idp-key-1"})


async def test_rs256_tokens_verify_against_the_jwks(jwks_url: str) -> None:
    verifier = TokenVerifier(ServiceSettings(jwt_algorithm="RS256", jwt_jwks_url=jwks_url, jwt_issuer="https://idp"))
    principal = await verifier.verify(rs256(PRIVATE_KEY, iss="https://idp"))
    assert principal.sub == "idp-user" and principal.roles == frozenset({Role.VIEWER})
    with pytest.raises(InvalidToken, match="Signature"):
        await verifier.verify(rs256(OTHER_KEY, iss="https://idp"))
    with pytest.raises(InvalidToken, match="issuer"):
        await verifier.verify(rs256(PRIVATE_KEY, iss="https://somewhere-else"))


async def test_rs256_without_a_jwks_is_refused_with_the_fix() -> None:
    verifier = TokenVerifier(ServiceSettings(jwt_algorithm="RS256"))
    with pytest.raises(InvalidToken, match="K8SOPS_JWT_JWKS_URL"):
        await verifier.verify(rs256(PRIVATE_KEY))


def test_the_token_command_mints_a_token_the_services_accept() -> None:
    printed = subprocess.run(
        [
            sys.executable,
            "-m",
            "k8sops_common.auth.cli",
            "--sub",
            "alice",
            "--role",
            "k8s-ops.admin",
            "--engagement",
            "e1",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    claims = jwt.decode(printed, ServiceSettings().jwt_secret, algorithms=["HS256"])
    assert (claims["sub"], claims["roles"], claims["engagements"]) == ("alice", ["k8s-ops.admin"], ["e1"])
