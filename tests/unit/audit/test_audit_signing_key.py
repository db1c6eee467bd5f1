"""Audit processes starting together (`K8SOPS_HTTP_WORKERS` workers) with no key file yet all end
up signing with the one key that was written, whole, under the file's name."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from k8sops_audit.domain.checkpoint import key_id
from k8sops_audit.signing import load_signing_key


def test_processes_creating_the_key_at_once_all_load_the_one_that_was_written(tmp_path: Path) -> None:
    path = tmp_path / "audit" / "signing-key.pem"
    starting = threading.Barrier(8)

    def start() -> Ed25519PrivateKey:
        starting.wait()
        return load_signing_key(path)

    for _ in range(5):
        path.unlink(missing_ok=True)
        with ThreadPoolExecutor(8) as pool:
            keys = list(pool.map(lambda _: start(), range(8)))
        assert {key_id(key.public_key()) for key in keys} == {key_id(load_signing_key(path).public_key())}
        assert [item.name for item in path.parent.iterdir()] == ["signing-key.pem"]
        assert path.stat().st_mode & 0o777 == 0o600
