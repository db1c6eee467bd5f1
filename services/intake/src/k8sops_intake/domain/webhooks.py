"""Standard Webhooks (https://www.standardwebhooks.com): signatures, timestamps, retry schedule,
and which outbound targets are allowed. Pure functions; the HTTP and the storage live elsewhere."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import secrets
from datetime import datetime, timedelta
from urllib.parse import urlsplit

SECRET_PREFIX = "whsec_"
TIMESTAMP_TOLERANCE = timedelta(minutes=5)


class SignatureRejected(Exception):
    """Carries the problem type that tells the sender what was wrong."""

    def __init__(self, problem_type: str, detail: str) -> None:
        super().__init__(detail)
        self.problem_type = problem_type
        self.detail = detail


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header value: `v1,<base64 HMAC-SHA256 of id.timestamp.body>`."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(
    secret: str,
    headers: dict[str, str | None],
    body: bytes,
    now: datetime,
    tolerance: timedelta = TIMESTAMP_TOLERANCE,
) -> str:
    """Returns the message id of a correctly signed, fresh message; raises SignatureRejected otherwise."""
    message_id, stamp, signatures = (
        headers.get(name) for name in ("webhook-id", "webhook-timestamp", "webhook-signature")
    )
    if not message_id or not stamp or not signatures:
        raise SignatureRejected(
            "webhook-headers-missing", "Send the webhook-id, webhook-timestamp and webhook-signature headers."
        )
    try:
        timestamp = int(stamp)
    except ValueError:
        raise SignatureRejected("webhook-timestamp-invalid", "webhook-timestamp must be Unix seconds.") from None
    skew = abs(now.timestamp() - timestamp)
    if skew > tolerance.total_seconds():
        raise SignatureRejected(
            "webhook-timestamp-stale",
            f"webhook-timestamp is {int(skew)} s away from our clock; the tolerance is "
            f"{int(tolerance.total_seconds())} s. Sign each delivery when you send it.",
        )
    try:
        expected = sign(secret, message_id, timestamp, body).encode()
    except (binascii.Error, ValueError):
        raise SignatureRejected("webhook-signature-invalid", "The partner secret on file is unusable.") from None
    for candidate in signatures.split():
        version, _, _ = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(candidate.encode(), expected):
            return message_id
    raise SignatureRejected(
        "webhook-signature-invalid",
        "No v1 signature matches HMAC-SHA256(secret, id.timestamp.body); check the secret and sign the exact body.",
    )


def retry_delay(failed_attempts: int, base: timedelta, ceiling: timedelta) -> timedelta:
    """Exponential backoff: base, 2·base, 4·base, … capped at `ceiling`."""
    exponent = min(max(failed_attempts - 1, 0), 30)
    delay: timedelta = base * (2**exponent)
    return min(delay, ceiling)


def address_is_private(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast or ip.is_unspecified


def target_refusal(url: str, allow_private: bool) -> str | None:
    """Why this URL may not receive webhooks, or None. Host names are resolved again at delivery time."""
    parts = urlsplit(url)
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        return "the URL must be absolute http(s)"
    if parts.username or parts.password:
        return "the URL must not carry credentials; the signature authenticates us"
    if allow_private:
        return None
    host = parts.hostname
    if host == "localhost" or host.endswith(".localhost"):
        return "loopback targets are not allowed"
    try:
        private = address_is_private(host)
    except ValueError:
        return None
    return "targets on loopback or private address ranges are not allowed" if private else None
