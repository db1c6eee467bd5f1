"""Signed checkpoints of the chain head, and the Ed25519 keys that sign them.

A checkpoint states "after ``entry_count`` entries the chain head was ``head_link_hash``, as of
``created_at``". Signed with the audit service's Ed25519 key and handed to a third party (or
just kept), it lets anyone later hold the log to what it once said, as CloudTrail digest files
and transparency-log tree heads do: a rewritten or truncated chain no longer reaches that head.
It also makes verification cheap: only the entries after a trusted checkpoint need re-walking.

Signed bytes: the canonical JSON (RFC 8785, see ``canonical_json.py``) of::

    {"created_at": "<RFC 3339 UTC, microseconds, Z>", "entry_count": int,
     "format": "k8sops.audit.checkpoint/v1", "head_link_hash": "<64 hex>",
     "head_sequence": int}

The ``format`` member keeps a checkpoint signature from being valid for any other message. The
signature is Ed25519 (RFC 8032) over those bytes, carried as standard base64 (RFC 4648 §4). The
key id is the RFC 7638 JWK thumbprint of the public key, so a verifier can pick the right key
after a rotation.
"""

import base64
import binascii
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from k8sops_audit.domain.canonical_json import canonical_json_bytes
from k8sops_audit.domain.chain import (
    ChainHead,
    StoredEntry,
    VerificationResult,
    require_hash,
    verify_chain,
)
from k8sops_audit.domain.entry_bytes import timestamp_text

CHECKPOINT_FORMAT = "k8sops.audit.checkpoint/v1"


class InvalidKeyError(ValueError):
    """Key material that is not an Ed25519 key in the expected encoding."""


class UntrustedCheckpointError(ValueError):
    """A checkpoint whose signature does not verify with the given public key."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Checkpoint:
    """The chain head at a moment. Sequences are 1-based and gapless, so the entry count equals
    the head sequence; both are kept because a verifier reads them as different claims (where
    the head is, how long the log is) and a mismatch between them is refused outright."""

    head_sequence: int
    head_link_hash: str
    entry_count: int
    created_at: datetime

    def __post_init__(self) -> None:
        if self.head_sequence < 0:
            raise ValueError(f"head_sequence must be 0 or more, got {self.head_sequence}")
        if self.entry_count != self.head_sequence:
            raise ValueError(
                f"entry_count ({self.entry_count}) must equal head_sequence "
                f"({self.head_sequence}): the chain is 1-based and gapless"
            )
        require_hash("head_link_hash", self.head_link_hash)
        if self.created_at.utcoffset() is None:
            raise ValueError("created_at must be a timezone-aware datetime")

    @classmethod
    def of_head(cls, head: ChainHead, created_at: datetime) -> "Checkpoint":
        return cls(
            head_sequence=head.sequence,
            head_link_hash=head.link_hash,
            entry_count=head.sequence,
            created_at=created_at,
        )

    @property
    def head(self) -> ChainHead:
        return ChainHead(self.head_sequence, self.head_link_hash)

    def canonical_bytes(self) -> bytes:
        """The exact bytes that are signed (format in the module docstring)."""
        return canonical_json_bytes(
            {
                "created_at": timestamp_text(self.created_at),
                "entry_count": self.entry_count,
                "format": CHECKPOINT_FORMAT,
                "head_link_hash": self.head_link_hash,
                "head_sequence": self.head_sequence,
            }
        )


@dataclass(frozen=True, slots=True)
class SignedCheckpoint:
    checkpoint: Checkpoint
    key_id: str  # RFC 7638 thumbprint of the signing key's public JWK
    signature: str  # base64 of the 64-byte Ed25519 signature over checkpoint.canonical_bytes()


def sign_checkpoint(checkpoint: Checkpoint, private_key: Ed25519PrivateKey) -> SignedCheckpoint:
    signature = private_key.sign(checkpoint.canonical_bytes())
    return SignedCheckpoint(
        checkpoint=checkpoint,
        key_id=key_id(private_key.public_key()),
        signature=base64.b64encode(signature).decode("ascii"),
    )


def verify_checkpoint(signed: SignedCheckpoint, public_key: Ed25519PublicKey) -> bool:
    """Whether ``signed.signature`` is ``public_key``'s signature of the checkpoint."""
    try:
        signature = base64.b64decode(signed.signature, validate=True)
        public_key.verify(signature, signed.checkpoint.canonical_bytes())
    except (binascii.Error, InvalidSignature, ValueError):
        return False
    return True


def trusted_head(signed: SignedCheckpoint, public_key: Ed25519PublicKey) -> ChainHead:
    """The head a checkpoint vouches for, once its signature is checked."""
    if not verify_checkpoint(signed, public_key):
        checkpoint = signed.checkpoint
        raise UntrustedCheckpointError(
            f"checkpoint at sequence {checkpoint.head_sequence} "
            f"(created {timestamp_text(checkpoint.created_at)}) does not verify with key "
            f"{key_id(public_key)}; it was signed by {signed.key_id!r} or altered"
        )
    return signed.checkpoint.head


def verify_range_from_checkpoint(
    trusted: SignedCheckpoint,
    public_key: Ed25519PublicKey,
    rows_after: Iterable[StoredEntry],
    *,
    until: SignedCheckpoint | None = None,
) -> VerificationResult:
    """Verify only the entries after a signed checkpoint (partial verification).

    ``rows_after`` are the stored entries from ``trusted.head_sequence + 1`` onwards, in
    sequence order. With ``until`` (a later signed checkpoint) the walk must also pass through
    the head that checkpoint vouches for, so a rewrite or truncation between the two is named.
    Raises ``UntrustedCheckpointError`` when a checkpoint's signature does not verify.
    """
    start = trusted_head(trusted, public_key)
    expected_heads = [] if until is None else [trusted_head(until, public_key)]
    return verify_chain(rows_after, start, expected_heads=expected_heads)


def generate_signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_key_to_pem(private_key: Ed25519PrivateKey, passphrase: bytes | None = None) -> bytes:
    """PKCS#8 PEM, encrypted when a passphrase is given."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    )
    return private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def load_private_key_pem(pem: bytes, passphrase: bytes | None = None) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=passphrase)
    except (ValueError, TypeError) as error:
        raise InvalidKeyError(f"cannot read the private key PEM: {error}") from error
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidKeyError(f"the audit signing key must be Ed25519, got {type(key).__name__}")
    return key


def public_key_to_pem(public_key: Ed25519PublicKey) -> bytes:
    """SubjectPublicKeyInfo PEM (``-----BEGIN PUBLIC KEY-----``)."""
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_public_key_pem(pem: bytes) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError as error:
        raise InvalidKeyError(f"cannot read the public key PEM: {error}") from error
    if not isinstance(key, Ed25519PublicKey):
        raise InvalidKeyError(f"expected an Ed25519 public key, got {type(key).__name__}")
    return key


def public_key_to_jwk(public_key: Ed25519PublicKey) -> dict[str, str]:
    """The public key as a JWK (RFC 8037: kty OKP, crv Ed25519), with its thumbprint as kid."""
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": _raw_public_key_base64url(public_key),
        "kid": key_id(public_key),
        "alg": "EdDSA",
        "use": "sig",
    }


def public_key_from_jwk(jwk: Mapping[str, object]) -> Ed25519PublicKey:
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise InvalidKeyError('expected a JWK with "kty": "OKP" and "crv": "Ed25519"')
    x = jwk.get("x")
    if not isinstance(x, str):
        raise InvalidKeyError('the JWK has no "x" member')
    try:
        raw = base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))
        return Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError) as error:
        raise InvalidKeyError(f'the JWK "x" is not a 32-byte base64url key: {error}') from error


def key_id(public_key: Ed25519PublicKey) -> str:
    """RFC 7638 JWK thumbprint: base64url SHA-256 of the required members in canonical JSON."""
    required_members = {"crv": "Ed25519", "kty": "OKP", "x": _raw_public_key_base64url(public_key)}
    digest = hashlib.sha256(canonical_json_bytes(required_members)).digest()
    return _base64url(digest)


def _raw_public_key_base64url(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return _base64url(raw)


def _base64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
