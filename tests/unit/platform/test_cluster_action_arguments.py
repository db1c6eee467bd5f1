"""`k8sops actions run` and `authorisations grant`: a target as operators type it, and whether an
authorisation can still be used."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from k8sops_platform.ops.client import CliError, Exit
from k8sops_platform.ops.cluster_actions import state_of, target_of

NOW = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("Node/n1", {"kind": "Node", "name": "n1"}),
        ("ns/legacy", {"kind": "Namespace", "name": "legacy"}),
        ("deploy/shop/web", {"kind": "Deployment", "namespace": "shop", "name": "web"}),
        ("PVC/shop/data", {"kind": "PersistentVolumeClaim", "namespace": "shop", "name": "data"}),
        ("statefulset/db/pg", {"kind": "StatefulSet", "namespace": "db", "name": "pg"}),
        ("Widget/x", {"kind": "Widget", "name": "x"}),  # the runner names the kinds it takes (422)
    ],
)
def test_a_target_is_kind_slash_name_with_kubectl_short_kinds(text: str, target: dict[str, str]) -> None:
    assert target_of(text) == target


@pytest.mark.parametrize("text", ["n1", "Node/", "/n1", "Deployment/shop/web/extra", "Pod//web"])
def test_anything_else_is_a_usage_error_naming_the_shape(text: str) -> None:
    with pytest.raises(CliError) as raised:
        target_of(text)
    assert raised.value.code == Exit.USAGE and "KIND/NAMESPACE/NAME" in str(raised.value)


def authorisation(expires_at: datetime, used_at: datetime | None = None) -> dict[str, Any]:
    used = {"used_at": used_at.isoformat(), "used_by": "oncall@provider.example"} if used_at else {}
    return {"expires_at": expires_at.isoformat().replace("+00:00", "Z"), "used_at": None, "used_by": None} | used


def test_an_authorisation_is_usable_until_used_or_expired() -> None:
    assert state_of(authorisation(NOW + timedelta(minutes=1)), NOW) == "usable"
    assert state_of(authorisation(NOW), NOW) == "expired"
    used = state_of(authorisation(NOW + timedelta(minutes=1), used_at=NOW), NOW)
    assert used == f"used by oncall@provider.example at {NOW.isoformat()}"
