"""The service's Ed25519 key: from a PEM file (created on first use), or ephemeral if none is set.

Every public key that ever signed a checkpoint is kept in `signing_keys`, so checkpoints signed
before a key rotation (or by an ephemeral key of an earlier run) stay verifiable.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from .domain.checkpoint import generate_signing_key, load_private_key_pem, private_key_to_pem

log = logging.getLogger(__name__)


class AuditSettings(BaseSettings):
    """Settings only the audit service reads (prefix K8SOPS_AUDIT_)."""

    model_config = SettingsConfigDict(env_prefix="K8SOPS_AUDIT_", extra="ignore")

    signing_key_file: Path | None = None
    checkpoint_interval_s: float = 60.0
    checkpoint_every_entries: int = Field(default=100, gt=0, description="sign after this many entries at the latest")
    checkpoint_file: Path | None = Field(
        default=None, description="JSON Lines copy of every signed checkpoint; defaults to next to the signing key"
    )

    @property
    def witness_file(self) -> Path | None:
        if self.checkpoint_file is not None:
            return self.checkpoint_file
        return self.signing_key_file.with_name("audit-checkpoints.jsonl") if self.signing_key_file else None


def load_signing_key(path: Path | None) -> Ed25519PrivateKey:
    if path is None:
        log.warning(
            "K8SOPS_AUDIT_SIGNING_KEY_FILE is not set: checkpoints are signed with an ephemeral key "
            "(its public key is still published)"
        )
        return generate_signing_key()
    if path.exists():
        return load_private_key_pem(path.read_bytes())
    path.parent.mkdir(parents=True, exist_ok=True)
    key = generate_signing_key()
    # Readable by this user only, written whole before it appears under its name: several audit
    # processes starting together each make one, the first to link it wins and the others load it.
    descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    draft = Path(name)
    try:
        with os.fdopen(descriptor, "wb") as key_file:
            key_file.write(private_key_to_pem(key))
        os.link(draft, path)
    except FileExistsError:
        return load_private_key_pem(path.read_bytes())
    finally:
        draft.unlink(missing_ok=True)
    log.info("created the audit signing key at %s", path)
    return key
