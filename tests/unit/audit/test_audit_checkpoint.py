"""Signed checkpoints: canonical bytes, Ed25519 signatures, keys, and partial verification."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from k8sops_audit.domain.chain import (
    GENESIS,
    ChainedEntry,
    MismatchKind,
    chain_entries,
    verify_chain,
)
from k8sops_audit.domain.checkpoint import (
    Checkpoint,
    InvalidKeyError,
    SignedCheckpoint,
    UntrustedCheckpointError,
    generate_signing_key,
    key_id,
    load_private_key_pem,
    load_public_key_pem,
    private_key_to_pem,
    public_key_from_jwk,
    public_key_to_jwk,
    public_key_to_pem,
    sign_checkpoint,
    trusted_head,
    verify_checkpoint,
    verify_range_from_checkpoint,
)
from k8sops_audit.domain.entry import Outcome

ChainBuilder = Callable[[int], list[ChainedEntry]]

# RFC 8037 Appendix A: the Ed25519 key (RFC 8032 test 1), its public JWK and its thumbprint.
RFC_8037_PRIVATE_KEY = Ed25519PrivateKey.from_private_bytes(
    bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
)
RFC_8037_X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
RFC_8037_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"

GOLDEN_CHECKPOINT = Checkpoint(
    head_sequence=1000,
    head_link_hash="ab" * 32,
    entry_count=1000,
    created_at=datetime(2026, 3, 1, 15, 0, tzinfo=timezone(timedelta(hours=6))),
)
# Ed25519 signatures are deterministic, so the signature pins the signed bytes as well.
GOLDEN_SIGNATURE = "rYo80OA+TuE704gfSnMALdThc+JS9gkdeEDeDWDpnxTscA8vDSQeblRVlOERZlZGb5TQVnW/jK1JFantxdpjAw=="

CHAIN_LENGTH = 90
CHECKPOINT_AT = 40
LATER_CHECKPOINT_AT = 70
CREATED_AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def signing_key() -> Ed25519PrivateKey:
    return generate_signing_key()


@pytest.fixture(scope="module")
def chain(build_chain: ChainBuilder) -> list[ChainedEntry]:
    return build_chain(CHAIN_LENGTH)


def signed_checkpoint_at(chain: list[ChainedEntry], sequence: int, key: Ed25519PrivateKey) -> SignedCheckpoint:
    return sign_checkpoint(Checkpoint.of_head(chain[sequence - 1].head, CREATED_AT), key)


# --- checkpoint and signature -------------------------------------------------------------


def test_checkpoint_bytes_are_canonical_json_in_utc() -> None:
    assert GOLDEN_CHECKPOINT.canonical_bytes() == (
        b'{"created_at":"2026-03-01T09:00:00.000000Z","entry_count":1000,'
        b'"format":"k8sops.audit.checkpoint/v1","head_link_hash":"' + b"ab" * 32 + b'",'
        b'"head_sequence":1000}'
    )


def test_signature_of_a_fixed_checkpoint_with_a_fixed_key_is_pinned() -> None:
    signed = sign_checkpoint(GOLDEN_CHECKPOINT, RFC_8037_PRIVATE_KEY)
    assert signed.signature == GOLDEN_SIGNATURE
    assert signed.key_id == RFC_8037_THUMBPRINT
    assert len(base64.b64decode(signed.signature)) == 64


def test_a_signed_checkpoint_verifies_with_the_signers_public_key(
    signing_key: Ed25519PrivateKey,
) -> None:
    signed = sign_checkpoint(GOLDEN_CHECKPOINT, signing_key)
    assert verify_checkpoint(signed, signing_key.public_key())
    assert signed.key_id == key_id(signing_key.public_key())


@pytest.mark.parametrize(
    "tampered",
    [
        replace(GOLDEN_CHECKPOINT, head_sequence=999, entry_count=999),
        replace(GOLDEN_CHECKPOINT, head_link_hash="ab" * 31 + "ac"),
        replace(GOLDEN_CHECKPOINT, created_at=GOLDEN_CHECKPOINT.created_at + timedelta(seconds=1)),
    ],
    ids=["head-sequence-and-count", "head-hash", "created-at"],
)
def test_a_checkpoint_altered_after_signing_does_not_verify(
    signing_key: Ed25519PrivateKey, tampered: Checkpoint
) -> None:
    signed = sign_checkpoint(GOLDEN_CHECKPOINT, signing_key)
    assert not verify_checkpoint(replace(signed, checkpoint=tampered), signing_key.public_key())


def test_a_checkpoint_does_not_verify_with_another_key(signing_key: Ed25519PrivateKey) -> None:
    signed = sign_checkpoint(GOLDEN_CHECKPOINT, signing_key)
    assert not verify_checkpoint(signed, generate_signing_key().public_key())


@pytest.mark.parametrize(
    "signature",
    [
        "",
        "not base64!",
        base64.b64encode(b"\x00" * 64).decode(),
        base64.b64encode(b"\x00" * 10).decode(),
    ],
    ids=["empty", "not-base64", "zeros", "too-short"],
)
def test_a_malformed_signature_does_not_verify(signing_key: Ed25519PrivateKey, signature: str) -> None:
    signed = replace(sign_checkpoint(GOLDEN_CHECKPOINT, signing_key), signature=signature)
    assert not verify_checkpoint(signed, signing_key.public_key())


def test_a_flipped_signature_bit_does_not_verify(signing_key: Ed25519PrivateKey) -> None:
    signed = sign_checkpoint(GOLDEN_CHECKPOINT, signing_key)
    raw = bytearray(base64.b64decode(signed.signature))
    raw[17] ^= 0x01
    flipped = replace(signed, signature=base64.b64encode(bytes(raw)).decode())
    assert not verify_checkpoint(flipped, signing_key.public_key())


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"head_sequence": 10, "entry_count": 9}, "must equal head_sequence"),
        ({"head_sequence": -1, "entry_count": -1}, "0 or more"),
        ({"head_link_hash": "AB" * 32}, "64 lowercase hex"),
        ({"created_at": datetime(2026, 3, 1, 9, 0)}, "timezone-aware"),
    ],
)
def test_an_inconsistent_checkpoint_is_refused(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        replace(GOLDEN_CHECKPOINT, **fields)


def test_a_checkpoint_of_the_empty_chain_is_the_genesis_head() -> None:
    assert Checkpoint.of_head(GENESIS, CREATED_AT).head == GENESIS


# --- keys ---------------------------------------------------------------------------------


def test_public_jwk_follows_rfc_8037_with_the_rfc_7638_thumbprint_as_kid() -> None:
    assert public_key_to_jwk(RFC_8037_PRIVATE_KEY.public_key()) == {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": RFC_8037_X,
        "kid": RFC_8037_THUMBPRINT,
        "alg": "EdDSA",
        "use": "sig",
    }


def test_a_public_jwk_reads_back_as_the_same_key(signing_key: Ed25519PrivateKey) -> None:
    jwk = public_key_to_jwk(signing_key.public_key())
    read_back = public_key_from_jwk(jwk)
    assert public_key_to_pem(read_back) == public_key_to_pem(signing_key.public_key())


@pytest.mark.parametrize(
    "jwk",
    [
        {"kty": "EC", "crv": "P-256", "x": RFC_8037_X},
        {"kty": "OKP", "crv": "Ed25519"},
        {"kty": "OKP", "crv": "Ed25519", "x": "c2hvcnQ"},
    ],
    ids=["not-okp", "no-x", "short-x"],
)
def test_a_jwk_that_is_not_an_ed25519_public_key_is_refused(jwk: dict[str, object]) -> None:
    with pytest.raises(InvalidKeyError):
        public_key_from_jwk(jwk)


@pytest.mark.parametrize("passphrase", [None, b"correct horse battery staple"])
def test_private_key_pem_round_trips(signing_key: Ed25519PrivateKey, passphrase: bytes | None) -> None:
    pem = private_key_to_pem(signing_key, passphrase)
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----" if passphrase else b"-----BEGIN PRIVATE KEY-----")
    loaded = load_private_key_pem(pem, passphrase)
    assert loaded.private_bytes_raw() == signing_key.private_bytes_raw()


def test_a_private_key_pem_with_the_wrong_passphrase_is_refused(
    signing_key: Ed25519PrivateKey,
) -> None:
    pem = private_key_to_pem(signing_key, b"right")
    with pytest.raises(InvalidKeyError, match="cannot read the private key"):
        load_private_key_pem(pem, b"wrong")


def test_public_key_pem_round_trips(signing_key: Ed25519PrivateKey) -> None:
    pem = public_key_to_pem(signing_key.public_key())
    assert pem.startswith(b"-----BEGIN PUBLIC KEY-----")
    loaded = load_public_key_pem(pem)
    assert loaded.public_bytes_raw() == signing_key.public_key().public_bytes_raw()


def test_keys_of_another_algorithm_are_refused() -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    private_pem = ec_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = ec_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(InvalidKeyError, match="must be Ed25519"):
        load_private_key_pem(private_pem)
    with pytest.raises(InvalidKeyError, match="expected an Ed25519 public key"):
        load_public_key_pem(public_pem)
    with pytest.raises(InvalidKeyError, match="cannot read"):
        load_public_key_pem(b"-----BEGIN PUBLIC KEY-----\nnonsense\n-----END PUBLIC KEY-----\n")


# --- partial verification -----------------------------------------------------------------


def test_only_the_entries_after_a_trusted_checkpoint_are_walked(
    chain: list[ChainedEntry], signing_key: Ed25519PrivateKey
) -> None:
    trusted = signed_checkpoint_at(chain, CHECKPOINT_AT, signing_key)
    result = verify_range_from_checkpoint(trusted, signing_key.public_key(), chain[CHECKPOINT_AT:])
    assert result.ok
    assert result.started_after == chain[CHECKPOINT_AT - 1].head
    assert result.entries_verified == CHAIN_LENGTH - CHECKPOINT_AT
    assert result.head == chain[-1].head


def test_an_edit_after_the_checkpoint_is_named(chain: list[ChainedEntry], signing_key: Ed25519PrivateKey) -> None:
    trusted = signed_checkpoint_at(chain, CHECKPOINT_AT, signing_key)
    stored = list(chain)
    edited = replace(chain[60].entry, outcome=Outcome.DENIED)
    stored[60] = ChainedEntry(edited, chain[60].content_hash, chain[60].link_hash)
    result = verify_range_from_checkpoint(trusted, signing_key.public_key(), stored[CHECKPOINT_AT:])
    assert result.first_mismatch is not None
    assert (result.first_mismatch.kind, result.first_mismatch.sequence) == (
        MismatchKind.CONTENT,
        61,
    )
    assert result.entries_verified == 61 - CHECKPOINT_AT - 1


def test_rows_that_do_not_start_right_after_the_checkpoint_are_named(
    chain: list[ChainedEntry], signing_key: Ed25519PrivateKey
) -> None:
    trusted = signed_checkpoint_at(chain, CHECKPOINT_AT, signing_key)
    result = verify_range_from_checkpoint(trusted, signing_key.public_key(), chain[CHECKPOINT_AT + 1 :])
    assert result.first_mismatch is not None
    assert result.first_mismatch.kind is MismatchKind.SEQUENCE
    assert result.first_mismatch.expected == str(CHECKPOINT_AT + 1)


def test_a_rewrite_between_two_checkpoints_is_named_at_the_later_one(
    chain: list[ChainedEntry], signing_key: Ed25519PrivateKey
) -> None:
    trusted = signed_checkpoint_at(chain, CHECKPOINT_AT, signing_key)
    later = signed_checkpoint_at(chain, LATER_CHECKPOINT_AT, signing_key)
    # Every hash recomputed after entry 50: consistent on its own, but not what was signed.
    rewritten = chain[:50] + chain_entries(
        chain[49].head, [replace(row.entry, action="secret.read") for row in chain[50:]]
    )
    assert verify_chain(rewritten).ok

    result = verify_range_from_checkpoint(trusted, signing_key.public_key(), rewritten[CHECKPOINT_AT:], until=later)
    assert result.first_mismatch is not None
    assert (result.first_mismatch.kind, result.first_mismatch.sequence) == (
        MismatchKind.HEAD,
        LATER_CHECKPOINT_AT,
    )
    assert result.first_mismatch.expected == later.checkpoint.head_link_hash


def test_a_log_truncated_below_a_later_checkpoint_is_named(
    chain: list[ChainedEntry], signing_key: Ed25519PrivateKey
) -> None:
    trusted = signed_checkpoint_at(chain, CHECKPOINT_AT, signing_key)
    later = signed_checkpoint_at(chain, LATER_CHECKPOINT_AT, signing_key)
    result = verify_range_from_checkpoint(trusted, signing_key.public_key(), chain[CHECKPOINT_AT:60], until=later)
    assert result.first_mismatch is not None
    assert result.first_mismatch.kind is MismatchKind.HEAD
    assert result.first_mismatch.found == "no entry (the chain ends at 60)"


def test_the_whole_log_is_held_to_what_a_checkpoint_once_said(
    chain: list[ChainedEntry], signing_key: Ed25519PrivateKey
) -> None:
    signed = signed_checkpoint_at(chain, LATER_CHECKPOINT_AT, signing_key)
    vouched = trusted_head(signed, signing_key.public_key())
    assert verify_chain(chain, GENESIS, expected_heads=[vouched]).ok


@pytest.mark.parametrize("which", ["trusted", "until"])
def test_partial_verification_refuses_a_checkpoint_whose_signature_fails(
    chain: list[ChainedEntry], signing_key: Ed25519PrivateKey, which: str
) -> None:
    trusted = signed_checkpoint_at(chain, CHECKPOINT_AT, signing_key)
    later = signed_checkpoint_at(chain, LATER_CHECKPOINT_AT, signing_key)
    forged_head = replace(chain[CHECKPOINT_AT - 1].head, link_hash="cd" * 32)
    if which == "trusted":
        trusted = replace(trusted, checkpoint=Checkpoint.of_head(forged_head, CREATED_AT))
    else:
        later = replace(later, signature=trusted.signature)
    with pytest.raises(UntrustedCheckpointError, match="does not verify with key"):
        verify_range_from_checkpoint(trusted, signing_key.public_key(), chain[CHECKPOINT_AT:], until=later)
