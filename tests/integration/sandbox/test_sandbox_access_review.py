"""`kubectl auth can-i` answers against the sandbox (it answered NotFound), and reviews are not stored."""

from __future__ import annotations

from pathlib import Path

from k8sops_sandbox.server import Sandbox

from .conftest import kubectl


async def test_auth_can_i_answers_for_the_administrator(healthy: Sandbox, tmp_path: Path) -> None:
    store = healthy.cluster().store
    can = await kubectl(healthy, tmp_path, "auth", "can-i", "create", "pods", "-n", "shop")
    assert can.code == 0 and can.stdout.strip() == "yes", can.stderr
    listed = await kubectl(healthy, tmp_path, "auth", "can-i", "--list", "-n", "shop")
    assert listed.code == 0, listed.stderr
    assert "*.*" in listed.stdout and "[*]" in listed.stdout
    # Reviews are answered, never stored (the controller may still be starting pods, so no version check).
    assert store.count("authorization.k8s.io/selfsubjectaccessreviews") == 0
