"""The demo plays the secret store's agent: each demo cluster's credentials reference becomes the
file upgrade-runner reads, holding the token of the sandbox cluster it is."""

from __future__ import annotations

from pathlib import Path

from k8sops_platform.demo import write_demo_credentials


def test_each_demo_reference_holds_its_sandbox_clusters_token(tmp_path: Path) -> None:
    write_demo_credentials(tmp_path, {"acme-prod": "prod-token", "acme-staging": "staging-token"})
    prod = tmp_path / "vault" / "k8s" / "prod-dhaka-1" / "admin"
    assert prod.read_text() == "prod-token"
    assert prod.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "vault" / "k8s" / "staging-dhaka-1" / "admin").read_text() == "staging-token"


def test_a_sandbox_without_tokens_writes_nothing(tmp_path: Path) -> None:
    write_demo_credentials(tmp_path, {})
    assert not list(tmp_path.iterdir())
